/**
 * The execution input of an MSK rollback: what a business team writes in the Step Functions console.
 *
 * `parseRollbackInput` validates it with zod against the deployment's defaults and allowed clusters and
 * returns the normalized plan every later state works from, or every problem found (never just the first).
 */
import { z } from 'zod';
import { describeIssues } from '#contracts/issues';

/** Workflow defaults from the deployment config (`mskRollback.defaults`). */
export interface RollbackDefaults {
  readonly maxLagRecords: number;
  readonly holdMinutes: number;
  readonly convergeTimeoutMinutes: number;
  readonly approvalTimeoutMinutes: number;
  readonly tasks: number;
  readonly cpu: number;
  readonly memoryMiB: number;
}

/** The defaults of `mskRollback.defaults` in the config schema, for tools that run without a config. */
export const BUILT_IN_DEFAULTS: RollbackDefaults = {
  maxLagRecords: 1000,
  holdMinutes: 10,
  convergeTimeoutMinutes: 360,
  approvalTimeoutMinutes: 1440,
  tasks: 1,
  cpu: 1024,
  memoryMiB: 4096,
};

/** A cluster a rollback may use (`mskRollback.clusters`). */
export interface AllowedCluster {
  readonly name: string;
  readonly arn: string;
}

/** Memory (MiB) Fargate accepts for each task CPU value. */
export const FARGATE_MEMORY_BY_CPU: Readonly<Record<number, readonly number[]>> = {
  256: [512, 1024, 2048],
  512: range(1024, 4096, 1024),
  1024: range(2048, 8192, 1024),
  2048: range(4096, 16384, 1024),
  4096: range(8192, 30720, 1024),
  8192: range(16384, 61440, 4096),
  16384: range(32768, 122880, 8192),
};

function range(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  return out;
}

const CLUSTER_ARN = /^arn:aws[a-z-]*:kafka:[a-z0-9-]+:\d{12}:cluster\/[A-Za-z0-9-]+\/[0-9a-f-]+$/;

/**
 * A Java regular expression as MM2 reads it from a comma-separated list: no commas, and it must also
 * compile as a JavaScript RegExp (the Lambdas match topic names with it; the common subset is identical).
 */
const pattern = z
  .string()
  .min(1, 'expected a non-empty regular expression')
  .superRefine((p, ctx) => {
    if (p.includes(',')) {
      ctx.addIssue({
        code: 'custom',
        message: `pattern "${p}" contains a comma: MM2 splits topic and group lists on commas, use alternation (a|b) or several patterns`,
      });
      return;
    }
    try {
      new RegExp(`^(?:${p})$`);
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        message: `pattern "${p}" is not a valid regular expression: ${(err as Error).message}`,
      });
    }
  });

const filter = (what: string) =>
  z.strictObject({
    /** Names to replicate: full-match regular expressions, any of which selects a name. */
    include: z.array(pattern).min(1, `expected at least one ${what} include pattern`),
    /** Names never replicated, even when included. */
    exclude: z.array(pattern).default([]),
  });

/** Builds the execution input schema with the deployment's defaults. */
export function rollbackInputSchema(defaults: RollbackDefaults = BUILT_IN_DEFAULTS) {
  return z
    .strictObject({
      /** Short name of this move, used in labels, tags and the config object key. */
      name: z
        .string()
        .regex(
          /^[a-z0-9][a-z0-9-]{0,39}$/,
          'expected 1-40 lowercase letters, digits or "-", starting with a letter or digit',
        ),
      /**
       * `forward` moves a pipeline to a new cluster (replicates the retained history);
       * `reverse` moves it back (starts at the source's end so history is not replayed into the old cluster).
       */
      direction: z.enum(['forward', 'reverse']).default('forward'),
      sourceClusterArn: z
        .string()
        .regex(CLUSTER_ARN, 'expected an MSK cluster ARN (arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID)'),
      targetClusterArn: z
        .string()
        .regex(CLUSTER_ARN, 'expected an MSK cluster ARN (arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID)'),
      topics: filter('topic'),
      groups: filter('consumer group').default({ include: ['.*'], exclude: [] }),
      lagGate: z
        .strictObject({
          /** Records behind (all partitions together) at or below which the gate is open. */
          maxRecords: z.number().int().min(0).default(defaults.maxLagRecords),
          /** Minutes the lag must stay at or below `maxRecords` before approval is requested. */
          holdMinutes: z.number().int().min(1).max(1440).default(defaults.holdMinutes),
          /** Records behind at or below which, after approval, replication counts as drained. */
          drainMaxRecords: z.number().int().min(0).default(0),
        })
        .default({
          maxRecords: defaults.maxLagRecords,
          holdMinutes: defaults.holdMinutes,
          drainMaxRecords: 0,
        }),
      timeouts: z
        .strictObject({
          /** Minutes from the start of replication for the gate to hold; then the rollback fails. */
          convergeMinutes: z.number().int().min(5).max(10080).default(defaults.convergeTimeoutMinutes),
          /** Minutes to wait for an approve or reject decision. */
          approveMinutes: z.number().int().min(5).max(10080).default(defaults.approvalTimeoutMinutes),
          /** Minutes after approval for the lag to drain to `lagGate.drainMaxRecords`. */
          drainMinutes: z.number().int().min(1).max(720).default(30),
        })
        .default({
          convergeMinutes: defaults.convergeTimeoutMinutes,
          approveMinutes: defaults.approvalTimeoutMinutes,
          drainMinutes: 30,
        }),
      mm2: z
        .strictObject({
          /** MM2 `tasks.max`: parallel replication tasks inside the one MM2 worker. */
          tasks: z.number().int().min(1).max(64).default(defaults.tasks),
          /** Fargate task CPU units. */
          cpu: z.number().int().default(defaults.cpu),
          /** Fargate task memory (MiB). */
          memoryMiB: z.number().int().default(defaults.memoryMiB),
          /** Replication factor of topics MM2 creates on the target (remote and internal topics). */
          replicationFactor: z.number().int().min(1).max(5).default(3),
        })
        .default({
          tasks: defaults.tasks,
          cpu: defaults.cpu,
          memoryMiB: defaults.memoryMiB,
          replicationFactor: 3,
        }),
      /** Seconds between two checks of the task and the lag. */
      pollIntervalSeconds: z.number().int().min(10).max(900).default(60),
      /** Times a stopped MM2 task is started again before the rollback fails. */
      maxTaskRestarts: z.number().int().min(0).max(10).default(3),
    })
    .superRefine((input, ctx) => {
      if (input.sourceClusterArn === input.targetClusterArn) {
        ctx.addIssue({
          code: 'custom',
          path: ['targetClusterArn'],
          message: 'source and target are the same cluster',
        });
      }
      const memories = FARGATE_MEMORY_BY_CPU[input.mm2.cpu];
      if (!memories) {
        ctx.addIssue({
          code: 'custom',
          path: ['mm2', 'cpu'],
          message: `cpu ${input.mm2.cpu} is not a Fargate size (${Object.keys(FARGATE_MEMORY_BY_CPU).join(', ')})`,
        });
      } else if (!memories.includes(input.mm2.memoryMiB)) {
        ctx.addIssue({
          code: 'custom',
          path: ['mm2', 'memoryMiB'],
          message: `memory ${input.mm2.memoryMiB} MiB does not fit cpu ${input.mm2.cpu} (Fargate allows ${memories[0]}-${memories.at(-1)} MiB)`,
        });
      }
    });
}

