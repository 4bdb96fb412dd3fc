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
} as const;

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
 */
export function pollSamples(
  plan: Pick<RollbackPlan, 'name' | 'direction' | 'source' | 'target' | 'execution' | 'lagGate'>,
  poll: PollState,
  lags: readonly PartitionLag[] | null,
  timestampMs: number,
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
    samples.push(
      s(
        METRIC.lagRecordsTotal,
        lags.reduce((t, l) => t + l.lag, 0),
      ),
      s(METRIC.partitionsBehind, lags.filter((l) => l.lag > 0).length),
      ...lags.map((l) => s(METRIC.lagRecords, l.lag, { topic: l.topic, partition: String(l.partition) })),
    );
  }
  return samples;
}
