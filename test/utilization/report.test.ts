import { PricingClient } from '@aws-sdk/client-pricing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsPriceList, CachedPrices } from '#utilization/pricing';
import { buildReport, findUnderused, shardHealth, type UtilizationReport } from '#utilization/report';
import { CSV_COLUMNS, toCsv, toMarkdown, toTable } from '#utilization/report-format';
import { GAUGES, reportSamples } from '#utilization/report-gauges';
import { storeBatch } from '#utilization/store';
import { UnderUsePolicySchema } from '../../lib/config/schema.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { mockPricing } from './pricing-fixtures.ts';
import { ACCOUNT, AS_OF, HOUR, REGION, type SeedResource, seedBatches } from './report-fixtures.ts';

const policy = UnderUsePolicySchema.parse({});

const m5 = { instanceType: 'm5.large', platform: 'Linux/UNIX', tenancy: 'default' };
const cpu = (value: (h: number) => number) => [
  { metric: 'CPUUtilization', statistic: 'Average' as const, unit: 'Percent' as const, value },
  {
    metric: 'CPUUtilization',
    statistic: 'Maximum' as const,
    unit: 'Percent' as const,
    value: (h: number) => value(h) * 1.5,
  },
];
const netAvg = (bytesPer5Min: number) => [
  { metric: 'NetworkIn', statistic: 'Average' as const, unit: 'Bytes' as const, value: () => bytesPer5Min },
  { metric: 'NetworkOut', statistic: 'Average' as const, unit: 'Bytes' as const, value: () => bytesPer5Min },
];
const netSum = (bytesPerHour: number) => [
  { metric: 'NetworkIn', statistic: 'Sum' as const, unit: 'Bytes' as const, value: () => bytesPerHour },
  { metric: 'NetworkOut', statistic: 'Sum' as const, unit: 'Bytes' as const, value: () => bytesPerHour },
];
const days = (n: number) => n * 24;
const MiB = 1024 ** 2;

