/**
 * Builders of batch files for the storage tests: realistic shapes (ARNs, units, period grid) with
 * values chosen by the test.
 */
import type { Batch, MetricRow, ResourceRow, Service } from '#utilization/rows';

/** Options of `makeBatch`. */
export interface MakeBatchOptions {
  accountId?: string;
  region?: string;
  service?: Service;
  /** Start of the window (on the period grid). */
  windowStart?: Date;
  /** Periods in the window. */
  periods?: number;
  periodSeconds?: number;
  /** Number of resources; each gets every metric in every period. */
  resources?: number;
  metrics?: { metric: string; statistic?: MetricRow['statistic']; unit?: MetricRow['unit'] }[];
  collectedAt?: Date;
  batchId?: string;
  /** Value of a datapoint. @default resource * 1000 + period + metric / 10 */
  value?: (resource: number, period: number, metric: number) => number;
  /** Resource fields overridden for every resource. */
  resource?: Partial<ResourceRow>;
}

/** ARN of the i-th EC2 instance of a test account. */
export function instanceArn(i: number, accountId = '111122223333', region = 'eu-west-1'): string {
  return `arn:aws:ec2:${region}:${accountId}:instance/i-${(0x1000000 + i).toString(16).padStart(17, '0')}`;
}

/** A batch of `resources` EC2 instances x `metrics` x `periods` rows. */
export function makeBatch(o: MakeBatchOptions = {}): Batch {
  const accountId = o.accountId ?? '111122223333';
  const region = o.region ?? 'eu-west-1';
  const service = o.service ?? 'ec2';
  const periodSeconds = o.periodSeconds ?? 300;
  const periods = o.periods ?? 12;
  const start = o.windowStart ?? new Date('2025-01-06T10:00:00Z');
  const end = new Date(start.getTime() + periods * periodSeconds * 1000);
  const collectedAt = o.collectedAt ?? new Date(end.getTime() + 10 * 60_000);
  const metrics = o.metrics ?? [
    { metric: 'CPUUtilization', statistic: 'Average', unit: 'Percent' },
    { metric: 'NetworkIn', statistic: 'Sum', unit: 'Bytes' },
  ];
  const value = o.value ?? ((r, p, m) => r * 1000 + p + m / 10);
  const resources: ResourceRow[] = [];
  const rows: MetricRow[] = [];
  for (let r = 0; r < (o.resources ?? 3); r++) {
    const arn = instanceArn(r, accountId, region);
    resources.push({
      resourceArn: arn,
      accountId,
      region,
      service,
      resourceType: 'instance',
      name: `web-${r}`,
      state: 'running',
      tags: { Name: `web-${r}`, team: 'platform' },
      capacity: { vcpu: 2, memoryMiB: 8192 },
      attributes: { instanceType: 'm5.large', platform: 'Linux/UNIX', tenancy: 'default' },
      hasAgentMetrics: false,
      observedAt: collectedAt.toISOString(),
      ...o.resource,
    });
    for (let p = 0; p < periods; p++) {
      metrics.forEach((m, mi) => {
        rows.push({
          resourceArn: arn,
          accountId,
          region,
          service,
          resourceType: 'instance',
          metric: m.metric,
          statistic: m.statistic ?? 'Average',
          unit: m.unit ?? 'Percent',
          periodStart: new Date(start.getTime() + p * periodSeconds * 1000).toISOString(),
          periodSeconds,
          value: value(r, p, mi),
        });
      });
    }
  }
  return {
    version: 1,
    batchId: o.batchId ?? `${accountId}/${region}/${service}/${start.toISOString()}/${end.toISOString()}`,
    shard: { accountId, region, service },
    window: { start: start.toISOString(), end: end.toISOString() },
    collectedAt: collectedAt.toISOString(),
    resources,
    rows,
    stats: { getMetricDataCalls: 1, metricsRequested: resources.length * metrics.length },
  };
}

/** Where the quick-demo batch file of docs/utilization.md lives. */
export const SAMPLE_BATCH_FILE = new URL('../fixtures/batches/ec2-eu-west-1-sample.json', import.meta.url);

