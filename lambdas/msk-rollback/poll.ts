/**
 * One turn of the replication loop: given the MM2 task's health and the current lag, decide what the
 * workflow does next. Pure; the state it returns is carried in the execution between turns.
 *
 * Converge phase: the gate opens when the total lag is at or below `lagGate.maxRecords`; it must stay open
 * (every poll) for `lagGate.holdMinutes`, then approval is requested. A poll above the gate closes it again.
 * Drain phase (after approval): done when the lag is at or below `lagGate.drainMaxRecords`.
 * Either phase fails with `timed_out` at its deadline. A stopped task is restarted at most
 * `maxTaskRestarts` times over the whole execution, then the rollback gives up.
 */
import type { RollbackPlan } from './input.ts';
import type { Baseline, LagSummary } from './lag.ts';

/** What the workflow does after a poll. */
export type PollAction = 'wait' | 'restart' | 'converged' | 'drained' | 'timed_out' | 'give_up';

/** The loop's state, carried in the execution as `$.poll`. */
export interface PollState {
  readonly phase: 'converge' | 'drain';
  readonly restarts: number;
  readonly polls: number;
  /** ISO time of the phase's first poll. */
  readonly startedAt: string | null;
  /** ISO time at which the phase times out. */
  readonly deadline: string | null;
  /** ISO time since which every poll saw the gate open. */
  readonly underGateSince: string | null;
  /** Where MM2 starts each partition ({@link Baseline}), carried from DiscoverTopics through every poll. */
  readonly baseline: Baseline;
  /** ISO time of this poll (the previous poll's, as input): the drain rate is measured between two. */
  readonly polledAt?: string;
  readonly action?: PollAction;
  /** Why, in words, for the console and the notification. */
  readonly reason?: string;
  readonly lag?: LagSummary | null;
  readonly task?: TaskHealth;
}

/** Health of the MM2 task as ECS reports it. */
export interface TaskHealth {
  readonly alive: boolean;
  /** ECS lastStatus, or MISSING when ECS no longer knows the task. */
  readonly lastStatus: string;
  readonly stoppedReason?: string;
}

/** ECS statuses of a task that is starting or running. */
const ALIVE = new Set(['PROVISIONING', 'PENDING', 'ACTIVATING', 'RUNNING']);

/**
 * Maps an ECS task (or its absence) to health.
 * @param task `lastStatus`, `stoppedReason` and containers' exit codes of DescribeTasks, or undefined
 */
export function taskHealth(
  task: { lastStatus?: string; desiredStatus?: string; stoppedReason?: string } | undefined,
): TaskHealth {
  if (!task?.lastStatus)
    return { alive: false, lastStatus: 'MISSING', stoppedReason: 'ecs no longer reports the task' };
  const alive = ALIVE.has(task.lastStatus) && task.desiredStatus !== 'STOPPED';
  return alive
    ? { alive, lastStatus: task.lastStatus }
    : { alive, lastStatus: task.lastStatus, stoppedReason: task.stoppedReason ?? 'stopping' };
}

/** The state a phase starts from. */
export function initialPollState(
  phase: PollState['phase'],
  restarts = 0,
  baseline: Baseline = {},
): PollState {
  return { phase, restarts, polls: 0, startedAt: null, deadline: null, underGateSince: null, baseline };
}

/**
 * Decides the next step.
 * @param plan gate, timeouts and restart budget
 * @param state the state of the previous turn
 * @param task the task's health now
 * @param lag the lag now (null when the task is not alive: not measured)
 * @param now the time of this poll
 */
export function decidePoll(
  plan: Pick<RollbackPlan, 'lagGate' | 'timeouts' | 'maxTaskRestarts'>,
  state: PollState,
  task: TaskHealth,
  lag: LagSummary | null,
  now: Date,
): PollState {
  const startedAt = state.startedAt ?? now.toISOString();
  const minutes = state.phase === 'converge' ? plan.timeouts.convergeMinutes : plan.timeouts.drainMinutes;
  const deadline = state.deadline ?? new Date(Date.parse(startedAt) + minutes * 60_000).toISOString();
  const base = {
    ...state,
    startedAt,
    deadline,
    polls: state.polls + 1,
    lag,
    task,
    polledAt: now.toISOString(),
  };
  const pastDeadline = now.getTime() >= Date.parse(deadline);
  const phaseName = state.phase === 'converge' ? 'converge' : 'drain';

  if (!task.alive) {
    const why = `mm2 task ${task.lastStatus.toLowerCase()}: ${task.stoppedReason ?? 'no reason given'}`;
    if (pastDeadline) {
      return {
        ...base,
        underGateSince: null,
        action: 'timed_out',
        reason: `${why}; ${phaseName} deadline ${deadline} passed`,
      };
    }
    if (state.restarts >= plan.maxTaskRestarts) {
      return {
        ...base,
        underGateSince: null,
        action: 'give_up',
        reason: `${why}; already restarted ${state.restarts} of ${plan.maxTaskRestarts} times`,
      };
    }
    return {
      ...base,
      restarts: state.restarts + 1,
      underGateSince: null,
      action: 'restart',
      reason: `${why}; restart ${state.restarts + 1} of ${plan.maxTaskRestarts}`,
    };
  }
  if (lag === null) throw new Error('lag must be measured while the task is alive');

  if (state.phase === 'drain') {
    if (lag.totalRecords <= plan.lagGate.drainMaxRecords) {
      return {
        ...base,
        action: 'drained',
        reason: `lag ${lag.totalRecords} records, at or below ${plan.lagGate.drainMaxRecords}`,
      };
    }
    if (pastDeadline) {
      return {
        ...base,
        action: 'timed_out',
        reason: `lag ${lag.totalRecords} records did not drain to ${plan.lagGate.drainMaxRecords} within ${minutes} minutes of approval; are producers still writing to the source?`,
      };
    }
    return { ...base, action: 'wait', reason: `draining: ${lag.totalRecords} records behind` };
  }

  const open = lag.totalRecords <= plan.lagGate.maxRecords;
  const underGateSince = open ? (state.underGateSince ?? now.toISOString()) : null;
  const heldMinutes = underGateSince ? (now.getTime() - Date.parse(underGateSince)) / 60_000 : 0;
  if (open && heldMinutes >= plan.lagGate.holdMinutes) {
    return {
      ...base,
      underGateSince,
      action: 'converged',
      reason: `lag ${lag.totalRecords} records, at or below ${plan.lagGate.maxRecords} for ${Math.floor(heldMinutes)} minutes`,
    };
  }
  if (pastDeadline) {
    return {
      ...base,
      underGateSince,
      action: 'timed_out',
      reason: open
        ? `gate open for only ${Math.floor(heldMinutes)} of ${plan.lagGate.holdMinutes} minutes when the ${minutes}-minute converge timeout passed`
        : `lag ${lag.totalRecords} records still above ${plan.lagGate.maxRecords} after ${minutes} minutes`,
    };
  }
  return {
    ...base,
    underGateSince,
    action: 'wait',
    reason: open
      ? `gate open for ${Math.floor(heldMinutes)} of ${plan.lagGate.holdMinutes} minutes`
      : `lag ${lag.totalRecords} records above ${plan.lagGate.maxRecords}`,
  };
}
