/**
 * AWS's network performance reference: pairs, queries and samples (pure), then the reader function
 * end to end with EC2 faked at the SDK client boundary in the documented response shape
 * (GetAwsNetworkPerformanceData, "Monitor using the AWS CLI" in the CloudWatch user guide), its
 * samples remote-written to a real Prometheus and read back.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EC2Client, GetAwsNetworkPerformanceDataCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  NETWORK_PERFORMANCE_PAIRS_FILE,
  type NetworkPerformancePair,
  networkPerformancePairs,
} from '#contracts/network-performance';
import { networkPerformanceQueries, networkPerformanceSamples } from '#probes/network-performance';
import { type LocalPrometheus, startPrometheus } from '../support/prometheus.ts';
import { lambdaContext } from './support/lambda-context.ts';

const REGIONS = [
  { region: 'eu-west-1', azIds: ['euw1-az1', 'euw1-az2', 'euw1-az3'] },
  { region: 'us-east-1', azIds: ['use1-az1', 'use1-az2'] },
];

/** A DataResponse as the API documents it: the query echoed, and 5-minute points with Value in ms. */
function response(
  id: string,
  pair: NetworkPerformancePair,
  points: [end: Date, ms: number, status?: string][],
) {
  return {
    Id: id,
    Source: pair.source,
    Destination: pair.destination,
    Metric: 'aggregate-latency',
    Statistic: 'p50',
    Period: 'five-minutes',
    MetricPoints: points.map(([end, ms, status]) => ({
      StartDate: new Date(end.getTime() - 300_000),
      EndDate: end,
      Value: ms,
      Status: status ?? 'OK',
    })),
  };
}

describe('networkPerformancePairs', () => {
  it('pairs every two distinct AZ IDs within each region and every two distinct regions, both ways', () => {
    const pairs = networkPerformancePairs(REGIONS);
    // 3 AZs: 3 x 2 ordered pairs; 2 AZs: 2; 2 regions: 2
    expect(pairs.filter((p) => p.scope === 'az')).toHaveLength(6 + 2);
    expect(pairs.filter((p) => p.scope === 'region')).toEqual([
      { scope: 'region', source: 'eu-west-1', destination: 'us-east-1' },
      { scope: 'region', source: 'us-east-1', destination: 'eu-west-1' },
    ]);
    // AWS publishes AZ pairs only within a region: no cross-region AZ pair
    for (const p of pairs) if (p.scope === 'az') expect(p.source.slice(0, 4)).toBe(p.destination.slice(0, 4));
    expect(new Set(pairs.map((p) => `${p.source}>${p.destination}`)).size).toBe(pairs.length);
  });

  it('has no pair for a region with one AZ and no other region', () => {
    expect(networkPerformancePairs([{ region: 'eu-west-1', azIds: ['euw1-az1'] }])).toEqual([]);
  });
});