/** The execution input after validation and defaults. */
export type RollbackInput = z.infer<ReturnType<typeof rollbackInputSchema>>;

/** One side of a flow, resolved against the allowed clusters. */
export interface ClusterRef {
  readonly arn: string;
  /** Name from the config (`mskRollback.clusters[].name`). */
  readonly name: string;
  /** MM2 cluster alias: the name with characters MM2 property keys cannot carry replaced by `_`. */
  readonly alias: string;
}

/** The normalized plan every state after the first works from. */
export interface RollbackPlan extends Omit<RollbackInput, 'sourceClusterArn' | 'targetClusterArn'> {
  readonly source: ClusterRef;
  readonly target: ClusterRef;
  readonly execution: { readonly arn: string; readonly name: string; readonly startTime: string };
  readonly stateMachineArn: string;
  /** `timeouts.approveMinutes` in seconds, for the approval state's `TimeoutSecondsPath`. */
  readonly approvalTimeoutSeconds: number;
  /** Seconds to wait after the lag drained so MM2 emits a last checkpoint and group offset sync. */
  readonly offsetSyncWaitSeconds: number;
}

/** Interval of MM2 checkpoints and consumer-group offset syncs set in the rendered config. */
export const OFFSET_SYNC_INTERVAL_SECONDS = 10;

/** Result of {@link parseRollbackInput}. */
export type ParseResult = { ok: true; plan: RollbackPlan } | { ok: false; problems: string[] };

/** Where the execution runs, from the Step Functions context object. */
export interface ExecutionContext {
  readonly executionArn: string;
  readonly executionName: string;
  readonly startTime: string;
  readonly stateMachineArn: string;
}

/**
 * Validates an execution input and resolves it into a plan.
 * @param raw the execution input as the console passed it
 * @param opts defaults, allowed clusters and the execution it runs in
 * @returns the plan, or every problem as `path: message`
 */
export function parseRollbackInput(
  raw: unknown,
  opts: { defaults?: RollbackDefaults; clusters: readonly AllowedCluster[]; execution: ExecutionContext },
): ParseResult {
  const parsed = rollbackInputSchema(opts.defaults).safeParse(raw);
  const problems = parsed.success ? [] : describeIssues(parsed.error.issues, raw);
  const byArn = new Map(opts.clusters.map((c) => [c.arn, c]));
  const allowed = opts.clusters.map((c) => c.name).join(', ');
  if (parsed.success) {
    for (const key of ['sourceClusterArn', 'targetClusterArn'] as const) {
      if (!byArn.has(parsed.data[key])) {
        problems.push(
          `${key}: "${parsed.data[key]}" is not one of the clusters this deployment may use (${allowed})`,
        );
      }
    }
  }
  if (!parsed.success || problems.length > 0) return { ok: false, problems };
  const { sourceClusterArn, targetClusterArn, ...rest } = parsed.data;
  const ref = (arn: string): ClusterRef => {
    const c = byArn.get(arn)!;
    return { arn, name: c.name, alias: c.name.replace(/[^A-Za-z0-9_-]/g, '_') };
  };
  return {
    ok: true,
    plan: {
      ...rest,
      source: ref(sourceClusterArn),
      target: ref(targetClusterArn),
      execution: {
        arn: opts.execution.executionArn,
        name: opts.execution.executionName,
        startTime: opts.execution.startTime,
      },
      stateMachineArn: opts.execution.stateMachineArn,
      approvalTimeoutSeconds: rest.timeouts.approveMinutes * 60,
      offsetSyncWaitSeconds: 3 * OFFSET_SYNC_INTERVAL_SECONDS,
    },
  };
}

export { formatPath } from '#contracts/issues';
