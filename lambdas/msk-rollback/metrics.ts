/**
 * Samples the replication loop pushes to AMP on every poll, one series set per execution.
 *
 * Common labels (also set as external labels on the MM2 task's own metrics by the ADOT sidecar, so the
 * two join): `execution` (Step Functions execution name), `rollback` (input name), `source_cluster`,
 * `target_cluster`, `direction`.
 */
import type { Sample } from '#shared/remote-write';
import type { RollbackPlan } from './input.ts';
import type { PartitionLag } from './lag.ts';
import type { PollState } from './poll.ts';

/** Metric names, for rules, dashboards and tests. */
export const METRIC = {
  lagRecords: 'msk_rollback_lag_records',
  lagRecordsTotal: 'msk_rollback_lag_records_total',
  partitionsBehind: 'msk_rollback_partitions_behind',
  gateRecords: 'msk_rollback_lag_gate_records',
  gateOpenSeconds: 'msk_rollback_gate_open_seconds',
  taskUp: 'msk_rollback_task_up',
  taskRestarts: 'msk_rollback_task_restarts_total',
  phase: 'msk_rollback_phase',
  /** Records still to copy (the baseline-aware lag, all partitions together). */
  remainingRecords: 'msk_rollback_remaining_records',
  /** Seconds until nothing is left to copy at the drain rate measured between the last two polls. */
  etaSeconds: 'msk_rollback_eta_seconds',
} as const;

/**
 * Seconds until the lag reaches zero at the rate it fell since the previous poll: 0 when nothing is left,
 * undefined when it is not falling (or there is no previous measurement to compare with).
 * @param remaining records left now
 * @param nowMs time of this poll
 * @param previous the previous poll's lag and time, when there was one
 */
export function etaSeconds(
  remaining: number,
  nowMs: number,
  previous: { records: number; atMs: number } | undefined,
): number | undefined {
  if (remaining === 0) return 0;
  if (!previous || nowMs <= previous.atMs) return undefined;
  const perSecond = (previous.records - remaining) / ((nowMs - previous.atMs) / 1000);
  return perSecond > 0 ? Math.ceil(remaining / perSecond) : undefined;
}

/** The labels every sample of an execution carries. */
export function executionLabels(
  plan: Pick<RollbackPlan, 'name' | 'direction' | 'source' | 'target' | 'execution'>,
): Record<string, string> {
  return {
    execution: plan.execution.name,
    rollback: plan.name,
    source_cluster: plan.source.name,
    target_cluster: plan.target.name,
    direction: plan.direction,
  };
}

/**
 * Samples of one poll.
 * @param plan the rollback
 * @param poll the state after the poll's decision
 * @param lags per-partition lag, or null when the task was not alive (lag not measured)
 * @param timestampMs time of the poll
 * @param previous the state the poll started from (its lag and time give the drain rate)
 */
export function pollSamples(
  plan: Pick<RollbackPlan, 'name' | 'direction' | 'source' | 'target' | 'execution' | 'lagGate'>,
  poll: PollState,
  lags: readonly PartitionLag[] | null,
  timestampMs: number,
  previous?: Pick<PollState, 'lag' | 'polledAt'>,
): Sample[] {
  const labels = executionLabels(plan);
  const s = (name: string, value: number, extra: Record<string, string> = {}): Sample => ({
    name,
    labels: { ...labels, ...extra },
    value,
    timestampMs,
  });
  const samples: Sample[] = [
    s(METRIC.taskUp, poll.task?.alive ? 1 : 0),
    s(METRIC.taskRestarts, poll.restarts),
    s(METRIC.phase, 1, { phase: poll.phase }),
    s(METRIC.gateRecords, poll.phase === 'converge' ? plan.lagGate.maxRecords : plan.lagGate.drainMaxRecords),
    s(
      METRIC.gateOpenSeconds,
      poll.underGateSince
        ? Math.max(0, Math.floor((timestampMs - Date.parse(poll.underGateSince)) / 1000))
        : 0,
    ),
  ];
  if (lags) {
    const remaining = lags.reduce((t, l) => t + l.lag, 0);
    const eta = etaSeconds(
      remaining,
      timestampMs,
      previous?.lag && previous.polledAt
        ? { records: previous.lag.totalRecords, atMs: Date.parse(previous.polledAt) }
        : undefined,
    );
    samples.push(
      s(METRIC.lagRecordsTotal, remaining),
      s(METRIC.remainingRecords, remaining),
      ...(eta === undefined ? [] : [s(METRIC.etaSeconds, eta)]),
      s(METRIC.partitionsBehind, lags.filter((l) => l.lag > 0).length),
      ...lags.map((l) => s(METRIC.lagRecords, l.lag, { topic: l.topic, partition: String(l.partition) })),
    );
  }
  return samples;
}