const SEED: SeedResource[] = [
  // EC2 (policy: 14 days, CPU p95 < 10%, network < 120 MiB/day)
  {
    id: 'i-idle-large',
    service: 'ec2',
    type: 'instance',
    attributes: m5,
    hours: days(15),
    metrics: [...cpu(() => 2), ...netAvg(1000)],
  },
  {
    id: 'i-idle-4xl',
    service: 'ec2',
    type: 'instance',
    attributes: { ...m5, instanceType: 'm5.4xlarge' },
    hours: days(15),
    metrics: [...cpu((h) => 1 + (h % 3)), ...netAvg(5000)],
  },
  {
    id: 'i-idle-sum-net',
    service: 'ec2',
    type: 'instance',
    attributes: m5,
    hours: days(14),
    metrics: [...cpu(() => 3), ...netSum(2 * MiB)],
  },
  {
    id: 'i-sum-net-busy',
    service: 'ec2',
    type: 'instance',
    attributes: m5,
    hours: days(14),
    metrics: [...cpu(() => 3), ...netSum(3 * MiB)],
  },
  {
    id: 'i-busy',
    service: 'ec2',
    type: 'instance',
    attributes: m5,
    hours: days(15),
    metrics: [...cpu(() => 55), ...netAvg(1000)],
  },
  {
    id: 'i-chatty',
    service: 'ec2',
    type: 'instance',
    attributes: m5,
    hours: days(15),
    metrics: [...cpu(() => 2), ...netAvg(10 * MiB)],
  },
  // Mean CPU 6.8% but 1 hour in 10 at 50%: the p95 is 50%, not idle.
  {
    id: 'i-bursty',
    service: 'ec2',
    type: 'instance',
    attributes: m5,
    hours: days(15),
    metrics: [...cpu((h) => (h % 10 === 0 ? 50 : 2)), ...netAvg(1000)],
  },
  {
    id: 'i-new',
    service: 'ec2',
    type: 'instance',
    attributes: m5,
    hours: days(3),
    metrics: [...cpu(() => 1), ...netAvg(1000)],
  },
  {
    id: 'i-terminated',
    service: 'ec2',
    type: 'instance',
    state: 'terminated',
    attributes: m5,
    hours: days(15),
    metrics: [...cpu(() => 1), ...netAvg(1000)],
  },
  {
    id: 'i-no-type',
    service: 'ec2',
    type: 'instance',
    hours: days(15),
    metrics: [...cpu(() => 1), ...netAvg(1000)],
  },
  // RDS (7 days, no connections)
  {
    id: 'db-idle',
    service: 'rds',
    type: 'db-instance',
    attributes: { instanceClass: 'db.t3.medium', engine: 'postgres', multiAz: 'false' },
    hours: days(8),
    metrics: [
      { metric: 'DatabaseConnections', statistic: 'Maximum', unit: 'Count', value: () => 0 },
      { metric: 'DatabaseConnections', statistic: 'Average', unit: 'Count', value: () => 0 },
      ...cpu(() => 4),
    ],
  },
  {
    id: 'db-used-once',
    service: 'rds',
    type: 'db-instance',
    attributes: { instanceClass: 'db.t3.medium', engine: 'postgres', multiAz: 'false' },
    hours: days(8),
    metrics: [
      {
        metric: 'DatabaseConnections',
        statistic: 'Maximum',
        unit: 'Count',
        value: (h) => (h === 100 ? 2 : 0),
      },
      ...cpu(() => 4),
    ],
  },
  // ECS (14 days, CPU and memory p95 < 20%)
  {
    id: 'svc-idle',
    service: 'ecs',
    type: 'service',
    hasAgentMetrics: true,
    attributes: { launchType: 'FARGATE', cpuArchitecture: 'X86_64' },
    capacity: { vcpu: 0.5, memoryMiB: 1024, desiredCount: 2, runningCount: 2 },
    hours: days(15),
    metrics: [
      ...cpu(() => 5),
      { metric: 'MemoryUtilization', statistic: 'Average', unit: 'Percent', value: () => 12 },
    ],
  },
  {
    // Low memory figures but no memory metrics flag: never judged on memory, so never reported.
    id: 'svc-no-memory-metrics',
    service: 'ecs',
    type: 'service',
    hasAgentMetrics: false,
    attributes: { launchType: 'FARGATE' },
    capacity: { vcpu: 1, memoryMiB: 2048, desiredCount: 1 },
    hours: days(15),
    metrics: [
      ...cpu(() => 5),
      { metric: 'MemoryUtilization', statistic: 'Average', unit: 'Percent', value: () => 3 },
    ],
  },
  {
    id: 'svc-memory-heavy',
    service: 'ecs',
    type: 'service',
    hasAgentMetrics: true,
    attributes: { launchType: 'FARGATE' },
    capacity: { vcpu: 1, memoryMiB: 2048, desiredCount: 1 },
    hours: days(15),
    metrics: [
      ...cpu(() => 5),
      { metric: 'MemoryUtilization', statistic: 'Average', unit: 'Percent', value: () => 70 },
    ],
  },
  // MSK (14 days, busiest broker CPU p95 < 10%, bytes in p95 < 1 KiB/s)
  {
    id: 'kafka-idle',
    service: 'msk',
    type: 'cluster',
    attributes: { brokerType: 'kafka.m5.large' },
    capacity: { brokers: 3, vcpu: 2 },
    hours: days(15),
    metrics: [
      { metric: 'CpuUser', statistic: 'Maximum', unit: 'Percent', value: () => 3 },
      { metric: 'CpuSystem', statistic: 'Maximum', unit: 'Percent', value: () => 2 },
      { metric: 'BytesInPerSec', statistic: 'Average', unit: 'Bytes/Second', value: () => 100 },
    ],
  },
  {
    id: 'kafka-one-hot-broker',
    service: 'msk',
    type: 'cluster',
    attributes: { brokerType: 'kafka.m5.large' },
    capacity: { brokers: 3 },
    hours: days(15),
    metrics: [
      { metric: 'CpuUser', statistic: 'Average', unit: 'Percent', value: () => 3 },
      { metric: 'CpuUser', statistic: 'Maximum', unit: 'Percent', value: () => 30 },
      { metric: 'CpuSystem', statistic: 'Maximum', unit: 'Percent', value: () => 2 },
      { metric: 'BytesInPerSec', statistic: 'Average', unit: 'Bytes/Second', value: () => 100 },
    ],
  },
];

