/**
 * CloudWatch cost of collecting 1,000 generated resources (a mix of EC2, RDS, ECS and MSK), one shard
 * per service: GetMetricData calls made against the minimum ceil(Q / 500) per shard, and metrics
 * requested (the billed quantity). CloudWatch is a fake client that counts and answers like the service,
 * paging at 100,800 datapoints per response.
 *
 * `per-metric calls` is what one GetMetricStatistics call per metric and statistic would cost in calls.
 *
 * Run: npx tsx bench/cloudwatch-calls.ts
 */
import {
  CloudWatchClient,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
} from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import {
  agentInventoryFrom,
  buildQueries,
  type CollectionWindow,
  computeWindow,
  fetchMetricData,
  MAX_QUERIES_PER_CALL,
  planCalls,
} from '../lambdas/utilization/cloudwatch.ts';
import type { DiscoveredResource, MetricTarget } from '../lambdas/utilization/discovery.ts';
import { toMetricRows } from '../lambdas/utilization/normalize.ts';
import type { Service } from '../lambdas/utilization/rows.ts';
import { answerGetMetricData } from '../test/fixtures/aws/get-metric-data-fake.ts';

const ACCOUNT = '111122223333';
const REGION = 'eu-west-1';
/** CloudWatch list price: USD 0.01 per 1,000 metrics requested with GetMetricData. */
const USD_PER_METRIC = 0.01 / 1000;
const MIX: Record<Service, number> = { ec2: 450, rds: 200, ecs: 250, msk: 100 };

