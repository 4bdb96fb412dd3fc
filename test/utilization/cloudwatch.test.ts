import {
  CloudWatchClient,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
  ListMetricsCommand,
  type MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  agentInventoryFrom,
  buildQueries,
  type CollectionWindow,
  computeWindow,
  fetchMetricData,
  listAgentMetrics,
  MAX_QUERIES_PER_CALL,
  NO_AGENT,
  planCalls,
} from '#utilization/cloudwatch';
import type { DiscoveredResource, MetricTarget } from '#utilization/discovery';
import type { Service } from '#utilization/rows';
import { answerGetMetricData } from '../fixtures/aws/get-metric-data-fake.ts';
import { fixture } from '../fixtures/aws/load.ts';

const cwMock = mockClient(CloudWatchClient);
const region = 'eu-west-1';
const accountId = '111122223333';
const window: CollectionWindow = computeWindow(new Date('2024-05-01T11:07:31Z'), 60, 300, 10);

function resource(service: Service, name: string, target: MetricTarget): DiscoveredResource {
  const type = { ec2: 'instance', rds: 'db-instance', ecs: 'service', msk: 'cluster' }[service];
  return {
    resource: {
      resourceArn: `arn:aws:${service === 'msk' ? 'kafka' : service}:${region}:${accountId}:${type}/${name}`,
      accountId,
      region,
      service,
      resourceType: type,
      name,
      state: 'running',
      tags: {},
      capacity: {},
      hasAgentMetrics: false,
      observedAt: '2024-05-01T11:07:31.000Z',
    },
    target,
  };
}

const ec2 = (id: string, stoppedAt?: Date) =>
  resource('ec2', id, { service: 'ec2', instanceId: id, ...(stoppedAt ? { stoppedAt } : {}) });

/** An agent inventory where the given instances publish memory and one root filesystem. */
function agentFor(ids: string[]) {
  return agentInventoryFrom(
    ids.flatMap((id) => [
      {
        Namespace: 'CWAgent',
        MetricName: 'mem_used_percent',
        Dimensions: [{ Name: 'InstanceId', Value: id }],
      },
      {
        Namespace: 'CWAgent',
        MetricName: 'disk_used_percent',
        Dimensions: [
          { Name: 'InstanceId', Value: id },
          { Name: 'path', Value: '/' },
          { Name: 'device', Value: 'nvme0n1p1' },
          { Name: 'fstype', Value: 'xfs' },
        ],
      },
    ]),
  );
}

/** EC2 instances: `plain` without the agent (6 queries each), `agent` with memory and one disk (10 each). */
function ec2Fleet(plain: number, agent: number) {
  const ids = Array.from({ length: plain + agent }, (_, i) => `i-${(i + 1).toString(16).padStart(17, '0')}`);
  return { resources: ids.map((id) => ec2(id)), agent: agentFor(ids.slice(plain)) };
}

function fakeCloudWatch() {
  cwMock.on(GetMetricDataCommand).callsFake((input: GetMetricDataCommandInput) => answerGetMetricData(input));
}

const queriesOf = (input: GetMetricDataCommandInput) => input.MetricDataQueries ?? [];

beforeEach(() => cwMock.reset());