/**
 * The quick-demo batch of docs/utilization.md: two EC2 instances over the 14 days before 2025-01-20T00:00Z, hourly.
 * `web-idle` (m5.large) idles at 1-3% CPU with a trickle of traffic; `api-busy` (m5.xlarge) works.
 * Deterministic (no randomness), so the committed file can be checked against it.
 */
export function sampleBatch(): Batch {
  const accountId = '111122223333';
  const region = 'eu-west-1';
  const start = Date.parse('2025-01-06T00:00:00Z');
  const end = Date.parse('2025-01-20T00:00:00Z');
  const collectedAt = '2025-01-20T00:12:41Z';
  const instances = [
    {
      id: 'i-0a1b2c3d4e5f60718',
      name: 'web-idle',
      type: 'm5.large',
      vcpu: 2,
      mem: 8192,
      cpu: (h: number) => 1.5 + Math.sin(h / 3) + (h % 24 === 9 ? 1 : 0),
      netIn: (h: number) => 1800 + 400 * Math.cos(h / 5),
    },
    {
      id: 'i-0f9e8d7c6b5a49382',
      name: 'api-busy',
      type: 'm5.xlarge',
      vcpu: 4,
      mem: 16384,
      cpu: (h: number) => 42 + 18 * Math.sin((2 * Math.PI * h) / 24),
      netIn: (h: number) => 48_000_000 + 9_000_000 * Math.sin((2 * Math.PI * h) / 24),
    },
  ];
  const rows: MetricRow[] = [];
  const resources: ResourceRow[] = [];
  for (const i of instances) {
    const resourceArn = `arn:aws:ec2:${region}:${accountId}:instance/${i.id}`;
    resources.push({
      resourceArn,
      accountId,
      region,
      service: 'ec2',
      resourceType: 'instance',
      name: i.name,
      state: 'running',
      tags: { Name: i.name, team: 'platform' },
      capacity: { vcpu: i.vcpu, memoryMiB: i.mem },
      attributes: { instanceType: i.type, platform: 'Linux/UNIX', tenancy: 'default' },
      hasAgentMetrics: false,
      observedAt: collectedAt,
    });
    for (let t = start, h = 0; t < end; t += 3_600_000, h++) {
      const base = {
        resourceArn,
        accountId,
        region,
        service: 'ec2' as const,
        resourceType: 'instance',
        periodStart: new Date(t).toISOString(),
        periodSeconds: 3600,
      };
      rows.push({
        ...base,
        metric: 'CPUUtilization',
        statistic: 'Average',
        unit: 'Percent',
        value: Math.round(i.cpu(h) * 1000) / 1000,
      });
      rows.push({
        ...base,
        metric: 'NetworkIn',
        statistic: 'Average',
        unit: 'Bytes',
        value: Math.round(i.netIn(h)),
      });
    }
  }
  return {
    version: 1,
    batchId: '111122223333-eu-west-1-ec2-20250106T000000Z_20250120T000000Z_3600s',
    shard: { accountId, region, service: 'ec2' },
    window: { start: new Date(start).toISOString(), end: new Date(end).toISOString() },
    collectedAt,
    resources,
    rows,
    stats: { getMetricDataCalls: 1, metricsRequested: 4 },
  };
}

/** The sample batch as committed: one row per line, so diffs stay readable. */
export function sampleBatchText(): string {
  const b = sampleBatch();
  const { rows, resources, ...head } = b;
  const list = (items: unknown[]) => `[\n${items.map((x) => `    ${JSON.stringify(x)}`).join(',\n')}\n  ]`;
  const headText = JSON.stringify(head, null, 2).replace(/\n}$/, '');
  return `${headText},\n  "resources": ${list(resources)},\n  "rows": ${list(rows)}\n}\n`;
}

// `npx tsx test/utilization/store-fixtures.ts` rewrites the sample batch file.
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const { writeFileSync, mkdirSync } = await import('node:fs');
  mkdirSync(new URL('.', SAMPLE_BATCH_FILE), { recursive: true });
  writeFileSync(SAMPLE_BATCH_FILE, sampleBatchText());
  console.log(`wrote ${SAMPLE_BATCH_FILE.pathname}`);
}