/** Deterministic pseudo-random numbers so every run measures the same fleet. */
function rng(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

function resource(service: Service, i: number, target: MetricTarget, stopped = false): DiscoveredResource {
  const type = { ec2: 'instance', rds: 'db-instance', ecs: 'service', msk: 'cluster' }[service];
  const name = `${service}-${i}`;
  return {
    resource: {
      resourceArn: `arn:aws:${service === 'msk' ? 'kafka' : service}:${REGION}:${ACCOUNT}:${type}/${name}`,
      accountId: ACCOUNT,
      region: REGION,
      service,
      resourceType: type,
      name,
      state: stopped ? 'stopped' : 'running',
      tags: {},
      capacity: {},
      hasAgentMetrics: false,
      observedAt: new Date().toISOString(),
    },
    target,
  };
}

/** The generated fleet: 40% of instances run the agent (half of them with two data mounts), 10% stopped. */
function fleet(window: CollectionWindow) {
  const random = rng(7);
  const shards = new Map<Service, DiscoveredResource[]>();
  const agentMetrics = [];
  const ec2: DiscoveredResource[] = [];
  for (let i = 0; i < MIX.ec2; i++) {
    const id = `i-${i.toString(16).padStart(17, '0')}`;
    const roll = random();
    const stoppedAt = roll < 0.1 ? new Date(window.start.getTime() - 86_400_000) : undefined;
    ec2.push(
      resource(
        'ec2',
        i,
        { service: 'ec2', instanceId: id, ...(stoppedAt ? { stoppedAt } : {}) },
        !!stoppedAt,
      ),
    );
    if (roll >= 0.6) {
      agentMetrics.push({ MetricName: 'mem_used_percent', Dimensions: [{ Name: 'InstanceId', Value: id }] });
      const mounts = roll >= 0.8 ? ['/', '/data', '/logs'] : ['/'];
      for (const path of mounts) {
        agentMetrics.push({
          MetricName: 'disk_used_percent',
          Dimensions: [
            { Name: 'InstanceId', Value: id },
            { Name: 'path', Value: path },
            { Name: 'fstype', Value: 'xfs' },
          ],
        });
      }
    }
  }
  shards.set('ec2', ec2);
  shards.set(
    'rds',
    Array.from({ length: MIX.rds }, (_, i) =>
      resource('rds', i, { service: 'rds', dbInstanceIdentifier: `db-${i}` }),
    ),
  );
  shards.set(
    'ecs',
    Array.from({ length: MIX.ecs }, (_, i) =>
      resource('ecs', i, { service: 'ecs', clusterName: `cluster-${i % 12}`, serviceName: `svc-${i}` }),
    ),
  );
  shards.set(
    'msk',
    Array.from({ length: MIX.msk }, (_, i) => {
      const brokers = i % 5 === 0 ? 6 : 3;
      const brokerIds = Array.from({ length: brokers }, (_, b) => String(b + 1));
      return resource('msk', i, { service: 'msk', clusterName: `kafka-${i}`, brokerIds });
    }),
  );
  return { shards, agent: agentInventoryFrom(agentMetrics) };
}

interface Line {
  service: string;
  resources: number;
  queries: number;
  minCalls: number;
  plannedCalls: number;
  calls: number;
  metricsRequested: number;
  naiveCalls: number;
  rows: number;
  /** Size of the rows as batch JSON. */
  mib: number;
  ms: number;
}

async function scenario(title: string, lookbackMinutes: number, periodSeconds: number): Promise<void> {
  const window = computeWindow(new Date(), lookbackMinutes, periodSeconds, 10);
  const { shards, agent } = fleet(window);
  const cw = new CloudWatchClient({
    region: REGION,
    credentials: { accessKeyId: 'fake', secretAccessKey: 'fake' },
  });
  const fake = mockClient(cw);
  let counted = 0;
  fake.on(GetMetricDataCommand).callsFake((input: GetMetricDataCommandInput) => {
    counted++;
    return answerGetMetricData(input);
  });
  const lines: Line[] = [];
  for (const [service, resources] of shards) {
    const before = counted;
    const started = performance.now();
    const { units } = buildQueries(resources, window, service === 'ec2' ? agent : undefined);
    const plans = planCalls(units);
    const fetched = await fetchMetricData(cw, plans);
    const { rows } = toMetricRows(
      { accountId: ACCOUNT, region: REGION, service },
      units.map((u) => u.ref),
      fetched.series,
      window,
    );
    const queries = units.reduce((a, u) => a + u.queries.length, 0);
    if (counted - before !== fetched.getMetricDataCalls)
      throw new Error(`call count mismatch for ${service}`);
    lines.push({
      service,
      resources: resources.length,
      queries,
      minCalls: Math.ceil(queries / MAX_QUERIES_PER_CALL),
      plannedCalls: plans.length,
      calls: fetched.getMetricDataCalls,
      metricsRequested: fetched.metricsRequested,
      naiveCalls: units.reduce((a, u) => a + u.metricStats, 0),
      rows: rows.length,
      mib: Buffer.byteLength(JSON.stringify(rows)) / 2 ** 20,
      ms: performance.now() - started,
    });
  }
  fake.restore();
  const sum = (pick: (l: Line) => number) => lines.reduce((a, l) => a + pick(l), 0);
  const total: Line = {
    service: 'total',
    resources: sum((l) => l.resources),
    queries: sum((l) => l.queries),
    minCalls: sum((l) => l.minCalls),
    plannedCalls: sum((l) => l.plannedCalls),
    calls: sum((l) => l.calls),
    metricsRequested: sum((l) => l.metricsRequested),
    naiveCalls: sum((l) => l.naiveCalls),
    rows: sum((l) => l.rows),
    mib: sum((l) => l.mib),
    ms: sum((l) => l.ms),
  };
  console.log(
    `\n${title}: window ${window.start.toISOString()} .. ${window.end.toISOString()}, period ${periodSeconds}s`,
  );
  const header = [
    'service',
    'resources',
    'queries Q',
    'min ceil(Q/500)',
    'calls w/o pages',
    'calls',
    'metrics req.',
    'USD/run',
    'rows',
    'rows MiB',
    'per-metric calls',
    'ms',
  ];
  const table = [...lines, total].map((l) => [
    l.service,
    String(l.resources),
    String(l.queries),
    String(l.minCalls),
    String(l.plannedCalls),
    String(l.calls),
    String(l.metricsRequested),
    (l.metricsRequested * USD_PER_METRIC).toFixed(4),
    String(l.rows),
    l.mib.toFixed(1),
    String(l.naiveCalls),
    l.ms.toFixed(0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(fmt(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of table) console.log(fmt(row));
  const perDay = (24 * 60) / lookbackMinutes;
  console.log(
    `one shard per service; the minimum is per shard. At one run per ${lookbackMinutes} min: ` +
      `${(total.metricsRequested * USD_PER_METRIC * perDay * 30).toFixed(2)} USD per 30 days.`,
  );
}

await scenario('Hourly run (default config)', 60, 300);
await scenario('6-hour backfill at 1-minute resolution (exercises NextToken paging)', 360, 60);