describe('computeWindow', () => {
  it('ends on the period grid at or before now minus the delay and spans the lookback', () => {
    const w = computeWindow(new Date('2024-05-01T11:07:31Z'), 60, 300, 10);
    expect(w.end.toISOString()).toBe('2024-05-01T10:55:00.000Z');
    expect(w.start.toISOString()).toBe('2024-05-01T09:55:00.000Z');
    const hourly = computeWindow(new Date('2024-05-01T11:07:31Z'), 60, 3600, 10);
    expect([hourly.start.toISOString(), hourly.end.toISOString()]).toEqual([
      '2024-05-01T09:00:00.000Z',
      '2024-05-01T10:00:00.000Z',
    ]);
  });

  it('keeps an instant exactly on the grid as the end', () => {
    const w = computeWindow(new Date('2024-05-01T11:10:00Z'), 60, 300, 10);
    expect(w.end.toISOString()).toBe('2024-05-01T11:00:00.000Z');
  });

  it('rounds a lookback that is not a whole number of periods up to whole periods', () => {
    const w = computeWindow(new Date('2024-05-01T11:07:31Z'), 7, 300, 0);
    expect((w.end.getTime() - w.start.getTime()) / 60_000).toBe(10);
    const short = computeWindow(new Date('2024-05-01T11:07:31Z'), 5, 3600, 0);
    expect((short.end.getTime() - short.start.getTime()) / 60_000).toBe(60);
  });

  it('stays on the grid and inside the bounds for any instant', () => {
    let seed = 42;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let i = 0; i < 500; i++) {
      const now = new Date(Date.UTC(2024, 0, 1) + (next() % (365 * 86_400)) * 1000 + (next() % 1000));
      const period = [60, 300, 3600][next() % 3]!;
      const lookback = 5 + (next() % 1436);
      const delay = next() % 61;
      const w = computeWindow(now, lookback, period, delay);
      const latest = now.getTime() - delay * 60_000;
      expect(w.start.getTime() % (period * 1000)).toBe(0);
      expect(w.end.getTime() % (period * 1000)).toBe(0);
      expect(w.end.getTime()).toBeLessThanOrEqual(latest);
      expect(w.end.getTime()).toBeGreaterThan(latest - period * 1000);
      expect(w.end.getTime() - w.start.getTime()).toBeGreaterThanOrEqual(lookback * 60_000);
      expect(w.end.getTime() - w.start.getTime()).toBeLessThan(lookback * 60_000 + period * 1000);
    }
  });

  it('rejects a period CloudWatch does not accept, naming it', () => {
    expect(() => computeWindow(new Date(), 60, 90, 10)).toThrow(
      'periodSeconds must be 1, 5, 10, 30 or a multiple of 60, got 90',
    );
    expect(() => computeWindow(new Date(), 0, 300, 10)).toThrow('lookbackMinutes must be positive, got 0');
  });
});

describe('CWAgent inventory', () => {
  it('lists CWAgent once across pages, recently active only', async () => {
    cwMock
      .on(ListMetricsCommand)
      .callsFake((input) =>
        fixture(
          input.NextToken
            ? 'cloudwatch/list-metrics-cwagent-page-2.json'
            : 'cloudwatch/list-metrics-cwagent-page-1.json',
        ),
      );
    const { inventory, listMetricsCalls } = await listAgentMetrics(new CloudWatchClient({ region }), true);
    expect(listMetricsCalls).toBe(2);
    const calls = cwMock.commandCalls(ListMetricsCommand);
    expect(calls.map((c) => c.args[0].input.Namespace)).toEqual(['CWAgent', 'CWAgent']);
    expect(calls[0]!.args[0].input.RecentlyActive).toBe('PT3H');
    expect(calls[0]!.args[0].input.MetricName).toBeUndefined();
    // The richest dimension set wins over the aggregated InstanceId-only one.
    expect(inventory.memory.get('i-0a1b2c3d4e5f60001')?.map((d) => d.Name)).toEqual([
      'InstanceId',
      'ImageId',
      'InstanceType',
    ]);
    // The snap squashfs mount is always 100% full and is left out.
    const paths = inventory.disks
      .get('i-0a1b2c3d4e5f60001')
      ?.map((d) => d.find((x) => x.Name === 'path')?.Value);
    expect(paths).toEqual(['/', '/data']);
    expect(inventory.memory.has('i-0a1b2c3d4e5f60002')).toBe(false);
  });
});