let pg: TestDatabase;
const pricing = mockPricing();
let report: UtilizationReport;

beforeAll(async () => {
  pg = await createTestDatabase();
  for (const batch of seedBatches(SEED)) {
    const r = await storeBatch(pg.db, batch, { chunkRows: 2000 });
    if (r.outcome !== 'stored') throw new Error(`seed batch ${batch.batchId} ${r.outcome}: ${r.reason}`);
  }
  // One rejected delivery in the last day for the health figures.
  await storeBatch(pg.db, { ...seedBatches(SEED.slice(0, 1))[0]!, batchId: 'bad', version: 2 });
  await pg.query("update batch_ledger set updated_at = $1 where batch_id = 'bad'", [
    new Date(AS_OF.getTime() - 2 * HOUR),
  ]);
  report = await buildReport(
    pg.db,
    new CachedPrices(new AwsPriceList(new PricingClient({ region: 'us-east-1' }))),
    policy,
    {
      asOf: AS_OF,
      now: () => new Date('2025-01-20T00:05:00Z'),
    },
  );
}, 120_000);
afterAll(async () => {
  pricing.restore();
  await pg?.drop();
});

describe('under-use report', () => {
  it('reports exactly the resources the policy calls idle, ranked by monthly cost', () => {
    expect(report.findings.map((f) => [f.name, f.monthlyUsd ?? null])).toEqual([
      ['i-idle-4xl', 624.88],
      ['kafka-idle', 494.94],
      ['i-idle-large', 78.11],
      ['i-idle-sum-net', 78.11],
      ['db-idle', 55.48],
      ['svc-idle', 39.67],
      ['i-no-type', null],
    ]);
  });

  it('gives the evidence behind each finding', () => {
    const by = (name: string) => report.findings.find((f) => f.name === name)!;
    expect(by('i-idle-large')).toMatchObject({
      service: 'ec2',
      accountId: ACCOUNT,
      region: REGION,
      resourceArn: `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/i-idle-large`,
      days: 14,
      reason: 'CPU p95 2.00% < 10% and network 563 KiB/day < 120 MiB/day over 14 days',
      costBasis: 'm5.large Linux at $0.107/h x 730 h',
    });
    expect(by('i-idle-large').evidence).toEqual({
      cpuP95Percent: 2,
      cpuMaxPercent: 3,
      networkBytesPerDay: 2 * 1000 * 288,
      coverage: 1,
    });
    expect(by('i-idle-4xl').evidence.cpuP95Percent).toBe(3);
    // Sum rows: 2 MiB in + 2 MiB out per hour.
    expect(by('i-idle-sum-net').evidence.networkBytesPerDay).toBe(96 * MiB);
    expect(by('db-idle')).toMatchObject({
      reason: 'no database connections in 7 days',
      evidence: { maxConnections: 0, cpuP95Percent: 4, coverage: 1 },
    });
    expect(by('svc-idle')).toMatchObject({
      reason: 'CPU p95 5.00% < 20% and memory p95 12.0% < 20% over 14 days',
      evidence: { cpuP95Percent: 5, memoryP95Percent: 12, coverage: 1 },
      costBasis: '0.5 vCPU x 2 tasks at $0.04456/h + 1 GB x 2 tasks at $0.00489/h x 730 h',
    });
    expect(by('kafka-idle')).toMatchObject({
      reason:
        'busiest broker CPU (user+system) p95 5.00% < 10% and bytes in p95 100 B/s < 1 KiB/s over 14 days',
      evidence: { cpuP95Percent: 5, bytesInPerSecP95: 100 },
    });
    expect(by('i-no-type').costBasis).toBe('no instanceType attribute');
  });

  it('never flags on memory a resource without memory metrics', async () => {
    const findings = await findUnderused(pg.db, policy, { asOf: AS_OF });
    expect(findings.map((f) => f.name)).not.toContain('svc-no-memory-metrics');
    // The same service is reported once it is known to have memory metrics.
    await pg.query("update resources set has_agent_metrics = true where name = 'svc-no-memory-metrics'");
    try {
      expect((await findUnderused(pg.db, policy, { asOf: AS_OF })).map((f) => f.name)).toContain(
        'svc-no-memory-metrics',
      );
    } finally {
      await pg.query("update resources set has_agent_metrics = false where name = 'svc-no-memory-metrics'");
    }
  });

  it('uses the configured thresholds and windows', async () => {
    const strict = UnderUsePolicySchema.parse({
      ec2: { days: 14, cpuP95BelowPercent: 2.5, networkBytesPerDayBelow: 1024 ** 3 },
    });
    const names = (await findUnderused(pg.db, strict, { asOf: AS_OF }))
      .filter((f) => f.service === 'ec2')
      .map((f) => f.name);
    // 2.5%: i-idle-4xl (p95 3%) and i-idle-sum-net (3%) drop out; 1 GiB/day lets i-chatty (5.6 GiB/day) stay out.
    expect(names.sort()).toEqual(['i-idle-large', 'i-no-type']);
    // A 2-day window makes the 3-day-old instance old enough.
    const short = UnderUsePolicySchema.parse({
      ec2: { days: 2, cpuP95BelowPercent: 10, networkBytesPerDayBelow: 5 * 1024 ** 2 * 24 },
    });
    expect((await findUnderused(pg.db, short, { asOf: AS_OF })).map((f) => f.name)).toContain('i-new');
  });

  it('reports collection health per shard from the ledger', () => {
    expect(report.shards).toEqual([
      {
        accountId: ACCOUNT,
        region: REGION,
        service: 'ec2',
        lastSuccessSeconds: AS_OF.getTime() / 1000 - 1200,
        lastWindowEndSeconds: AS_OF.getTime() / 1000,
        rejectedLast24h: 1,
      },
      {
        accountId: ACCOUNT,
        region: REGION,
        service: 'ecs',
        lastSuccessSeconds: AS_OF.getTime() / 1000 - 1200,
        lastWindowEndSeconds: AS_OF.getTime() / 1000,
        rejectedLast24h: 0,
      },
      {
        accountId: ACCOUNT,
        region: REGION,
        service: 'msk',
        lastSuccessSeconds: AS_OF.getTime() / 1000 - 1200,
        lastWindowEndSeconds: AS_OF.getTime() / 1000,
        rejectedLast24h: 0,
      },
      {
        accountId: ACCOUNT,
        region: REGION,
        service: 'rds',
        lastSuccessSeconds: AS_OF.getTime() / 1000 - 1200,
        lastWindowEndSeconds: AS_OF.getTime() / 1000,
        rejectedLast24h: 0,
      },
    ]);
    expect(report.totals).toEqual([
      { service: 'ec2', accountId: ACCOUNT, findings: 4, monthlyUsd: 781.1, unpriced: 1 },
      { service: 'ecs', accountId: ACCOUNT, findings: 1, monthlyUsd: 39.67, unpriced: 0 },
      { service: 'msk', accountId: ACCOUNT, findings: 1, monthlyUsd: 494.94, unpriced: 0 },
      { service: 'rds', accountId: ACCOUNT, findings: 1, monthlyUsd: 55.48, unpriced: 0 },
    ]);
  });

  it('counts the trend series even when none is rising (no forecast row to carry the counts)', () => {
    expect(report.forecasts).toEqual([]);
    // i-new's 3 days are too little history; every other series is flat or periodic.
    expect(report.trends.tooLittleHistory).toBeGreaterThanOrEqual(1);
    expect(report.trends.series).toBeGreaterThan(report.trends.tooLittleHistory);
    expect(report.trends.noForecast).toBe(report.trends.series - report.trends.tooLittleHistory);
  });

  it('leaves out shards whose ledger has been silent for longer than the health horizon', async () => {
    await pg.query(
      `insert into batch_ledger (batch_id, account_id, region, service, window_start, window_end, collected_at, row_count, checksum, status, received_at, updated_at)
       values ('old-shard', '444455556666', 'us-east-1', 'ec2', $1, $1, $1, 0, 'x', 'stored', $1, $1)`,
      [new Date(AS_OF.getTime() - 8 * 86_400_000)],
    );
    try {
      const shards = await shardHealth(pg.db, new Date('2025-01-20T00:05:00Z'));
      expect(shards.map((s) => s.accountId)).not.toContain('444455556666');
      const earlier = await shardHealth(pg.db, new Date(AS_OF.getTime() - 2 * 86_400_000));
      expect(earlier.map((s) => s.accountId)).toContain('444455556666');
    } finally {
      await pg.query("delete from batch_ledger where batch_id = 'old-shard'");
    }
  });

  it('renders CSV with one quoted row per finding', () => {
    const lines = toCsv(report).trimEnd().split('\r\n');
    expect(lines[0]).toBe(CSV_COLUMNS.join(','));
    // The idle findings first, then the rightsizing and forecast sections.
    expect(lines).toHaveLength(
      1 + report.findings.length + report.rightsizing.length + report.forecasts.length,
    );
    expect(lines[1]).toMatch(
      /^1,ec2,111122223333,eu-west-1,arn:aws:ec2:eu-west-1:111122223333:instance\/i-idle-4xl,i-idle-4xl,instance,running,624\.88,m5\.4xlarge Linux at \$0\.856\/h x 730 h,CPU p95 3\.00% < 10% and network 2\.75 MiB\/day < 120 MiB\/day over 14 days,14,1,3,4\.5,,2880000,,,idle,{24}$/,
    );
    expect(lines[report.findings.length]).toMatch(
      /^7,ec2,.*,i-no-type,instance,running,,no instanceType attribute,.*,idle,/,
    );
  });

  it('renders Markdown and a terminal table', () => {
    const md = toMarkdown(report);
    expect(md).toContain(
      '7 under-used resources, about **$1,371.19 a month** at on-demand list prices (1 could not be priced).',
    );
    expect(md).toContain(
      '| 1 | ec2 | 111122223333 | eu-west-1 | i-idle-4xl (`arn:aws:ec2:eu-west-1:111122223333:instance/i-idle-4xl`) | $624.88 |',
    );
    expect(md).toContain('| 111122223333 | eu-west-1 | ec2 | 2025-01-19T23:40:00.000Z | 1 |');
    const table = toTable(report).split('\n');
    expect(table[0]).toMatch(/^#\s+SERVICE\s+ACCOUNT\s+REGION\s+NAME\s+\$\/MONTH\s+WHY$/);
    expect(table[1]).toMatch(/^1\s+ec2\s+111122223333\s+eu-west-1\s+i-idle-4xl\s+624\.88\s+CPU p95/);
  });

  it('turns the report into gauges with zero-valued series for shards without findings', () => {
    const samples = reportSamples(report);
    const at = Date.parse('2025-01-20T00:05:00Z');
    expect(samples.every((s) => s.timestampMs === at)).toBe(true);
    const find = (name: string, labels: Record<string, string>) =>
      samples.find((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels))?.value;
    expect(find(GAUGES.underusedResources, { service: 'ec2', account: ACCOUNT })).toBe(4);
    expect(find(GAUGES.underusedMonthlyCostUsd, { service: 'ec2', account: ACCOUNT })).toBe(781.1);
    expect(find(GAUGES.underusedUnpricedResources, { service: 'ec2', account: ACCOUNT })).toBe(1);
    expect(find(GAUGES.collectionLastSuccess, { account: ACCOUNT, region: REGION, service: 'rds' })).toBe(
      AS_OF.getTime() / 1000 - 1200,
    );
    expect(find(GAUGES.batchesRejectedLast24h, { account: ACCOUNT, region: REGION, service: 'ec2' })).toBe(1);
    expect(find(GAUGES.reportLastSuccess, {})).toBe(at / 1000);
    expect(reportSamples(report, { findings: false }).map((s) => s.name)).not.toContain(
      GAUGES.underusedResources,
    );
  });
});
