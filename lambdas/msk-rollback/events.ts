/**
 * Shapes of the payloads the state machine passes to each function, validated at the edge of every
 * handler. The plan itself is produced by ValidateInput; here it is checked for the fields handlers use.
 */
import { z } from 'zod';
import type { RollbackPlan } from './input.ts';
import type { PollState } from './poll.ts';

const clusterRef = z.object({ arn: z.string(), name: z.string(), alias: z.string() });

/** A plan as ValidateInput returned it. */
export const PlanSchema = z
  .looseObject({
    name: z.string(),
    direction: z.enum(['forward', 'reverse']),
    source: clusterRef,
    target: clusterRef,
    topics: z.object({ include: z.array(z.string()), exclude: z.array(z.string()) }),
    groups: z.object({
      include: z.array(z.string()),
      exclude: z.array(z.string()),
      optional: z.array(z.string()).default([]),
    }),
    lagGate: z.object({ maxRecords: z.number(), holdMinutes: z.number(), drainMaxRecords: z.number() }),
    timeouts: z.object({ convergeMinutes: z.number(), approveMinutes: z.number(), drainMinutes: z.number() }),
    mm2: z.object({
      tasks: z.number(),
      cpu: z.number(),
      memoryMiB: z.number(),
      replicationFactor: z.number(),
    }),
    execution: z.object({ arn: z.string(), name: z.string(), startTime: z.string() }),
    stateMachineArn: z.string(),
    maxTaskRestarts: z.number(),
  })
  .transform((p) => p as unknown as RollbackPlan);

/** IAM bootstrap brokers of both clusters (from ResolveBootstrapBrokers). */
export const BrokersSchema = z.object({ source: z.string().min(1), target: z.string().min(1) });

/** ValidateInput's payload. */
export const ValidateInputEvent = z.object({
  input: z.unknown(),
  execution: z.object({ id: z.string(), name: z.string(), startTime: z.string() }),
  stateMachineArn: z.string(),
});

/** ValidateClusters' payload. */
export const ValidateClustersEvent = z.object({ plan: PlanSchema });

/** DiscoverTopics' and RenderConfig's payload. */
export const PlanWithBrokersEvent = z.object({ plan: PlanSchema, brokers: BrokersSchema });

const pollState = z
  .looseObject({
    phase: z.enum(['converge', 'drain']),
    restarts: z.number().int().min(0),
    polls: z.number().int().min(0),
    // Step Functions drops null values from Parameters: a missing time is the same as null.
    startedAt: z
      .string()
      .nullish()
      .transform((v) => v ?? null),
    deadline: z
      .string()
      .nullish()
      .transform((v) => v ?? null),
    underGateSince: z
      .string()
      .nullish()
      .transform((v) => v ?? null),
    baseline: z.record(z.string(), z.array(z.number().int())).default({}),
  })
  .transform((p) => p as unknown as PollState);

/** PollReplication's payload. */
export const PollEvent = z.object({
  plan: PlanSchema,
  brokers: BrokersSchema,
  taskArn: z.string().min(1),
  poll: pollState,
});

/** RequestApproval's payload (the task token comes from the context object). */
export const RequestApprovalEvent = z.object({ token: z.string().min(1), plan: PlanSchema, poll: pollState });

/** VerifyOffsets' payload. */
export const VerifyEvent = z.object({
  plan: PlanSchema,
  brokers: BrokersSchema,
  approval: z.unknown().optional(),
  stopped: z.object({ stopped: z.array(z.string()) }).optional(),
});

/** StopReplication's payload: from the state machine, or the EventBridge execution status change. */
export const StopEvent = z.union([
  z.object({ executionArn: z.string().min(1), reason: z.string().min(1) }),
  z.object({
    'detail-type': z.literal('Step Functions Execution Status Change'),
    detail: z.object({ executionArn: z.string().min(1), status: z.string() }),
  }),
]);