describe('networkPerformanceSamples', () => {
  const pairs = networkPerformancePairs(REGIONS);
  const az = pairs[0]!;
  const region = pairs.find((p) => p.scope === 'region')!;
  const t = (min: number) => new Date(Date.UTC(2026, 11, 4, 12, min));

  it('keeps the newest point of each pair, in seconds, stamped with the window end, labelled by AZ ID or region', () => {
    const queries = networkPerformanceQueries(pairs);
    const azId = queries[pairs.indexOf(az)]!.Id;
    const regionId = queries[pairs.indexOf(region)]!.Id;
    const { samples, empty } = networkPerformanceSamples(pairs, [
      // out of order on purpose: the newest window wins, not the last listed
      response(azId, az, [
        [t(10), 0.41],
        [t(15), 0.52, 'OK'],
        [t(5), 0.39],
      ]),
      response(regionId, region, [[t(15), 62.44349, 'Impaired']]),
    ]);
    expect(samples).toEqual([
      {
        name: 'aws_network_performance_latency_p50_seconds',
        labels: {
          pair: 'az',
          source_region: 'eu-west-1',
          source_az_id: 'euw1-az1',
          target_az_id: 'euw1-az2',
        },
        value: expect.closeTo(0.00052, 12),
        timestampMs: t(15).getTime(),
      },
      expect.objectContaining({ name: 'aws_network_performance_status_ok', value: 1 }),
      expect.objectContaining({
        name: 'aws_network_performance_window_start_seconds',
        value: t(10).getTime() / 1000,
      }),
      {
        name: 'aws_network_performance_latency_p50_seconds',
        labels: { pair: 'region', source_region: 'eu-west-1', target_region: 'us-east-1' },
        value: expect.closeTo(0.06244349, 12),
        timestampMs: t(15).getTime(),
      },
      expect.objectContaining({ name: 'aws_network_performance_status_ok', value: 0 }),
      expect.objectContaining({ name: 'aws_network_performance_window_start_seconds' }),
    ]);
    expect(empty).toHaveLength(pairs.length - 2);
  });

  it('skips points without a value or end, and responses it did not ask for', () => {
    const { samples, empty } = networkPerformanceSamples(
      [az],
      [
        { Id: 'q0', MetricPoints: [{ EndDate: t(5) }, { Value: 0.4 }] },
        { Id: 'q7', MetricPoints: [{ EndDate: t(5), Value: 0.4 }] },
        { Id: 'other', MetricPoints: [{ EndDate: t(5), Value: 0.4 }] },
      ],
    );
    expect(samples).toEqual([]);
    expect(empty).toEqual([az]);
  });
});

const context = (remainingMs: number) =>
  lambdaContext('Observatory-Probes-euw1-AwsNetworkPerformance', remainingMs);

