import { describe, expect, it } from 'vitest';
import { computeWindow, type SeriesData, type SeriesRef } from '#utilization/cloudwatch';
import { batchIdFor, batchKeyFor, buildBatch, toMetricRows, windowLabel } from '#utilization/normalize';
import { BatchSchema, MetricRowSchema, type Shard } from '#utilization/rows';

const shard: Shard = { accountId: '111122223333', region: 'eu-west-1', service: 'ec2' };
const window = computeWindow(new Date('2024-05-01T11:07:31Z'), 60, 300, 10);
const arn = 'arn:aws:ec2:eu-west-1:111122223333:instance/i-0a1b2c3d4e5f60001';

function ref(
  id: string,
  metric: string,
  statistic: SeriesRef['statistic'],
  unit: SeriesRef['unit'],
  agent = false,
): SeriesRef {
  return { id, resourceArn: arn, resourceType: 'instance', service: 'ec2', metric, statistic, unit, agent };
}

function data(points: [string, number][]): SeriesData {
  return {
    timestamps: points.map(([t]) => new Date(t)),
    values: points.map(([, v]) => v),
    status: 'Complete',
  };
}

describe('toMetricRows', () => {
  it('makes one valid row per datapoint with the unit of the metric and the start of its period', () => {
    const { rows, dropped } = toMetricRows(
      shard,
      [ref('q0', 'CPUUtilization', 'Average', 'Percent'), ref('q1', 'NetworkIn', 'Maximum', 'Bytes')],
      new Map([
        [
          'q0',
          data([
            ['2024-05-01T09:55:00Z', 12.5],
            ['2024-05-01T10:00:00Z', 3.25],
          ]),
        ],
        ['q1', data([['2024-05-01T10:50:00Z', 1048576]])],
      ]),
      window,
    );
    expect(dropped).toBe(0);
    for (const row of rows) MetricRowSchema.parse(row);
    expect(rows.map((r) => [r.metric, r.statistic, r.unit, r.periodStart, r.value])).toEqual([
      ['CPUUtilization', 'Average', 'Percent', '2024-05-01T09:55:00.000Z', 12.5],
      ['CPUUtilization', 'Average', 'Percent', '2024-05-01T10:00:00.000Z', 3.25],
      ['NetworkIn', 'Maximum', 'Bytes', '2024-05-01T10:50:00.000Z', 1048576],
    ]);
    expect(rows[0]).toMatchObject({
      accountId: '111122223333',
      region: 'eu-west-1',
      service: 'ec2',
      periodSeconds: 300,
    });
  });

  it('drops values that are not finite and datapoints outside the window', () => {
    const { rows, dropped } = toMetricRows(
      shard,
      [ref('q0', 'CPUUtilization', 'Average', 'Percent')],
      new Map([
        [
          'q0',
          data([
            ['2024-05-01T09:50:00Z', 1],
            ['2024-05-01T10:00:00Z', Number.NaN],
            ['2024-05-01T10:05:00Z', Number.POSITIVE_INFINITY],
            ['2024-05-01T10:10:00Z', 7],
            ['2024-05-01T10:55:00Z', 9],
          ]),
        ],
      ]),
      window,
    );
    expect(dropped).toBe(4);
    expect(rows.map((r) => r.value)).toEqual([7]);
  });

  it('snaps an off-grid timestamp to its period and keeps one row per natural key', () => {
    const { rows } = toMetricRows(
      shard,
      [ref('q0', 'CPUUtilization', 'Average', 'Percent')],
      new Map([
        [
          'q0',
          data([
            ['2024-05-01T10:00:00Z', 1],
            ['2024-05-01T10:02:30Z', 2],
          ]),
        ],
      ]),
      window,
    );
    expect(rows.map((r) => [r.periodStart, r.value])).toEqual([['2024-05-01T10:00:00.000Z', 2]]);
  });

  it('reports memory data only for resources with agent datapoints', () => {
    const agentRef = ref('q1', 'mem_used_percent', 'Average', 'Percent', true);
    const withData = toMetricRows(
      shard,
      [ref('q0', 'CPUUtilization', 'Average', 'Percent'), agentRef],
      new Map([
        ['q0', data([['2024-05-01T10:00:00Z', 1]])],
        ['q1', data([['2024-05-01T10:00:00Z', 61.2]])],
      ]),
      window,
    );
    expect([...withData.withMemoryData]).toEqual([arn]);
    const empty = toMetricRows(
      shard,
      [ref('q0', 'CPUUtilization', 'Average', 'Percent'), agentRef],
      new Map([
        ['q0', data([['2024-05-01T10:00:00Z', 1]])],
        ['q1', data([])],
      ]),
      window,
    );
    expect(empty.withMemoryData.size).toBe(0);
  });
});

