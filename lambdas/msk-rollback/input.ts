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

/**
 * Memory (MiB) the ADOT collector sidecar reserves in the MM2 task (`memoryReservationMiB` of the collector
 * container in `lib/msk-rollback/mm2-task.ts`): the rest of the task's memory is the JVM's.
 */
export const SIDECAR_RESERVE_MIB = 256;

/** Memory (MiB) the JVM needs beside its heap (metaspace, thread stacks, direct buffers, the JMX agent). */
export const MIN_JVM_HEADROOM_MIB = 512;

/**
 * JVM heap (`-Xms`/`-Xmx`, via `KAFKA_HEAP_OPTS`) for a task size: 80% of what is left after the sidecar
 * and {@link MIN_JVM_HEADROOM_MIB}, and never below 512 MiB.
 */
export function heapMiB(memoryMiB: number): number {
  return Math.max(512, Math.floor((memoryMiB - SIDECAR_RESERVE_MIB - MIN_JVM_HEADROOM_MIB) * 0.8));
}

/** Memory (MiB) left to the JVM beside its heap in a task of this size. */
export function jvmHeadroomMiB(memoryMiB: number): number {
  return memoryMiB - SIDECAR_RESERVE_MIB - heapMiB(memoryMiB);
}

/**
 * Step Functions history events, as the workflow's states spend them (counted from the rendered ASL by
 * the workflow test: Wait, Pass and Choice states 2 events, Lambda and SDK tasks 5, the approval 6).
 */
export const HISTORY = {
  /** Step Functions fails a standard execution at this many events. */
  limit: 25_000,
  /**
   * The most a valid input may need on its longest path; the rest of the limit is left for retries of
   * transient errors (3 events each), which no input bounds.
   */
  budget: 20_000,
  /** One turn of the poll loop: WaitBeforePoll (2) + PollReplication (5) + PollDecision (2). */
  perPoll: 9,
  /** One task restart: RestartReplication (5) + CheckRestartReplication (2) + RecordRestartedTask (2). */
  perRestart: 9,
  /** Every other state once, on any path, with the execution's own start and end events: an upper bound. */
  fixed: 120,
} as const;

/** What an input may cost in history events in the worst case. */
export interface HistoryEstimate {
  /** Polls at most: converge and drain phases each poll until their deadline. */
  readonly polls: number;
  readonly worstCaseEvents: number;
  readonly budget: number;
}

/**
 * The worst-case history of an input: every phase polls until its deadline (a poll is always preceded by
 * a wait of `pollIntervalSeconds`, so time bounds the polls) and every allowed restart happens.
 */
export function historyEstimate(input: {
  readonly timeouts: { readonly convergeMinutes: number; readonly drainMinutes: number };
  readonly pollIntervalSeconds: number;
  readonly maxTaskRestarts: number;
}): HistoryEstimate {
  const phasePolls = (minutes: number) => Math.floor((minutes * 60) / input.pollIntervalSeconds) + 1;
  const polls = phasePolls(input.timeouts.convergeMinutes) + phasePolls(input.timeouts.drainMinutes);
  return {
    polls,
    worstCaseEvents: HISTORY.fixed + HISTORY.perPoll * polls + HISTORY.perRestart * input.maxTaskRestarts,
    budget: HISTORY.budget,
  };
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
      groups: filter('consumer group')
        .extend({
          /**
           * Selected groups that may end the rollback untranslated (absent, idle, or not moving) without
           * failing it: full-match regular expressions. Every other selected group must be translated.
           */
          optional: z.array(pattern).default([]),
        })
        .default({ include: ['.*'], exclude: [], optional: [] }),
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
      /**
       * Validate, check the clusters, discover topics and groups and render the config, then end with the
       * plan as the output, without starting replication.
       */
      dryRun: z.boolean().default(false),
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
      } else if (jvmHeadroomMiB(input.mm2.memoryMiB) < MIN_JVM_HEADROOM_MIB) {
        const fits = Object.entries(FARGATE_MEMORY_BY_CPU)
          .flatMap(([cpu, ms]) =>
            ms.filter((m) => jvmHeadroomMiB(m) >= MIN_JVM_HEADROOM_MIB).map((m) => [cpu, m]),
          )
          .find(([cpu]) => Number(cpu) >= input.mm2.cpu);
        ctx.addIssue({
          code: 'custom',
          path: ['mm2', 'memoryMiB'],
          message: `memory ${input.mm2.memoryMiB} MiB leaves the MM2 JVM ${jvmHeadroomMiB(input.mm2.memoryMiB)} MiB beside its ${heapMiB(input.mm2.memoryMiB)} MiB heap and the ${SIDECAR_RESERVE_MIB} MiB collector, under the ${MIN_JVM_HEADROOM_MIB} MiB it needs: use a larger task${fits ? ` (at least cpu ${fits[0]} with ${fits[1]} MiB)` : ''}`,
        });
      }
      const history = historyEstimate(input);
      if (history.worstCaseEvents > history.budget) {
        const perPhase =
          (HISTORY.budget - HISTORY.fixed - HISTORY.perRestart * input.maxTaskRestarts) / HISTORY.perPoll;
        const drainPolls = Math.floor((input.timeouts.drainMinutes * 60) / input.pollIntervalSeconds) + 1;
        const maxConverge = Math.floor(((perPhase - drainPolls - 1) * input.pollIntervalSeconds) / 60);
        ctx.addIssue({
          code: 'custom',
          path: ['timeouts', 'convergeMinutes'],
          message: `timeouts.convergeMinutes ${input.timeouts.convergeMinutes} and timeouts.drainMinutes ${input.timeouts.drainMinutes} at pollIntervalSeconds ${input.pollIntervalSeconds} allow ${history.polls} polls, ${history.worstCaseEvents} execution history events in the worst case, over the budget of ${history.budget} (Step Functions fails an execution at ${HISTORY.limit}): lower the timeouts or raise pollIntervalSeconds${maxConverge >= 5 ? ` (at these settings convergeMinutes up to ${maxConverge} fits)` : ''}`,
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
  /** The input's worst-case execution history against the budget. */
  readonly historyBudget: { readonly worstCaseEvents: number; readonly budget: number };
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
      historyBudget: (({ worstCaseEvents, budget }) => ({ worstCaseEvents, budget }))(historyEstimate(rest)),
    },
  };
}

export { formatPath } from '#contracts/issues';