describe('buildQueries', () => {
  it('gives an instance without the agent no memory or disk query, and one with it both', () => {
    const agent = agentInventoryFrom(
      fixture<{ Metrics: [] }>('cloudwatch/list-metrics-cwagent-page-1.json').Metrics,
    );
    const { units } = buildQueries([ec2('i-0a1b2c3d4e5f60001'), ec2('i-0a1b2c3d4e5f60002')], window, agent);
    const metricsOf = (arnEnd: string) =>
      [...new Set(units.filter((u) => u.ref.resourceArn.endsWith(arnEnd)).map((u) => u.ref.metric))].sort();
    expect(metricsOf('i-0a1b2c3d4e5f60002')).toEqual(['CPUUtilization', 'NetworkIn', 'NetworkOut']);
    expect(metricsOf('i-0a1b2c3d4e5f60001')).toEqual([
      'CPUUtilization',
      'NetworkIn',
      'NetworkOut',
      'disk_used_percent',
      'mem_used_percent',
    ]);
    const disk = units.find((u) => u.ref.metric === 'disk_used_percent' && u.ref.statistic === 'Maximum')!;
    expect(disk.queries).toHaveLength(3);
    expect(disk.queries.at(-1)).toEqual({
      Id: disk.ref.id,
      Expression: `MAX([${disk.ref.id}_0, ${disk.ref.id}_1])`,
      ReturnData: true,
    });
    expect(
      disk.queries.slice(0, 2).every((q) => q.ReturnData === false && q.MetricStat?.Stat === 'Maximum'),
    ).toBe(true);
    expect(disk.metricStats).toBe(2);
    expect(
      units.filter((u) => u.ref.agent).every((u) => u.ref.resourceArn.endsWith('i-0a1b2c3d4e5f60001')),
    ).toBe(true);
  });

  it('uses IDs CloudWatch accepts, unique across the shard', () => {
    const fleet = ec2Fleet(50, 50);
    const msk = resource('msk', 'events', {
      service: 'msk',
      clusterName: 'events',
      brokerIds: ['1', '2', '4'],
    });
    const { units } = buildQueries([...fleet.resources, msk], window, fleet.agent);
    const ids = units.flatMap((u) => u.queries.map((q) => q.Id!));
    expect(ids.every((id) => /^[a-z][a-zA-Z0-9_]*$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('folds MSK brokers: CPU as mean and hottest broker, throughput as the cluster sum', () => {
    const msk = resource('msk', 'events', {
      service: 'msk',
      clusterName: 'events',
      brokerIds: ['1', '2', '4'],
    });
    const { units } = buildQueries([msk], window);
    expect(units).toHaveLength(8);
    expect(units.reduce((a, u) => a + u.queries.length, 0)).toBe(32);
    const expr = (metric: string, stat: string) =>
      units.find((u) => u.ref.metric === metric && u.ref.statistic === stat)!.queries.at(-1)!.Expression;
    expect(expr('CpuUser', 'Average')).toMatch(/^AVG\(/);
    expect(expr('CpuUser', 'Maximum')).toMatch(/^MAX\(/);
    expect(expr('BytesInPerSec', 'Average')).toMatch(/^SUM\(/);
    const input = units[0]!.queries[2]!.MetricStat!;
    expect(input.Metric!.Namespace).toBe('AWS/Kafka');
    expect(input.Metric!.Dimensions).toEqual([
      { Name: 'Cluster Name', Value: 'events' },
      { Name: 'Broker ID', Value: '4' },
    ]);
    expect(units.find((u) => u.ref.metric === 'BytesInPerSec')!.ref.unit).toBe('Bytes/Second');
  });

  it('keys RDS and ECS metrics by their dimensions with units from the definitions', () => {
    const rds = resource('rds', 'orders-db', { service: 'rds', dbInstanceIdentifier: 'orders-db' });
    const ecs = resource('ecs', 'checkout', { service: 'ecs', clusterName: 'prod', serviceName: 'checkout' });
    const { units } = buildQueries([rds, ecs], window);
    const rdsUnits = units.filter((u) => u.ref.service === 'rds');
    expect(rdsUnits).toHaveLength(10);
    expect(
      rdsUnits.find((u) => u.ref.metric === 'FreeStorageSpace' && u.ref.statistic === 'Minimum')!.ref.unit,
    ).toBe('Bytes');
    expect(rdsUnits.find((u) => u.ref.metric === 'DatabaseConnections')!.ref.unit).toBe('Count');
    const ecsQuery = units.find((u) => u.ref.service === 'ecs')!.queries[0]!.MetricStat!;
    expect(ecsQuery.Metric).toEqual({
      Namespace: 'AWS/ECS',
      MetricName: 'CPUUtilization',
      Dimensions: [
        { Name: 'ClusterName', Value: 'prod' },
        { Name: 'ServiceName', Value: 'checkout' },
      ],
    });
    expect(ecsQuery.Period).toBe(300);
  });

  it('skips an instance stopped before the window and keeps one stopped inside it', () => {
    const before = ec2('i-stoppedbefore', new Date(window.start.getTime() - 60_000));
    const inside = ec2('i-stoppedinside', new Date(window.start.getTime() + 600_000));
    const { units, skipped } = buildQueries([before, inside], window);
    expect(skipped).toEqual([before.resource.resourceArn]);
    expect(units.every((u) => u.ref.resourceArn === inside.resource.resourceArn)).toBe(true);
    expect(units).toHaveLength(6);
  });
});

describe('GetMetricData batching', () => {
  async function fetchFor(resources: DiscoveredResource[], agent = NO_AGENT, limit?: number) {
    fakeCloudWatch();
    const { units } = buildQueries(resources, window, agent);
    const selected = limit === undefined ? units : units.slice(0, limit);
    const result = await fetchMetricData(new CloudWatchClient({ region }), planCalls(selected));
    return {
      units: selected,
      result,
      calls: cwMock.commandCalls(GetMetricDataCommand).map((c) => c.args[0].input),
    };
  }

  it('sends 1,234 queries in exactly 3 calls, none over 500, expressions with their inputs', async () => {
    const fleet = ec2Fleet(199, 4);
    const { units, result, calls } = await fetchFor(fleet.resources, fleet.agent);
    expect(units.reduce((a, u) => a + u.queries.length, 0)).toBe(1234);
    expect(calls).toHaveLength(Math.ceil(1234 / MAX_QUERIES_PER_CALL));
    expect(result.getMetricDataCalls).toBe(3);
    expect(calls.map((c) => queriesOf(c).length).sort((a, b) => b - a)).toEqual([500, 500, 234]);
    for (const c of calls) {
      const ids = new Set(queriesOf(c).map((q) => q.Id));
      for (const q of queriesOf(c).filter((x) => x.Expression)) {
        for (const input of q.Expression!.match(/q\d+_\d+/g) ?? []) expect(ids.has(input)).toBe(true);
      }
      expect(c.StartTime).toEqual(window.start);
      expect(c.EndTime).toEqual(window.end);
    }
    // Every returned series came back complete.
    expect(result.series.size).toBe(units.length);
    expect(
      [...result.series.values()].every((s) => s.timestamps.length === 12 && s.status === 'Complete'),
    ).toBe(true);
    expect(result.metricsRequested).toBe(1234);
  });

  it('sends 500 queries in one call and 501 in two', async () => {
    const fleet = ec2Fleet(80, 2);
    const five = await fetchFor(fleet.resources, fleet.agent);
    expect(five.units.reduce((a, u) => a + u.queries.length, 0)).toBe(500);
    expect(five.calls).toHaveLength(1);

    cwMock.reset();
    const many = ec2Fleet(84, 0);
    const fiveOne = await fetchFor(many.resources, NO_AGENT, 501);
    expect(fiveOne.calls).toHaveLength(2);
    expect(fiveOne.calls.map((c) => queriesOf(c).length).sort()).toEqual([1, 500]);
    expect(fiveOne.result.getMetricDataCalls).toBe(2);
  });

  it('counts billed metrics, not expressions, in metricsRequested', async () => {
    const msk = resource('msk', 'events', {
      service: 'msk',
      clusterName: 'events',
      brokerIds: ['1', '2', '3'],
    });
    const { result, calls } = await fetchFor([msk]);
    expect(queriesOf(calls[0]!)).toHaveLength(32);
    expect(result.metricsRequested).toBe(24);
  });

  it('follows NextToken, merging the pages of every series and adding one call per page', async () => {
    const second = {
      MetricDataResults: [
        {
          Id: 'q0',
          Timestamps: [new Date('2024-05-01T09:55:00Z'), new Date('2024-05-01T10:00:00Z')],
          Values: [10.1, 9.8],
          StatusCode: 'Complete',
        },
        {
          Id: 'q1',
          Timestamps: [new Date('2024-05-01T09:55:00Z'), new Date('2024-05-01T10:00:00Z')],
          Values: [22.5, 30.4],
          StatusCode: 'Complete',
        },
      ],
      Messages: [],
    };
    cwMock
      .on(GetMetricDataCommand)
      .callsFake((input: GetMetricDataCommandInput) =>
        input.NextToken ? second : fixture('cloudwatch/get-metric-data-partial.json'),
      );
    const { units } = buildQueries([ec2('i-0a1b2c3d4e5f60001')], window);
    const result = await fetchMetricData(new CloudWatchClient({ region }), planCalls(units.slice(0, 2)));
    const calls = cwMock.commandCalls(GetMetricDataCommand);
    expect(calls).toHaveLength(2);
    expect(result.getMetricDataCalls).toBe(Math.ceil(2 / 500) + 1);
    expect(calls[1]!.args[0].input.NextToken).toBe('ZXhhbXBsZS1uZXh0LXRva2VuLWZvci1nZXQtbWV0cmljLWRhdGE=');
    expect(result.series.get('q0')!.values).toEqual([12.5, 14.0833, 11.9, 10.1, 9.8]);
    expect(result.series.get('q1')!.status).toBe('Complete');
    expect(result.incomplete).toEqual([]);
    expect(result.messages).toEqual([
      'q1: MaxDatapointsExceeded: The query returned more datapoints than MaxDatapoints; use NextToken',
    ]);
    expect(result.metricsRequested).toBe(4);
  });

  it('paginates a long window of 1-minute datapoints beyond the 100,800-datapoint page', async () => {
    const day = computeWindow(new Date('2024-05-01T11:07:31Z'), 1440, 60, 10);
    fakeCloudWatch();
    const { units } = buildQueries(ec2Fleet(100, 0).resources, day);
    const result = await fetchMetricData(new CloudWatchClient({ region }), planCalls(units));
    expect(units).toHaveLength(600);
    // 500 queries x 1440 points needs pages beyond the two calls the queries alone need.
    expect(result.getMetricDataCalls).toBeGreaterThan(2);
    expect(
      [...result.series.values()].every((s) => s.timestamps.length === 1440 && s.status === 'Complete'),
    ).toBe(true);
  });

  it('retries only the series CloudWatch answered with InternalError', async () => {
    let first = true;
    cwMock.on(GetMetricDataCommand).callsFake((input: GetMetricDataCommandInput) => {
      const out = answerGetMetricData(input);
      if (first) {
        first = false;
        const failed = out.MetricDataResults!.find((r) => r.Id === 'q2')!;
        Object.assign(failed, { StatusCode: 'InternalError', Timestamps: [], Values: [] });
      }
      return out;
    });
    const { units } = buildQueries([ec2('i-0a1b2c3d4e5f60001')], window);
    const result = await fetchMetricData(new CloudWatchClient({ region }), planCalls(units));
    const calls = cwMock.commandCalls(GetMetricDataCommand);
    expect(calls).toHaveLength(2);
    expect(queriesOf(calls[1]!.args[0].input).map((q: MetricDataQuery) => q.Id)).toEqual(['q2']);
    expect(result.series.get('q2')!.timestamps).toHaveLength(12);
    expect(result.incomplete).toEqual([]);
  });

  it('reports series answered Forbidden', async () => {
    cwMock.on(GetMetricDataCommand).callsFake((input: GetMetricDataCommandInput) => {
      const out = answerGetMetricData(input);
      for (const r of out.MetricDataResults!)
        Object.assign(r, { StatusCode: 'Forbidden', Timestamps: [], Values: [] });
      return out;
    });
    const { units } = buildQueries([ec2('i-0a1b2c3d4e5f60001')], window);
    const result = await fetchMetricData(new CloudWatchClient({ region }), planCalls(units));
    expect(result.forbidden).toHaveLength(6);
  });
});
