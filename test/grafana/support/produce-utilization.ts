/**
 * Utilization samples the way the pipeline produces them: batches through the store path
 * (`storeBatch` into a real PostgreSQL), an invalid batch rejected by it, the under-use report built
 * from the database (`buildReport` + `reportSamples`), a collection run's summary (`summarizeCollection`
 * + `summarySamples`), and each function's self-monitoring samples, all through the remote-write client.
 */
import type { RemoteWriteClient, Sample } from '../../../lambdas/shared/remote-write.ts';
import { remoteWriteOutcome, selfMetricSamples } from '../../../lambdas/shared/self-metrics.ts';
import { summarizeCollection } from '../../../lambdas/utilization/collection-summary.ts';
import { summarySamples } from '../../../lambdas/utilization/collection-summary-handler.ts';
import type { PricePort } from '../../../lambdas/utilization/pricing.ts';
import { buildReport } from '../../../lambdas/utilization/report.ts';
import { reportSamples } from '../../../lambdas/utilization/report-gauges.ts';
import type { Batch, MetricRow, ResourceRow } from '../../../lambdas/utilization/rows.ts';
import { storeBatch } from '../../../lambdas/utilization/store.ts';
import { UnderUsePolicySchema } from '../../../lib/config/schema.ts';
import type { TestDatabase } from '../../support/postgres.ts';

/** Accounts of the simulated organisation. */
export const UTILIZATION_ACCOUNTS = ['111111111111', '222222222222'] as const;
const REGION = 'eu-west-1';
const HOUR = 3_600_000;

interface SimResource {
  id: string;
  service: 'ec2' | 'rds';
  busy: boolean;
}

function batchFor(accountId: string, service: 'ec2' | 'rds', resources: SimResource[], end: number): Batch {
  const start = end - 24 * HOUR;
  const collectedAt = new Date(end + 10 * 60_000).toISOString();
  const rows: MetricRow[] = [];
  const resourceRows: ResourceRow[] = [];
  for (const r of resources) {
    const ec2 = service === 'ec2';
    const resourceArn = ec2
      ? `arn:aws:ec2:${REGION}:${accountId}:instance/${r.id}`
      : `arn:aws:rds:${REGION}:${accountId}:db:${r.id}`;
    const resourceType = ec2 ? 'instance' : 'db';
    resourceRows.push({
      resourceArn,
      accountId,
      region: REGION,
      service,
      resourceType,
      name: r.id,
      state: ec2 ? 'running' : 'available',
      tags: { team: 'platform' },
      capacity: ec2 ? { vcpu: 2, memoryMiB: 8192 } : { vcpu: 2, memoryMiB: 4096, storageGiB: 100 },
      attributes: ec2
        ? { instanceType: 'm5.large', platform: 'Linux/UNIX', tenancy: 'default' }
        : { instanceClass: 'db.t3.medium', engine: 'postgres', multiAz: 'false' },
      hasAgentMetrics: false,
      observedAt: collectedAt,
    });
    for (let t = start; t < end; t += HOUR) {
      const base = {
        resourceArn,
        accountId,
        region: REGION,
        service,
        resourceType,
        periodStart: new Date(t).toISOString(),
        periodSeconds: 3600,
      };
      if (ec2) {
        rows.push({
          ...base,
          metric: 'CPUUtilization',
          statistic: 'Average',
          unit: 'Percent',
          value: r.busy ? 55 : 2.5,
        });
        rows.push({
          ...base,
          metric: 'NetworkIn',
          statistic: 'Sum',
          unit: 'Bytes',
          value: r.busy ? 9e9 : 20_000,
        });
        rows.push({
          ...base,
          metric: 'NetworkOut',
          statistic: 'Sum',
          unit: 'Bytes',
          value: r.busy ? 4e9 : 15_000,
        });
      } else {
        rows.push({
          ...base,
          metric: 'DatabaseConnections',
          statistic: 'Maximum',
          unit: 'Count',
          value: r.busy ? 40 : 0,
        });
        rows.push({
          ...base,
          metric: 'CPUUtilization',
          statistic: 'Average',
          unit: 'Percent',
          value: r.busy ? 30 : 1,
        });
      }
    }
  }
  return {
    version: 1,
    batchId: `${accountId}/${REGION}/${service}/${new Date(start).toISOString()}/${new Date(end).toISOString()}`,
    shard: { accountId, region: REGION, service },
    window: { start: new Date(start).toISOString(), end: new Date(end).toISOString() },
    collectedAt,
    resources: resourceRows,
    rows,
    stats: { getMetricDataCalls: 1, metricsRequested: rows.length },
  };
}

/** On-demand prices for EC2; RDS left unpriced so the "unpriced" gauge has something to count. */
const prices: PricePort = {
  hourly: async (q) =>
    q.serviceCode === 'AmazonEC2'
      ? { usd: 0.107, sku: 'TESTSKU0001', description: '$0.107 per On Demand Linux m5.large Instance Hour' }
      : undefined,
};

/**
 * Stores a day of batches for two accounts, rejects one invalid batch, builds the report and the
 * collection summary, and writes their samples and the functions' self-monitoring samples.
 * @param pg a migrated test database
 * @param client the remote-write client
 * @returns every sample written
 */
