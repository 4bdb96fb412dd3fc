import { describe, expect, it } from 'vitest';
import { computeLag } from '../../lambdas/msk-rollback/lag.ts';
import { etaSeconds, METRIC, pollSamples } from '../../lambdas/msk-rollback/metrics.ts';
import { initialPollState, type PollState } from '../../lambdas/msk-rollback/poll.ts';
import { planOf } from './plans.ts';

const t0 = Date.parse('2026-03-02T09:00:00Z');
const plan = planOf();
const labels = {
  execution: 'orders-to-v3-run-1',
  rollback: 'orders-to-v3',
  source_cluster: 'orders-v2',
  target_cluster: 'orders-v3',
  direction: 'forward',
};
const lagsOf = (ends: number[]) =>
  computeLag(
    ends.map((end, partition) => ({ topic: 'orders', partition, start: 0, end })),
    new Map(),
    { orders: ends.map(() => 0) },
  );
const polled = (records: number, atMs: number): Pick<PollState, 'lag' | 'polledAt'> => ({
  lag: {
    totalRecords: records,
    maxPartitionRecords: records,
    partitions: 1,
    partitionsBehind: 1,
    partitionsNotStarted: 0,
    topics: 1,
    worst: [],
  },
  polledAt: new Date(atMs).toISOString(),
});

describe('progress series', () => {
  it('estimates the time left from the drain rate between two polls', () => {
    // 6,000 records fewer in 60 s: 100 records/s, 3,000 left.
    expect(etaSeconds(3000, t0 + 60_000, { records: 9000, atMs: t0 })).toBe(30);
    expect(etaSeconds(0, t0 + 60_000, { records: 0, atMs: t0 })).toBe(0);
    // Not draining (growing or flat) or nothing to compare with: no estimate.
    expect(etaSeconds(3000, t0 + 60_000, { records: 2000, atMs: t0 })).toBeUndefined();
    expect(etaSeconds(3000, t0 + 60_000, { records: 3000, atMs: t0 })).toBeUndefined();
    expect(etaSeconds(3000, t0 + 60_000, undefined)).toBeUndefined();
  });

  it('writes remaining records and the ETA with the execution labels', () => {
    const poll: PollState = { ...initialPollState('converge'), task: { alive: true, lastStatus: 'RUNNING' } };
    const samples = pollSamples(plan, poll, lagsOf([2000, 1000]), t0 + 60_000, polled(9000, t0));
    expect(samples.filter((s) => s.name === METRIC.remainingRecords)).toEqual([
      { name: 'msk_rollback_remaining_records', labels, value: 3000, timestampMs: t0 + 60_000 },
    ]);
    expect(samples.filter((s) => s.name === METRIC.etaSeconds)).toEqual([
      { name: 'msk_rollback_eta_seconds', labels, value: 30, timestampMs: t0 + 60_000 },
    ]);
  });

  it('omits the ETA while the lag grows, and both series when the lag was not measured', () => {
    const poll: PollState = { ...initialPollState('converge'), task: { alive: true, lastStatus: 'RUNNING' } };
    const growing = pollSamples(plan, poll, lagsOf([5000]), t0 + 60_000, polled(4000, t0));
    expect(growing.map((s) => s.name)).toContain(METRIC.remainingRecords);
    expect(growing.map((s) => s.name)).not.toContain(METRIC.etaSeconds);
    const dead = pollSamples(
      plan,
      { ...poll, task: { alive: false, lastStatus: 'STOPPED' } },
      null,
      t0,
      polled(4000, t0 - 60_000),
    );
    expect(dead.map((s) => s.name)).not.toContain(METRIC.remainingRecords);
    expect(dead.map((s) => s.name)).not.toContain(METRIC.etaSeconds);
  });
});
