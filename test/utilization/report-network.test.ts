/**
 * EC2 network bytes per day under basic (5-minute) and detailed (1-minute) monitoring, end to end:
 * the collector's own queries -> CloudWatch's aggregation of the samples (faked here, by the rules
 * CloudWatch applies to a statistic over a period) -> rows -> real PostgreSQL -> the report.
 */
import type { MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildQueries, type CollectionWindow, type SeriesData } from '#utilization/cloudwatch';
import type { DiscoveredResource } from '#utilization/discovery';
import { buildBatch, toMetricRows } from '#utilization/normalize';
import { findUnderused } from '#utilization/report';
import type { Shard } from '#utilization/rows';
import { storeBatch } from '#utilization/store';
import { UnderUsePolicySchema } from '../../lib/config/schema.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';

const shard: Shard = { accountId: '111122223333', region: 'eu-west-1', service: 'ec2' };
const AS_OF = new Date('2025-03-02T00:00:00Z');
const DAY_MS = 86_400_000;
const MiB = 1024 ** 2;
/** Real traffic of every instance: 1 MiB in and 0.5 MiB out per minute, 2,160 MiB a day. */
const IN_PER_MINUTE = MiB;
const OUT_PER_MINUTE = MiB / 2;
const TRUE_BYTES_PER_DAY = (IN_PER_MINUTE + OUT_PER_MINUTE) * 1440;

type Monitoring = 'basic' | 'detailed';
const SAMPLE_SECONDS: Record<Monitoring, number> = { basic: 300, detailed: 60 };

function instance(id: string): DiscoveredResource {
  return {
    resource: {
      resourceArn: `arn:aws:ec2:${shard.region}:${shard.accountId}:instance/${id}`,
      accountId: shard.accountId,
      region: shard.region,
      service: 'ec2',
      resourceType: 'instance',
      name: id,
      state: 'running',
      tags: {},
      capacity: { vcpu: 2 },
      attributes: { instanceType: 'm5.large', platform: 'Linux/UNIX', tenancy: 'default' },
      hasAgentMetrics: false,
      observedAt: new Date(AS_OF.getTime() - 10 * 60_000).toISOString(),
    },
    target: { service: 'ec2', instanceId: id },
  };
}

/**
 * What GetMetricData answers for one MetricStat query: the instance publishes one sample per
 * monitoring interval (bytes moved in that interval, CPU at 2 %), and CloudWatch aggregates the samples
 * of each period with the requested statistic; a period without a sample has no datapoint.
 */
function answer(query: MetricDataQuery, window: CollectionWindow, monitoring: Monitoring): SeriesData {
  const stat = query.MetricStat!;
  const metric = stat.Metric!.MetricName!;
  const sampleMs = SAMPLE_SECONDS[monitoring] * 1000;
  const periodMs = stat.Period! * 1000;
  const perSample = (minutes: number) =>
    metric === 'NetworkIn' ? IN_PER_MINUTE * minutes : metric === 'NetworkOut' ? OUT_PER_MINUTE * minutes : 2;
  const byPeriod = new Map<number, number[]>();
  for (let t = window.start.getTime(); t < window.end.getTime(); t += sampleMs) {
    const p = Math.floor(t / periodMs) * periodMs;
    byPeriod.set(p, [...(byPeriod.get(p) ?? []), perSample(sampleMs / 60_000)]);
  }
  const reduce: Record<string, (v: number[]) => number> = {
    Sum: (v) => v.reduce((a, b) => a + b, 0),
    Average: (v) => v.reduce((a, b) => a + b, 0) / v.length,
    Maximum: (v) => Math.max(...v),
  };
  const periods = [...byPeriod.keys()].sort((a, b) => a - b);
  return {
    timestamps: periods.map((p) => new Date(p)),
    values: periods.map((p) => reduce[stat.Stat!]!(byPeriod.get(p)!)),
    status: 'Complete',
  };
}

/** Collects two days of one instance as the collector would, and stores the batch. */
async function collectAndStore(pg: TestDatabase, id: string, monitoring: Monitoring, periodSeconds: number) {
  const window = { start: new Date(AS_OF.getTime() - 2 * DAY_MS), end: AS_OF, periodSeconds };
  const { units } = buildQueries([instance(id)], window);
  const series = new Map(units.map((u) => [u.ref.id, answer(u.queries[0]!, window, monitoring)] as const));
  const { rows } = toMetricRows(
    shard,
    units.map((u) => u.ref),
    series,
    window,
  );
  const batch = {
    ...buildBatch({
      shard,
      window,
      collectedAt: AS_OF,
      resources: [instance(id).resource],
      rows,
      stats: { getMetricDataCalls: 1, metricsRequested: units.length },
    }),
    batchId: `net-${id}`,
  };
  const stored = await storeBatch(pg.db, batch);
  if (stored.outcome !== 'stored') throw new Error(`batch of ${id} ${stored.outcome}: ${stored.reason}`);
  return units;
}

const MODES: [string, Monitoring, number][] = [
  ['i-basic-300', 'basic', 300],
  ['i-detailed-300', 'detailed', 300],
  ['i-detailed-60', 'detailed', 60],
  ['i-basic-3600', 'basic', 3600],
  ['i-detailed-3600', 'detailed', 3600],
];

let pg: TestDatabase;

beforeAll(async () => {
  pg = await createTestDatabase();
  for (const [id, monitoring, period] of MODES) await collectAndStore(pg, id, monitoring, period);
}, 120_000);
afterAll(() => pg?.drop());

describe('EC2 network bytes per day', () => {
  it('asks CloudWatch for the Sum of the network metrics, not their Average', () => {
    const window = { start: new Date(AS_OF.getTime() - 3_600_000), end: AS_OF, periodSeconds: 300 };
    const network = buildQueries([instance('i-any')], window).units.filter((u) =>
      u.ref.metric.startsWith('Network'),
    );
    expect(network.map((u) => `${u.ref.metric} ${u.ref.statistic}`).sort()).toEqual([
      'NetworkIn Maximum',
      'NetworkIn Sum',
      'NetworkOut Maximum',
      'NetworkOut Sum',
    ]);
  });

  it('reports the real traffic under basic and detailed monitoring at every collection period', async () => {
    // A threshold above the real traffic: every instance is idle and its figure is in the evidence.
    const lenient = UnderUsePolicySchema.parse({
      ec2: { days: 2, cpuP95BelowPercent: 10, networkBytesPerDayBelow: 10 * TRUE_BYTES_PER_DAY },
    });
    const findings = await findUnderused(pg.db, lenient, { asOf: AS_OF });
    const perDay = Object.fromEntries(findings.map((f) => [f.name, f.evidence.networkBytesPerDay]));
    for (const [id] of MODES) expect(perDay[id], id).toBeCloseTo(TRUE_BYTES_PER_DAY, 0);
  });

  it('does not flag a busy instance with detailed monitoring as idle', async () => {
    // Between the real traffic and a fifth of it: an Average read as 5-minute bytes would flag it.
    const policy = UnderUsePolicySchema.parse({
      ec2: { days: 2, cpuP95BelowPercent: 10, networkBytesPerDayBelow: TRUE_BYTES_PER_DAY / 2 },
    });
    const names = (await findUnderused(pg.db, policy, { asOf: AS_OF })).map((f) => f.name);
    expect(names).toEqual([]);
  });
});
