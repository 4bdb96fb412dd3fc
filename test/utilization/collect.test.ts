import {
  CloudWatchClient,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
} from '@aws-sdk/client-cloudwatch';
import { DescribeInstancesCommand, EC2Client, EC2ServiceException } from '@aws-sdk/client-ec2';
import { AssumeRoleCommand, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { assumeRoleCredentials } from '#utilization/assume-role';
import { createShardClients } from '#utilization/aws-clients';
import type { BatchSink } from '#utilization/batch-sink';
import { type CollectPorts, collectShard } from '#utilization/collect';
import { type Batch, BatchSchema, type Shard } from '#utilization/rows';
import { ShardError } from '#utilization/shard-error';
import { answerEc2Shard } from '../fixtures/aws/ec2-shard.ts';
import { answerGetMetricData, type FakeOptions, readsAgent } from '../fixtures/aws/get-metric-data-fake.ts';

const stsMock = mockClient(STSClient);
const ec2Mock = mockClient(EC2Client);
const cwMock = mockClient(CloudWatchClient);

const shard: Shard = { accountId: '111122223333', region: 'eu-west-1', service: 'ec2' };
const now = new Date('2024-05-01T11:07:31Z');
const arnOf = (id: string) => `arn:aws:ec2:eu-west-1:111122223333:instance/${id}`;

function setup(fake: FakeOptions = {}) {
  answerEc2Shard({ sts: stsMock, ec2: ec2Mock, cw: cwMock }, fake);
  const written: { batch: Batch; key: string }[] = [];
  const sink: BatchSink = {
    async put(batch, key) {
      written.push({ batch, key });
      return { bucket: 'observatory-batches', key, batchId: batch.batchId };
    },
  };
  const ports: CollectPorts = {
    credentials: assumeRoleCredentials(new STSClient({ region: 'eu-west-1' }), {
      roleName: 'InfraObservatoryReader',
      now: () => now,
    }),
    clientsFor: (s, credentials) => createShardClients(s.region, credentials),
    sink,
    now: () => now,
    instanceTypes: new Map(),
    taskDefinitions: new Map(),
  };
  return { ports, written };
}

const request = { shard, lookbackMinutes: 60, periodSeconds: 300, delayMinutes: 10 };

beforeEach(() => {
  stsMock.reset();
  ec2Mock.reset();
  cwMock.reset();
});

describe('collectShard', () => {
  it('collects an EC2 shard into one valid batch and reports what it cost', async () => {
    const { ports, written } = setup();
    const { summary } = await collectShard(request, ports);
    expect(written).toHaveLength(1);
    const batch = BatchSchema.parse(JSON.parse(JSON.stringify(written[0]!.batch)));
    expect(batch.window).toEqual({ start: '2024-05-01T09:55:00.000Z', end: '2024-05-01T10:55:00.000Z' });
    expect(batch.resources).toHaveLength(4);
    // web-1: 6 + memory 2 + disks 2 x (2 mounts + MAX) = 14 queries; two more instances 6 each;
    // batch-worker stopped on 20 April, before the window, and costs nothing.
    const calls = cwMock.commandCalls(GetMetricDataCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input.MetricDataQueries).toHaveLength(26);
    expect(summary).toMatchObject({
      shard,
      batchId: '111122223333-eu-west-1-ec2-20240501T095500Z_20240501T105500Z_300s',
      key: 'batches/ec2/111122223333/eu-west-1/20240501T095500Z_20240501T105500Z_300s.json',
      batches: 1,
      resources: 4,
      getMetricDataCalls: 1,
      metricsRequested: 24,
      listMetricsCalls: 2,
      skippedResources: 1,
    });
    expect(batch.stats).toEqual({ getMetricDataCalls: 1, metricsRequested: 24 });
    // 22 returned series (10 + 6 + 6), 12 five-minute periods each.
    expect(batch.rows).toHaveLength(22 * 12);
    expect(summary.rows).toBe(batch.rows.length);
    expect(new Set(batch.rows.map((r) => r.resourceArn))).not.toContain(arnOf('i-0a1b2c3d4e5f60003'));
  });

  it('sends a shard larger than the batch limits as several batches within them', async () => {
    const { ports, written } = setup();
    const limits = { maxRows: 100, maxBytes: 1024 * 1024 };
    const { summary } = await collectShard({ ...request, batchLimits: limits }, ports);
    // 264 rows at most 100 a batch.
    expect(written.map((w) => w.batch.rows.length)).toEqual([100, 100, 64]);
    expect(written.map((w) => w.key)).toEqual(
      [1, 2, 3].map(
        (k) => `batches/ec2/111122223333/eu-west-1/20240501T095500Z_20240501T105500Z_300s.part${k}of3.json`,
      ),
    );
    for (const { batch } of written) {
      expect(Buffer.byteLength(JSON.stringify(batch))).toBeLessThanOrEqual(limits.maxBytes);
      expect(() => BatchSchema.parse(batch)).not.toThrow();
    }
    expect(
      new Set(
        written.flatMap((w) =>
          w.batch.rows.map((r) => `${r.resourceArn}${r.metric}${r.statistic}${r.periodStart}`),
        ),
      ).size,
    ).toBe(264);
    expect(summary).toMatchObject({
      batches: 3,
      rows: 264,
      batchId: '111122223333-eu-west-1-ec2-20240501T095500Z_20240501T105500Z_300s-part1of3',
      key: written[0]!.key,
    });
  });

  it('flags an instance without the agent and never emits memory rows for it', async () => {
    const { ports, written } = setup();
    await collectShard(request, ports);
    const batch = written[0]!.batch;
    const flag = (id: string) => batch.resources.find((r) => r.resourceArn === arnOf(id))!.hasAgentMetrics;
    expect(flag('i-0a1b2c3d4e5f60001')).toBe(true);
    expect(flag('i-0a1b2c3d4e5f60002')).toBe(false);
    const memoryArns = new Set(
      batch.rows.filter((r) => r.metric === 'mem_used_percent').map((r) => r.resourceArn),
    );
    expect([...memoryArns]).toEqual([arnOf('i-0a1b2c3d4e5f60001')]);
    expect(
      batch.rows.some((r) => r.resourceArn === arnOf('i-0a1b2c3d4e5f60002') && r.metric.includes('_used_')),
    ).toBe(false);
  });

  it('flags an instance whose agent published nothing in the window', async () => {
    const { ports, written } = setup({ empty: readsAgent });
    const { summary } = await collectShard(request, ports);
    const batch = written[0]!.batch;
    expect(batch.resources.every((r) => r.hasAgentMetrics === false)).toBe(true);
    expect(batch.rows.filter((r) => r.metric === 'mem_used_percent')).toEqual([]);
    expect(summary.withMemoryData).toBe(0);
  });

  it('fails the shard with access-denied when CloudWatch answers Forbidden', async () => {
    const { ports, written } = setup();
    cwMock.on(GetMetricDataCommand).callsFake((input: GetMetricDataCommandInput) => {
      const out = answerGetMetricData(input);
      for (const r of out.MetricDataResults!)
        Object.assign(r, { StatusCode: 'Forbidden', Timestamps: [], Values: [] });
      return out;
    });
    await expect(collectShard(request, ports)).rejects.toMatchObject({
      name: 'ShardError',
      reason: 'access-denied',
      message: expect.stringContaining('shard 111122223333/eu-west-1/ec2 failed: access-denied'),
    });
    expect(written).toHaveLength(0);
  });

  it('fails the shard when the member role may not describe instances', async () => {
    const { ports } = setup();
    ec2Mock.on(DescribeInstancesCommand).rejects(
      new EC2ServiceException({
        name: 'UnauthorizedOperation',
        message:
          'You are not authorized to perform this operation. User: arn:aws:sts::111122223333:assumed-role/InfraObservatoryReader/infra-observatory-collector is not authorized to perform: ec2:DescribeInstances',
        $fault: 'client',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    const error = (await collectShard(request, ports).catch((e: unknown) => e)) as ShardError;
    expect(error).toBeInstanceOf(ShardError);
    expect(error.message).toMatch(
      /^shard 111122223333\/eu-west-1\/ec2 failed: access-denied: UnauthorizedOperation/,
    );
  });

  it('stops at AssumeRole when the account refuses, naming the shard', async () => {
    const { ports } = setup();
    stsMock.on(AssumeRoleCommand).rejects(
      new STSServiceException({
        name: 'AccessDenied',
        message:
          'User: arn:aws:sts::999988887777:assumed-role/collector is not authorized to perform: sts:AssumeRole',
        $fault: 'client',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    await expect(collectShard(request, ports)).rejects.toMatchObject({
      name: 'ShardError',
      accountId: '111122223333',
      reason: 'access-denied',
      where: { region: 'eu-west-1', service: 'ec2' },
    });
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)).toHaveLength(0);
  });

  it('computes the window from the run start so every shard of a run shares it', async () => {
    const { ports, written } = setup();
    await collectShard({ ...request, runStartedAt: new Date('2024-05-01T10:03:00Z') }, ports);
    expect(written[0]!.batch.window).toEqual({
      start: '2024-05-01T08:50:00.000Z',
      end: '2024-05-01T09:50:00.000Z',
    });
  });
});

describe('collectShard on an empty shard', () => {
  it('still writes a batch, with no resources and no CloudWatch call', async () => {
    const { ports, written } = setup();
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    const { summary } = await collectShard(request, ports);
    expect(written[0]!.batch.resources).toEqual([]);
    expect(written[0]!.batch.rows).toEqual([]);
    expect(summary).toMatchObject({
      resources: 0,
      rows: 0,
      getMetricDataCalls: 0,
      metricsRequested: 0,
      listMetricsCalls: 0,
    });
    expect(cwMock.calls()).toHaveLength(0);
  });
});