describe('AWS network performance handler', () => {
  const ec2 = mockClient(EC2Client);
  const env = { ...process.env };
  // eu-west-1's own pairs, as the stack bundles them: 6 AZ pairs and 1 region pair, 7 queries
  const pairs = networkPerformancePairs(REGIONS).filter((p) =>
    p.scope === 'az' ? p.region === 'eu-west-1' : p.source === 'eu-west-1',
  );
  // more pairs than one request takes, to see the split
  const many = [
    ...pairs,
    ...networkPerformancePairs([{ region: 'eu-west-1', azIds: ['euw1-az4', 'euw1-az5', 'euw1-az6'] }]),
  ];
  let prom: LocalPrometheus;
  let root: string;
  const windowEnd = new Date(Math.floor((Date.now() - 5 * 60_000) / 300_000) * 300_000);

  beforeAll(async () => {
    prom = await startPrometheus();
    root = mkdtempSync(join(tmpdir(), 'observatory-netperf-'));
    writeFileSync(join(root, NETWORK_PERFORMANCE_PAIRS_FILE), JSON.stringify(many));
    Object.assign(process.env, {
      REMOTE_WRITE_URL: prom.remoteWriteUrl,
      AMP_REGION: 'eu-west-1',
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      LAMBDA_TASK_ROOT: root,
      POWERTOOLS_SERVICE_NAME: 'aws-network-performance',
      POWERTOOLS_METRICS_NAMESPACE: 'InfraObservatory',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    });
  });
  beforeEach(() => {
    ec2.reset();
    // Each request answers for its own queries; the first page of the first request carries a NextToken.
    ec2.on(GetAwsNetworkPerformanceDataCommand).callsFake((input) => {
      const queries = input.DataQueries as { Id: string; Source: string; Destination: string }[];
      const first = !input.NextToken && queries[0]!.Id === 'q0';
      return {
        $metadata: {
          httpStatusCode: 200,
          requestId: '6d0c5a8e-1111-4000-8000-000000000000',
          attempts: 1,
          totalRetryDelay: 0,
        },
        DataResponses: queries
          .filter((_, i) => (first ? i < 5 : !input.NextToken || i >= 5))
          .filter((q) => !q.Destination.endsWith('az5'))
          .map((q) => {
            const pair = many[Number(q.Id.slice(1))]!;
            // euw1-az1 -> euw1-az2 at 0.5 ms, other AZ pairs 0.4 ms, the region pair 62.4 ms
            const ms =
              pair.scope === 'region'
                ? 62.44349
                : pair.source === 'euw1-az1' && pair.destination === 'euw1-az2'
                  ? 0.5
                  : 0.4;
            return response(q.Id, pair, [
              [new Date(windowEnd.getTime() - 300_000), ms * 0.9],
              [windowEnd, ms],
            ]);
          }),
        ...(first ? { NextToken: 'page-2' } : {}),
      };
    });
  });
  afterAll(async () => {
    process.env = env;
    ec2.restore();
    rmSync(root, { recursive: true, force: true });
    await prom?.stop();
  });

  it('asks for the last 30 minutes in requests of at most 10 queries, following NextToken', async () => {
    const { handler } = await import('#probes/network-performance-handler');
    const before = Date.now();
    const r = await handler({}, context(20_000));
    const calls = ec2.commandCalls(GetAwsNetworkPerformanceDataCommand).map((c) => c.args[0].input);
    // 13 pairs: queries 0-9 in a first request (two pages), 10-12 in a second
    expect(calls.map((c) => [c.DataQueries?.[0]?.Id, c.DataQueries?.length, c.NextToken ?? null])).toEqual([
      ['q0', 10, null],
      ['q0', 10, 'page-2'],
      ['q10', 3, null],
    ]);
    for (const c of calls) {
      expect(
        c.DataQueries?.every(
          (q) => q.Metric === 'aggregate-latency' && q.Statistic === 'p50' && q.Period === 'five-minutes',
        ),
      ).toBe(true);
      expect(c.EndTime!.getTime() - c.StartTime!.getTime()).toBe(30 * 60_000);
      expect(c.EndTime!.getTime()).toBeGreaterThanOrEqual(before);
    }
    // the pairs into euw1-az5 have no point: AWS has not published them (yet)
    expect(r).toMatchObject({
      pairs: 13,
      requests: 3,
      samples: 11 * 3,
      samplesFailed: 0,
      remoteWriteOk: true,
    });
    expect(r.empty).toEqual([
      { scope: 'az', region: 'eu-west-1', source: 'euw1-az4', destination: 'euw1-az5' },
      { scope: 'az', region: 'eu-west-1', source: 'euw1-az6', destination: 'euw1-az5' },
    ]);
  });

  it('lands the newest window of each pair in Prometheus, by AZ ID and by region, stamped with its end', async () => {
    const at = new Date(windowEnd.getTime() + 1000);
    const az = await prom.query(
      'aws_network_performance_latency_p50_seconds{pair="az",source_az_id="euw1-az1",target_az_id="euw1-az2"}',
      at,
    );
    expect(az.map((s) => [s.metric.source_region, Number(s.value[1])])).toEqual([['eu-west-1', 0.0005]]);
    const region = await prom.query('aws_network_performance_latency_p50_seconds{pair="region"}', at);
    expect(region.map((s) => [s.metric.source_region, s.metric.target_region, Number(s.value[1])])).toEqual([
      ['eu-west-1', 'us-east-1', 0.06244349],
    ]);
    // stamped with the window end: nothing at the window's start, when only the older window (0.9 x) was
    const older = await prom.query(
      'aws_network_performance_latency_p50_seconds{source_az_id="euw1-az1",target_az_id="euw1-az2"}',
      new Date(windowEnd.getTime() - 1000),
    );
    expect(older).toEqual([]);
    const start = await prom.query('aws_network_performance_window_start_seconds{pair="region"}', at);
    expect(Number(start[0]!.value[1])).toBe((windowEnd.getTime() - 300_000) / 1000);
    expect(
      (await prom.query('observatory_run_success{function=~".*AwsNetworkPerformance"}'))[0]!.value[1],
    ).toBe('1');
    // the run's own figures come from the write's result: 11 pairs with a window, 3 samples each
    expect(
      (await prom.query('observatory_samples_written{function=~".*AwsNetworkPerformance"}'))[0]!.value[1],
    ).toBe(String(11 * 3));
  });

  it('writes the same window again without error when a run sees nothing newer', async () => {
    const { handler } = await import('#probes/network-performance-handler');
    const r = await handler({}, context(20_000));
    expect(r).toMatchObject({ remoteWriteOk: true, samplesFailed: 0, samples: 11 * 3 });
  });
});