export async function produceUtilizationSamples(
  pg: TestDatabase,
  client: RemoteWriteClient,
): Promise<Sample[]> {
  const now = Date.now();
  const end = Math.floor(now / HOUR) * HOUR;
  const written: Sample[] = [];
  const self: Sample[] = [];
  const shardResults: unknown[] = [];
  // Distinct, increasing times in the minute before now, one per step of the simulated pipeline.
  let step = 0;
  const at = () => now - 60_000 + ++step * 1000;

  for (const accountId of UTILIZATION_ACCOUNTS) {
    const fleets: Record<'ec2' | 'rds', SimResource[]> = {
      ec2: [
        { id: `i-0${accountId.slice(0, 3)}a1b2c3d4e5f6a`, service: 'ec2', busy: false },
        { id: `i-0${accountId.slice(0, 3)}a1b2c3d4e5f6b`, service: 'ec2', busy: true },
      ],
      rds: [
        {
          id: `orders-db-${accountId.slice(0, 3)}`,
          service: 'rds',
          busy: accountId === UTILIZATION_ACCOUNTS[1],
        },
      ],
    };
    for (const service of ['ec2', 'rds'] as const) {
      const batch = batchFor(accountId, service, fleets[service], end);
      const t0 = at();
      self.push(
        ...selfMetricSamples({
          component: 'utilization',
          function: 'collect',
          region: REGION,
          success: true,
          startedAtMs: t0 - 4000,
          endedAtMs: t0,
        }),
      );
      const result = await storeBatch(pg.db, batch);
      if (result.outcome !== 'stored')
        throw new Error(`batch ${batch.batchId} was ${result.outcome}: ${result.reason ?? ''}`);
      const t1 = at();
      self.push(
        ...selfMetricSamples({
          component: 'utilization',
          function: 'store',
          region: REGION,
          success: true,
          startedAtMs: t1 - 800,
          endedAtMs: t1,
        }),
      );
      shardResults.push({ shard: { accountId, region: REGION, service }, batchId: batch.batchId });
    }
  }
  // A batch with a row off its period grid: the store path rejects it whole and records why.
  const bad = batchFor(
    UTILIZATION_ACCOUNTS[1],
    'ec2',
    [{ id: 'i-0bad0000000000001', service: 'ec2', busy: true }],
    end - HOUR,
  );
  bad.rows[0] = {
    ...bad.rows[0]!,
    periodStart: new Date(Date.parse(bad.rows[0]!.periodStart) + 1000).toISOString(),
  };
  const rejected = await storeBatch(pg.db, bad);
  if (rejected.outcome !== 'rejected') throw new Error(`the invalid batch was ${rejected.outcome}`);
  const t2 = at();
  self.push(
    ...selfMetricSamples({
      component: 'utilization',
      function: 'store',
      region: REGION,
      success: true,
      startedAtMs: t2 - 300,
      endedAtMs: t2,
    }),
  );
  // A shard whose collection failed: the collect run failed, the summary names it.
  shardResults.push({
    shard: { accountId: UTILIZATION_ACCOUNTS[1], region: 'us-east-1', service: 'ecs' },
    status: 'failed',
    error: 'AccessDenied',
    cause:
      'User: arn:aws:sts::111111111111:assumed-role/Observatory-utilization-collector/x is not authorized to perform: sts:AssumeRole',
  });
  const t3 = at();
  self.push(
    ...selfMetricSamples({
      component: 'utilization',
      function: 'collect',
      region: REGION,
      success: false,
      startedAtMs: t3 - 2000,
      endedAtMs: t3,
    }),
  );

  const summary = summarizeCollection({ results: shardResults as never, toleratedFailurePercent: 20 });
  const summaryAt = at();
  const summaryGauges = summarySamples(summary, summaryAt);
  const summaryWrite = await client.write(summaryGauges, { deadline: Date.now() + 10_000 });
  written.push(...summaryGauges);
  self.push(
    ...selfMetricSamples({
      component: 'utilization',
      function: 'collection-summary',
      region: REGION,
      success: summaryWrite.ok,
      startedAtMs: summaryAt - 200,
      endedAtMs: summaryAt,
      remoteWrite: remoteWriteOutcome(summaryWrite),
    }),
  );

  const policy = UnderUsePolicySchema.parse({ ec2: { days: 1 }, rds: { days: 1 } });
  const report = await buildReport(pg.db, prices, policy, { asOf: new Date(now), now: () => new Date(at()) });
  if (report.findings.length === 0)
    throw new Error('the report found nothing under-used: the simulation is wrong');
  const gauges = reportSamples(report);
  const reportWrite = await client.write(gauges, { deadline: Date.now() + 10_000 });
  if (!reportWrite.ok) throw new Error('report gauges were not written');
  written.push(...gauges);
  const reportAt = at();
  self.push(
    ...selfMetricSamples({
      component: 'utilization',
      function: 'report',
      region: REGION,
      success: true,
      startedAtMs: reportAt - 3000,
      endedAtMs: reportAt,
      coldStart: true,
      remoteWrite: remoteWriteOutcome(reportWrite),
    }),
  );
  const selfWrite = await client.write(self, { deadline: Date.now() + 10_000 });
  if (!selfWrite.ok) throw new Error('utilization self-metrics were not written');
  written.push(...self);
  return written;
}
