/**
 * The rightsizing and running-out sections of the report over real PostgreSQL, in every format.
 * Prices: the eu-west-1 Price List fixture (pricing-fixtures.ts) where it has the current option,
 * else the catalog (us-east-1, rightsizing-catalog.ts); every figure is worked by hand below.
 */
import { PricingClient } from '@aws-sdk/client-pricing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdvicePolicySchema } from '#contracts/utilization';
import { fitLine } from '#utilization/capacity-trends';
import { AwsPriceList, CachedPrices } from '#utilization/pricing';
import { buildReport, type UtilizationReport } from '#utilization/report';
import { findRightsizing } from '#utilization/report-advice';
import { CSV_COLUMNS, toCsv, toJson, toMarkdown, toTable } from '#utilization/report-format';
import { GAUGES, reportSamples } from '#utilization/report-gauges';
import { summaryMessage } from '#utilization/report-handler';
import { storeBatch } from '#utilization/store';
import { UnderUsePolicySchema } from '../../lib/config/schema.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { rng } from '../support/prompb.ts';
import { mockPricing } from './pricing-fixtures.ts';
import { ACCOUNT, AS_OF, arnOf, type SeedResource, seedBatches } from './report-fixtures.ts';

const GIB = 1024 ** 3;
const MB = 1e6;
const days = (n: number) => n * 24;
/** x of hour h in a series of `total` hours ending at AS_OF: days from AS_OF of the hour's UTC day. */
const dayX = (h: number, total: number) => Math.floor(h / 24) - total / 24;
const constant = (
  metric: string,
  statistic: 'Average' | 'Maximum' | 'Minimum' | 'Sum',
  value: number,
  unit: 'Percent' | 'Bytes' | 'Count' | 'Bytes/Second' = 'Percent',
) => ({
  metric,
  statistic,
  unit,
  value: () => value,
});
/** NetworkIn and NetworkOut Sum rows of `bytes` each per hour. */
const network = (bytes: number) => [
  constant('NetworkIn', 'Sum', bytes, 'Bytes'),
  constant('NetworkOut', 'Sum', bytes, 'Bytes'),
];
const linux = (instanceType: string) => ({ instanceType, platform: 'Linux/UNIX', tenancy: 'default' });
const noise = rng(11);
const storageNoise = Array.from({ length: 30 }, () => noise() * 2 - 1);

