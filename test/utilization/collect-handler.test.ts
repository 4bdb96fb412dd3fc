import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { AssumeRoleCommand, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { BatchSchema } from '#utilization/rows';
import { answerEc2Shard } from '../fixtures/aws/ec2-shard.ts';

const stsMock = mockClient(STSClient);
const ec2Mock = mockClient(EC2Client);
const cwMock = mockClient(CloudWatchClient);
const s3Mock = mockClient(S3Client);
const sqsMock = mockClient(SQSClient);

const context = {
  functionName: 'observatory-collect',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:999988887777:function:observatory-collect',
  memoryLimitInMB: '1024',
  awsRequestId: '5f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b',
  logGroupName: '/aws/lambda/observatory-collect',
  logStreamName: '2024/05/01/[$LATEST]0123456789abcdef',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 600_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
} as Context;

/** As the collection workflow sends it: the Map item under `shard`, the deploy-time parameters beside it. */
const event = {
  shard: { accountId: '111122223333', region: 'eu-west-1', service: 'ec2' },
  executionId:
    'arn:aws:states:eu-west-1:999988887777:execution:Collection:6c1d0e2f-3a4b-4c5d-8e9f-0a1b2c3d4e5f',
  roleName: 'InfraObservatoryReader',
  externalId: 'observatory-7f3a',
  lookbackMinutes: 60,
  periodSeconds: 300,
  delayMinutes: 10,
  runStartedAt: '2024-05-01T11:07:31.000Z',
};

type Handler = (event: unknown, context: Context) => Promise<Record<string, unknown>>;
let handler: Handler;
let emf: string[] = [];

beforeAll(async () => {
  vi.stubEnv('BATCH_BUCKET', 'observatory-batches-999988887777');
  vi.stubEnv('STORE_QUEUE_URL', 'https://sqs.eu-west-1.amazonaws.com/999988887777/observatory-store');
  vi.stubEnv('POWERTOOLS_METRICS_NAMESPACE', 'InfraObservatory');
  vi.stubEnv('POWERTOOLS_SERVICE_NAME', 'utilization-collect');
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'CRITICAL');
  vi.stubEnv('AWS_REGION', 'eu-west-1');
  ({ handler } = (await import('#utilization/collect-handler')) as unknown as { handler: Handler });
  const { metrics } = await import('#shared/powertools');
  const emfConsole = Reflect.get(metrics, 'console') as { log: (line: string) => void };
  vi.spyOn(emfConsole, 'log').mockImplementation((line: string) => {
    emf.push(line);
  });
});

afterAll(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

beforeEach(() => {
  emf = [];
  for (const m of [stsMock, ec2Mock, cwMock, s3Mock, sqsMock]) m.reset();
  answerEc2Shard({ sts: stsMock, ec2: ec2Mock, cw: cwMock });
  s3Mock.on(PutObjectCommand).resolves({ ETag: '"9b2cf535f27731c974343645a3985328"' });
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'b6d3c1a2-0f9e-4d8c-b7a6-5e4f3d2c1b0a' });
});

function emitted(name: string): number | undefined {
  for (const line of emf) {
    const doc = JSON.parse(line) as Record<string, unknown>;
    if (name in doc) return doc[name] as number;
  }
  return undefined;
}

describe('collect handler', () => {
  it('writes a valid batch to S3, announces it on SQS and returns the summary', async () => {
    const summary = await handler(event, context);
    const put = s3Mock.commandCalls(PutObjectCommand);
    expect(put).toHaveLength(1);
    const { Bucket, Key, Body, ContentType } = put[0]!.args[0].input;
    expect(Bucket).toBe('observatory-batches-999988887777');
    expect(Key).toBe('batches/ec2/111122223333/eu-west-1/20240501T095500Z_20240501T105500Z_300s.json');
    expect(ContentType).toBe('application/json');
    const batch = BatchSchema.parse(JSON.parse(Body as string));
    expect(batch.resources).toHaveLength(4);
    expect(batch.rows.length).toBeGreaterThan(0);

    const sent = sqsMock.commandCalls(SendMessageCommand);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.args[0].input.QueueUrl).toBe(
      'https://sqs.eu-west-1.amazonaws.com/999988887777/observatory-store',
    );
    expect(JSON.parse(sent[0]!.args[0].input.MessageBody!)).toEqual({
      bucket: 'observatory-batches-999988887777',
      key: Key,
      batchId: batch.batchId,
    });
    expect(summary).toMatchObject({
      shard: { accountId: '111122223333', region: 'eu-west-1', service: 'ec2' },
      batchId: batch.batchId,
      resources: 4,
      rows: batch.rows.length,
      getMetricDataCalls: 1,
      metricsRequested: batch.stats!.metricsRequested,
    });
    // The S3 object is written before the message that points at it.
    expect(put[0]!.calledBefore(sent[0]!)).toBe(true);
    expect(stsMock.commandCalls(AssumeRoleCommand)[0]!.args[0].input.ExternalId).toBe('observatory-7f3a');
  });

  it('emits the collection metrics in EMF', async () => {
    const summary = await handler(event, context);
    expect(emitted('ResourcesDiscovered')).toBe(4);
    expect(emitted('RowsCollected')).toBe(summary.rows);
    expect(emitted('GetMetricDataCalls')).toBe(1);
    expect(emitted('MetricsRequested')).toBe(summary.metricsRequested);
    const doc = JSON.parse(emf.find((l) => l.includes('RowsCollected'))!);
    expect(doc.CollectedService).toBe('ec2');
    expect(doc._aws.CloudWatchMetrics[0].Namespace).toBe('InfraObservatory');
  });

  it('throws an error named ShardError with the account and reason when AssumeRole is denied', async () => {
    stsMock.on(AssumeRoleCommand).rejects(
      new STSServiceException({
        name: 'AccessDenied',
        message:
          'User: arn:aws:sts::999988887777:assumed-role/collect/observatory-collect is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222233334444:role/InfraObservatoryReader',
        $fault: 'client',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    const error = (await handler(
      { ...event, shard: { ...event.shard, accountId: '222233334444' } },
      context,
    ).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ShardError');
    expect(error.message).toMatch(
      /^shard 222233334444\/eu-west-1\/ec2 failed: access-denied: AccessDenied: /,
    );
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(emitted('ShardFailures')).toBe(1);
  });

  it('rejects an event that is not a shard, naming the field', async () => {
    await expect(
      handler({ ...event, shard: { ...event.shard, service: 'lambda' } }, context),
    ).rejects.toThrow(/invalid collect event: .*shard\.service/s);
    await expect(handler({ ...event, periodSeconds: 90 }, context)).rejects.toThrow(
      /periodSeconds must be a multiple of 60, got 90/,
    );
    await expect(handler({ ...event, extra: true }, context)).rejects.toThrow(/invalid collect event/);
    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(0);
  });

  it('accepts the flat form of the event as well', async () => {
    const { shard, executionId: _ignored, ...params } = event;
    const summary = await handler({ ...shard, ...params }, context);
    expect(summary.shard).toEqual(shard);
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(1);
  });
});