describe('batch identity', () => {
  it('derives the same batch ID and key from the same shard and window', () => {
    const again = computeWindow(new Date('2024-05-01T11:09:59Z'), 60, 300, 10);
    expect(batchIdFor(shard, window)).toBe(batchIdFor(shard, again));
    expect(batchIdFor(shard, window)).toBe(
      '111122223333-eu-west-1-ec2-20240501T095500Z_20240501T105500Z_300s',
    );
    expect(batchKeyFor(shard, window)).toBe(
      'batches/ec2/111122223333/eu-west-1/20240501T095500Z_20240501T105500Z_300s.json',
    );
    expect(windowLabel(window)).toMatch(/^[0-9TZ_s]+$/);
  });

  it('gives a different ID to another window, period or shard', () => {
    const ids = new Set([
      batchIdFor(shard, window),
      batchIdFor(shard, computeWindow(new Date('2024-05-01T11:12:00Z'), 60, 300, 10)),
      batchIdFor(shard, computeWindow(new Date('2024-05-01T11:07:31Z'), 60, 60, 10)),
      batchIdFor({ ...shard, service: 'rds' }, window),
      batchIdFor({ ...shard, region: 'eu-central-1' }, window),
    ]);
    expect(ids.size).toBe(5);
  });
});

describe('buildBatch', () => {
  it('assembles a batch that BatchSchema accepts', () => {
    const { rows } = toMetricRows(
      shard,
      [ref('q0', 'CPUUtilization', 'Average', 'Percent')],
      new Map([['q0', data([['2024-05-01T10:00:00Z', 4]])]]),
      window,
    );
    const batch = buildBatch({
      shard,
      window,
      collectedAt: new Date('2024-05-01T11:07:31Z'),
      resources: [
        {
          resourceArn: arn,
          accountId: shard.accountId,
          region: shard.region,
          service: 'ec2',
          resourceType: 'instance',
          name: 'web-1',
          state: 'running',
          tags: {},
          capacity: { vcpu: 2 },
          hasAgentMetrics: false,
          observedAt: '2024-05-01T11:07:31.000Z',
        },
      ],
      rows,
      stats: { getMetricDataCalls: 1, metricsRequested: 6 },
    });
    expect(BatchSchema.parse(JSON.parse(JSON.stringify(batch)))).toEqual(batch);
    expect(batch.window).toEqual({ start: '2024-05-01T09:55:00.000Z', end: '2024-05-01T10:55:00.000Z' });
  });

  it('refuses to build a batch with an invalid row', () => {
    expect(() =>
      buildBatch({
        shard,
        window,
        collectedAt: new Date(),
        resources: [],
        rows: [
          {
            ...MetricRowSchema.parse({
              resourceArn: arn,
              accountId: shard.accountId,
              region: shard.region,
              service: 'ec2',
              resourceType: 'instance',
              metric: 'CPUUtilization',
              statistic: 'Average',
              unit: 'Percent',
              periodStart: '2024-05-01T10:00:00.000Z',
              periodSeconds: 300,
              value: 1,
            }),
            periodStart: '2024-05-01T10:01:00.000Z',
          },
        ],
        stats: { getMetricDataCalls: 0, metricsRequested: 0 },
      }),
    ).toThrow(/period grid/);
  });
});