const SEED: SeedResource[] = [
  // m5.2xlarge, agent memory 25 %, 50 MB/s network peak (catalog: not in the Price List fixture).
  {
    id: 'i-big',
    service: 'ec2',
    type: 'instance',
    attributes: linux('m5.2xlarge'),
    capacity: { vcpu: 8, memoryMiB: 32768 },
    hasAgentMetrics: true,
    hours: days(15),
    metrics: [
      constant('CPUUtilization', 'Average', 10),
      constant('mem_used_percent', 'Average', 25),
      // 90e9 bytes each way an hour: (90e9 + 90e9) / 3600 s = 50 MB/s.
      ...network(90e9),
    ],
  },
  // m5.4xlarge, no agent, 5 % CPU but 480 MiB a day of network (not idle): the Price List prices it.
  {
    id: 'i-pricelist',
    service: 'ec2',
    type: 'instance',
    attributes: linux('m5.4xlarge'),
    hours: days(15),
    metrics: [constant('CPUUtilization', 'Average', 5), ...network(10 * 1024 ** 2)],
  },
  // m5.large at 70 %: nothing cheaper fits.
  {
    id: 'i-hot',
    service: 'ec2',
    type: 'instance',
    attributes: linux('m5.large'),
    hours: days(15),
    metrics: [constant('CPUUtilization', 'Average', 70), ...network(1e9)],
  },
  // m7g.xlarge, CPU rising 1 point a day to 50 % at AS_OF (80 % on 2025-02-19), disk rising 0.5 a day
  // to 60 % with +/- 1 point of noise (90 % around 2025-03-21).
  {
    id: 'i-grow',
    service: 'ec2',
    type: 'instance',
    attributes: linux('m7g.xlarge'),
    hasAgentMetrics: true,
    hours: days(30),
    metrics: [
      {
        metric: 'CPUUtilization',
        statistic: 'Average',
        unit: 'Percent',
        value: (h) => 50 + dayX(h, days(30)),
      },
      {
        metric: 'disk_used_percent',
        statistic: 'Average',
        unit: 'Percent',
        value: (h) => 60 + 0.5 * dayX(h, days(30)) + storageNoise[Math.floor(h / 24)]!,
      },
      ...network(1e9),
    ],
  },
  // Four days of steeply rising CPU: too little history for a forecast.
  {
    id: 'i-young',
    service: 'ec2',
    type: 'instance',
    attributes: linux('m5.large'),
    hours: days(4),
    metrics: [
      {
        metric: 'CPUUtilization',
        statistic: 'Average',
        unit: 'Percent',
        value: (h) => 70 + 5 * dayX(h, days(4)),
      },
    ],
  },
  // db.r5.2xlarge PostgreSQL: 40 GiB freeable, CPU 12 %; storage used rising 1 point a day, 60 % at
  // AS_OF of 100 GiB (90 % on 2025-02-19).
  {
    id: 'db-big',
    service: 'rds',
    type: 'db-instance',
    attributes: { instanceClass: 'db.r5.2xlarge', engine: 'postgres', multiAz: 'false' },
    capacity: { vcpu: 8, memoryMiB: 65536, storageGiB: 100 },
    hasAgentMetrics: true,
    hours: days(30),
    metrics: [
      constant('CPUUtilization', 'Average', 12),
      constant('DatabaseConnections', 'Maximum', 5, 'Count'),
      constant('FreeableMemory', 'Average', 40 * GIB, 'Bytes'),
      {
        metric: 'FreeStorageSpace',
        statistic: 'Minimum',
        unit: 'Bytes',
        value: (h) => ((100 - (60 + dayX(h, days(30)))) / 100) * 100 * GIB,
      },
    ],
  },
  // Fargate 2 vCPU / 8 GB x 3 tasks, CPU 15 %, memory 30 %.
  {
    id: 'svc',
    service: 'ecs',
    type: 'service',
    attributes: { launchType: 'FARGATE', cpuArchitecture: 'X86_64' },
    capacity: { vcpu: 2, memoryMiB: 8192, desiredCount: 3, runningCount: 3 },
    hasAgentMetrics: true,
    hours: days(15),
    metrics: [constant('CPUUtilization', 'Average', 15), constant('MemoryUtilization', 'Average', 30)],
  },
  // 6 x kafka.m5.large, busiest broker 6 + 4 = 10 %, 5 MB/s in, 10 MB/s out.
  {
    id: 'kafka-a',
    service: 'msk',
    type: 'cluster',
    attributes: { brokerType: 'kafka.m5.large' },
    capacity: { brokers: 6, vcpu: 2, memoryMiB: 8192, storageGiB: 1000 },
    hours: days(15),
    metrics: [
      constant('CpuUser', 'Maximum', 6),
      constant('CpuSystem', 'Maximum', 4),
      constant('BytesInPerSec', 'Maximum', 5 * MB, 'Bytes/Second'),
      constant('BytesOutPerSec', 'Maximum', 10 * MB, 'Bytes/Second'),
    ],
  },
];

const arn = (id: string) => arnOf(SEED.find((r) => r.id === id)!);
const advice = AdvicePolicySchema.parse({});
let pg: TestDatabase;
let report: UtilizationReport;
const pricing = mockPricing();

beforeAll(async () => {
  pg = await createTestDatabase();
  for (const batch of seedBatches(SEED)) {
    const r = await storeBatch(pg.db, batch, { chunkRows: 5000 });
    if (r.outcome !== 'stored') throw new Error(`seed batch ${batch.batchId} ${r.outcome}: ${r.reason}`);
  }
  report = await buildReport(
    pg.db,
    new CachedPrices(new AwsPriceList(new PricingClient({ region: 'us-east-1' }))),
    UnderUsePolicySchema.parse({}),
    { asOf: AS_OF, now: () => new Date('2025-01-20T00:05:00Z'), advice },
  );
}, 120_000);
afterAll(async () => {
  pricing.restore();
  await pg?.drop();
});

describe('rightsizing section', () => {
  it('recommends per service, ranked by saving, nothing where no cheaper option fits', () => {
    expect(report.findings).toEqual([]);
    expect(report.rightsizing.map((r) => [r.name, r.recommended.option, r.monthlySavingUsd])).toEqual([
      // Price List, eu-west-1: m5.4xlarge $0.856 -> m5.large $0.107 (the only candidate it prices):
      // (0.856 - 0.107) x 730 = 624.88 - 78.11 = $546.77; CPU 5 x 16 / 2 = 40 % <= 40.
      ['i-pricelist', 'm5.large', 546.77],
      // Price List: 6 x $0.226 = $989.88; kafka.m7g is not in it, 3 x kafka.m5.large is: $494.94;
      // CPU 10 x 2 x 6 / (2 x 3) = 20 %.
      ['kafka-a', '3 x kafka.m5.large', 494.94],
      // Catalog: db.r5.2xlarge $730 -> db.r7g.xlarge $348.94 (24 GiB used of 32).
      ['db-big', 'db.r7g.xlarge', 381.06],
      // Catalog: m5.2xlarge $280.32 -> m7g.xlarge $119.14.
      ['i-big', 'm7g.xlarge', 161.18],
      // Price List, eu-west-1 Fargate x86 $0.04456/vCPU-h, $0.00489/GB-h (ARM64 memory is not in it,
      // so no ARM64 candidate): (2 x 0.04456 + 8 x 0.00489) x 3 x 730 = $280.85 -> 1 vCPU / 3 GB:
      // (0.04456 + 3 x 0.00489) x 3 x 730 = $129.71; saving $151.14.
      ['svc', '1 vCPU / 3 GB x 3 tasks', 151.14],
    ]);
    // i-hot (70 % on m5.large), i-grow (on the smallest Graviton size that carries it) get nothing.
    expect(report.rightsizing.map((r) => r.name)).not.toContain('i-hot');
    expect(report.rightsizing.map((r) => r.name)).not.toContain('i-grow');
  });

  it('gives the same recommendations when the resources are read a page of 2 at a time', async () => {
    const paged = await findRightsizing(
      pg.db,
      new CachedPrices(new AwsPriceList(new PricingClient({ region: 'us-east-1' }))),
      { ec2: 14, rds: 7, ecs: 14, msk: 14 },
      advice.rightsizing,
      { asOf: AS_OF, minCoverage: 0.8, liveWithinHours: 48 },
      new Set(),
      2,
    );
    expect(paged).toEqual(report.rightsizing);
  });

  it('carries the projection, the evidence and the price basis', () => {
    const big = report.rightsizing.find((r) => r.name === 'i-big')!;
    expect(big).toMatchObject({
      service: 'ec2',
      accountId: ACCOUNT,
      resourceArn: arn('i-big'),
      days: 14,
      current: { option: 'm5.2xlarge', monthlyUsd: 280.32 },
      recommended: { option: 'm7g.xlarge', monthlyUsd: 119.14 },
      memoryKnown: true,
      evidence: {
        cpuP95Percent: 10,
        cpuPeakDays: 14,
        memoryUsedGiBP95: 8,
        networkMaxBytesPerSec: 50 * MB,
        coverage: 1,
      },
      priceBasis: 'catalog list price (us-east-1, 2025-06) x 730 h',
    });
    expect(big.projectedCpuP95Percent).toBeCloseTo(16, 9);
    expect(big.projectedMemoryP95Percent).toBeCloseTo(50, 9);
    const listed = report.rightsizing.find((r) => r.name === 'i-pricelist')!;
    expect(listed.priceBasis).toBe(
      'm5.4xlarge Linux at $0.856/h x 730 h -> m5.large Linux at $0.107/h x 730 h',
    );
    expect(listed.memoryKnown).toBe(false);
    expect(listed.risks).toContain('memory not measured: CPU-only advice, check memory use before changing');
    const rds = report.rightsizing.find((r) => r.name === 'db-big')!;
    expect(rds.evidence.memoryUsedGiBP95).toBeCloseTo(24, 9);
    expect(report.rightsizing.find((r) => r.name === 'kafka-a')!.risks).toContain(
      'fewer brokers: move partitions off the removed brokers first',
    );
  });
});

describe('running-out section', () => {
  it('forecasts the known crossings, soonest first, and counts what has no forecast', () => {
    // i-grow's CPU and db-big's storage both cross in 30 days (their order is a floating-point tie);
    // i-grow's noisy disk around 60 days later than asOf.
    const named = report.forecasts.map((f) => `${f.name} ${f.metric} ${f.crossesAt.slice(0, 10)}`);
    expect(named.slice(0, 2).sort()).toEqual(['db-big storage 2025-02-19', 'i-grow cpu 2025-02-19']);
    expect(named[2]).toMatch(/^i-grow storage 2025-03-(1[5-9]|2\d)$/);
    const cpu = report.forecasts.find((f) => f.name === 'i-grow' && f.metric === 'cpu')!;
    expect(cpu.daysToCross).toBeCloseTo(30, 6);
    expect(cpu.thresholdPercent).toBe(80);
    expect(cpu.lastP95Percent).toBeCloseTo(49, 9);
    // PostgreSQL's regr_* equals the pure least squares over the same daily p95.
    const exact = fitLine(Array.from({ length: 30 }, (_, i) => ({ x: i - 30, y: 50 + i - 30 })))!;
    expect(cpu.fit.slope).toBeCloseTo(exact.slope, 9);
    expect(cpu.fit.intercept).toBeCloseTo(exact.intercept, 9);
    expect(cpu.fit.r2).toBeCloseTo(1, 9);
    expect(cpu.fit.n).toBe(30);
    const disk = report.forecasts.find((f) => f.name === 'i-grow' && f.metric === 'storage')!;
    const noisy = fitLine(
      Array.from({ length: 30 }, (_, i) => ({ x: i - 30, y: 60 + 0.5 * (i - 30) + storageNoise[i]! })),
    )!;
    expect(disk.fit.slope).toBeCloseTo(noisy.slope, 9);
    expect(disk.fit.residual).toBeCloseTo(noisy.residual!, 9);
    expect(disk.fit.r2).toBeLessThan(1);
    expect(disk.thresholdPercent).toBe(90);
    const storage = report.forecasts.find((f) => f.name === 'db-big')!;
    expect(storage.daysToCross).toBeCloseTo(30, 6);
    // CPU of 8 resources, storage of i-grow and db-big: 10 series: i-young's 4 days are too few, 3
    // forecasts, 6 flat.
    expect(report.trends).toEqual({ series: 10, forecasts: 3, tooLittleHistory: 1, noForecast: 6 });
  });
});

describe('formats', () => {
  it('CSV carries every field of both sections', () => {
    const lines = toCsv(report).trimEnd().split('\r\n');
    const header = lines[0]!.split(',');
    expect(header).toEqual([...CSV_COLUMNS]);
    const rows = lines.slice(1).map((l) => {
      // No field of this report holds a quote or a comma inside quotes except risks and reasons, so
      // split on commas outside quotes.
      const cells = l
        .match(/("([^"]|"")*"|[^,]*)(,|$)/g)!
        .map((c) => c.replace(/,$/, '').replace(/^"|"$/g, ''));
      return Object.fromEntries(header.map((h, i) => [h, cells[i]]));
    });
    expect(rows).toHaveLength(report.rightsizing.length + report.forecasts.length);
    const big = rows.find((r) => r.section === 'rightsizing' && r.name === 'i-big')!;
    expect(big).toMatchObject({
      rank: '4',
      current_option: 'm5.2xlarge',
      recommended_option: 'm7g.xlarge',
      current_monthly_usd: '280.32',
      recommended_monthly_usd: '119.14',
      monthly_saving_usd: '161.18',
      projected_cpu_p95_percent: '16',
      projected_memory_p95_percent: '50',
      memory_known: 'true',
      cpu_p95_percent: '10',
      cpu_peak_days: '14',
      memory_used_gib_p95: '8',
      network_max_bytes_per_sec: '50000000',
      cost_basis: 'catalog list price (us-east-1, 2025-06) x 730 h',
    });
    expect(big.risks).toMatch(/moves to Graviton/);
    const forecast = rows.find((r) => r.section === 'forecast' && r.name === 'db-big')!;
    expect(forecast).toMatchObject({
      metric: 'storage',
      threshold_percent: '90',
      days_to_cross: '30',
      crosses_at: '2025-02-19T00:00:00.000Z',
      slope_per_day: '1',
      intercept: '60',
      r2: '1',
      fit_days: '30',
      resource_arn: arn('db-big'),
    });
  });

  it('JSON carries the whole of both sections', () => {
    const json = JSON.parse(toJson(report)) as UtilizationReport;
    expect(json.rightsizing).toEqual(JSON.parse(JSON.stringify(report.rightsizing)));
    expect(json.forecasts).toHaveLength(3);
    expect(json.trends.tooLittleHistory).toBe(1);
    expect(json.advice).toEqual(advice);
  });

  it('Markdown and the table show both sections', () => {
    const md = toMarkdown(report);
    expect(md).toContain('## Rightsizing');
    expect(md).toContain(
      '5 changes saving about **$1,735.09 a month** (projected CPU p95 <= 40%, memory headroom 20%).',
    );
    expect(md).toMatch(
      /\| 4 \| ec2 \| 111122223333 \| i-big \(`arn:aws:ec2:eu-west-1:111122223333:instance\/i-big`\) \| m5\.2xlarge \(\$280\.32\) \| m7g\.xlarge \(\$119\.14\) \| 16\.0%, memory 50% \| \$161\.18 \| .*Graviton/,
    );
    expect(md).toMatch(
      /\| 2 \| msk \| .* \| 6 x kafka\.m5\.large \(\$989\.88\) \| 3 x kafka\.m5\.large \(\$494\.94\) \| 20\.0% \(CPU only\) \| \$494\.94 \|/,
    );
    expect(md).toContain('## Running out');
    expect(md).toMatch(
      /\| \d \| rds \| 111122223333 \| db-big .* \| storage used \| 59\.0% \| 90% \| 2025-02-19 \| 30 \| 1\.00 \| 0\.00 \|/,
    );
    expect(md).toContain(
      '10 resource metrics fitted over 30 days: 3 forecast within 90 days, 1 with too little history (< 7 days, no forecast), 6 not rising',
    );
    const table = toTable(report);
    expect(table).toMatch(
      /^RIGHTSIZING\n#\s+SERVICE\s+ACCOUNT\s+NAME\s+CURRENT\s+RECOMMENDED\s+CPU P95\s+SAVING\/MONTH\s+RISKS$/m,
    );
    expect(table).toMatch(
      /^1\s+ec2\s+111122223333\s+i-pricelist\s+m5\.4xlarge\s+m5\.large\s+40\.0% \(CPU only\)\s+546\.77\s+memory not measured/m,
    );
    expect(table).toContain('5 recommended, $1,735.09/month saved');
    expect(table).toMatch(
      /^RUNNING OUT\n#\s+SERVICE\s+ACCOUNT\s+NAME\s+METRIC\s+LAST P95\s+THRESHOLD\s+CROSSES\s+DAYS\s+R2$/m,
    );
    expect(table).toMatch(
      /^\d\s+ec2\s+111122223333\s+i-grow\s+CPU\s+49\.0%\s+80%\s+2025-02-19\s+30\s+1\.00$/m,
    );
  });

  it('sums both sections up in the SNS summary', () => {
    const message = summaryMessage(report, []);
    expect(message).toContain(
      'Rightsizing: 5 changes, about $1,735.09 a month saved (largest: i-pricelist, m5.4xlarge -> m5.large).',
    );
    expect(message).toMatch(
      /^Running out: 3 forecasts; soonest (i-grow cpu 80|db-big storage 90)% on 2025-02-19\.$/m,
    );
  });

  it('pushes the savings and forecast gauges', () => {
    const samples = reportSamples(report);
    const value = (name: string, labels: Record<string, string>) =>
      samples.find((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels))?.value;
    expect(value(GAUGES.rightsizingSavingsMonthlyUsd, { service: 'ec2', account: ACCOUNT })).toBe(707.95);
    expect(value(GAUGES.rightsizingRecommendations, { service: 'ec2', account: ACCOUNT })).toBe(2);
    expect(value(GAUGES.rightsizingSavingsMonthlyUsd, { service: 'msk', account: ACCOUNT })).toBe(494.94);
    expect(
      value(GAUGES.capacityForecastDays, {
        service: 'rds',
        account: ACCOUNT,
        resource: arn('db-big'),
        metric: 'storage',
      }),
    ).toBe(30);
    expect(value(GAUGES.capacityForecastAlertDays, {})).toBe(14);
  });
});
