import { Readable } from 'node:stream';
import { GetObjectCommand, NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { metrics } from '#shared/powertools';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { makeBatch } from './store-fixtures.ts';

let pg: TestDatabase;
const s3 = mockClient(S3Client);
const objects = new Map<string, string>();

/** A GetObject body as the SDK returns it: a stream with the SDK's transform helpers. */
function body(text: string) {
  return Object.assign(Readable.from([Buffer.from(text)]), {
    transformToString: async () => text,
    transformToByteArray: async () => new Uint8Array(Buffer.from(text)),
    transformToWebStream: () => {
      throw new Error('not used');
    },
  });
}

function record(id: string, bodyText: string): SQSRecord {
  return {
    messageId: id,
    receiptHandle: `rh-${id}`,
    body: bodyText,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '1736157600000',
      SenderId: 'AROAEXAMPLE:collect',
      ApproximateFirstReceiveTimestamp: '1736157600100',
    },
    messageAttributes: {},
    md5OfBody: 'd41d8cd98f00b204e9800998ecf8427e',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:999988887777:observatory-store',
    awsRegion: 'eu-west-1',
  };
}

const context = {
  functionName: 'observatory-store',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:999988887777:function:observatory-store',
  memoryLimitInMB: '512',
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
  logGroupName: '/aws/lambda/observatory-store',
  logStreamName: '2025/01/06/[$LATEST]abc',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 60_000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
} as Context;

beforeAll(async () => {
  pg = await createTestDatabase();
  process.env.DATABASE_URL = pg.url;
  process.env.POWERTOOLS_METRICS_NAMESPACE = 'ObservatoryTest';
  process.env.POWERTOOLS_SERVICE_NAME = 'store';
});
afterAll(async () => {
  delete process.env.DATABASE_URL;
  await pg?.drop();
});
beforeEach(async () => {
  await pg.truncate();
  s3.reset();
  objects.clear();
  s3.on(GetObjectCommand).callsFake(async (input: { Bucket: string; Key: string }) => {
    const text = objects.get(`${input.Bucket}/${input.Key}`);
    if (text === undefined)
      throw new NoSuchKey({
        message: 'The specified key does not exist.',
        $metadata: { httpStatusCode: 404 },
      });
    return { Body: body(text), ContentType: 'application/json', ContentLength: text.length };
  });
});

describe('store handler', () => {
  it('stores, ignores duplicates, records rejections and fails only the message whose object is missing', async () => {
    const batch = makeBatch({ resources: 2, periods: 6 });
    const bad = { ...makeBatch({ resources: 1, periods: 1, batchId: 'bad-batch' }), version: 2 };
    objects.set('bucket-1/batches/good.json', JSON.stringify(batch));
    objects.set('bucket-1/batches/bad.json', JSON.stringify(bad));
    const ref = (key: string) => JSON.stringify({ bucket: 'bucket-1', key, batchId: 'from-collector' });
    const event: SQSEvent = {
      Records: [
        record('m1', ref('batches/good.json')),
        record('m2', ref('batches/good.json')),
        record('m3', ref('batches/bad.json')),
        record('m4', ref('batches/gone.json')),
        record('m5', 'not json'),
      ],
    };
    const added: [string, number][] = [];
    const spy = vi.spyOn(metrics, 'addMetric').mockImplementation((name, _unit, value) => {
      added.push([name, value]);
      return metrics;
    });
    try {
      const { handler } = await import('#utilization/store-handler');
      const response = await handler(event, context);
      expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm4' }, { itemIdentifier: 'm5' }] });
    } finally {
      spy.mockRestore();
    }
    expect(added.filter(([n]) => n !== 'ColdStart')).toEqual([
      ['BatchesStored', 1],
      ['RowsWritten', 24],
      ['BatchesDuplicate', 1],
      ['BatchesRejected', 1],
      ['BatchesFailed', 1],
      ['BatchesFailed', 1],
    ]);
    const ledger = await pg.query<{ batch_id: string; status: string; attempts: number }>(
      'select batch_id, status, attempts from batch_ledger order by batch_id',
    );
    expect(ledger).toEqual([
      { batch_id: batch.batchId, status: 'stored', attempts: 2 },
      { batch_id: 'bad-batch', status: 'rejected', attempts: 1 },
    ]);
    const [{ n }] = (await pg.query<{ n: string }>('select count(*) as n from metric_rows')) as [
      { n: string },
    ];
    expect(Number(n)).toBe(24);
    expect(s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input.Key)).toEqual([
      'batches/good.json',
      'batches/good.json',
      'batches/bad.json',
      'batches/gone.json',
    ]);
  });

  it('throws when every message fails, so the function error alarm sees a database outage', async () => {
    const { createStoreHandler } = await import('#utilization/store-handler');
    objects.set('b/k.json', JSON.stringify(makeBatch({ resources: 1, periods: 1 })));
    const broken = createStoreHandler({
      db: pg.db,
      reader: { read: async () => Promise.reject(new Error('connect ECONNREFUSED 10.0.0.5:5432')) },
    });
    await expect(
      broken({ Records: [record('x1', JSON.stringify({ bucket: 'b', key: 'k.json' }))] }, context),
    ).rejects.toThrow(/All records failed processing/);
  });

  it('refuses a batch object over the byte bound without downloading it, records it and fails the message to the DLQ', async () => {
    const { createStoreHandler, s3BatchReader } = await import('#utilization/store-handler');
    const text = JSON.stringify(makeBatch({ resources: 2, periods: 6 }));
    objects.set('b/big.json', text);
    let bodyRead = false;
    s3.on(GetObjectCommand).callsFake(async () => ({
      Body: Object.assign(body(text), {
        transformToByteArray: async () => {
          bodyRead = true;
          return new Uint8Array(Buffer.from(text));
        },
      }),
      ContentLength: Buffer.byteLength(text),
    }));
    const handler = createStoreHandler({
      db: pg.db,
      reader: s3BatchReader(new S3Client({ region: 'eu-west-1' }), 1000),
    });
    const response = await handler(
      {
        Records: [
          record(
            'big',
            JSON.stringify({ bucket: 'bucket-b', key: 'big.json', batchId: 'collector-batch-1' }),
          ),
          record('ok', JSON.stringify({ bucket: 'bucket-b', key: 'big.json' })),
        ],
      },
      context,
    ).catch((e: Error) => e);
    // Both records point at the too-large object: both fail (the whole invocation, as every record failed).
    expect(response).toBeInstanceOf(Error);
    expect(bodyRead).toBe(false);
    const ledger = await pg.query<{ batch_id: string; status: string; error: string }>(
      'select batch_id, status, error from batch_ledger order by batch_id',
    );
    const reason = `s3://bucket-b/big.json: batch is ${Buffer.byteLength(text)} bytes, more than the store's limit of 1000 bytes: collect it in smaller batches (the collector's batch size settings)`;
    expect(ledger).toEqual([
      { batch_id: 'collector-batch-1', status: 'rejected', error: reason },
      { batch_id: expect.stringMatching(/^invalid-[0-9a-f]{32}$/), status: 'rejected', error: reason },
    ]);
    expect(await pg.query('select count(*)::int as n from metric_rows')).toEqual([{ n: 0 }]);
  });

  it('drops month partitions past retention at most once an hour per container', async () => {
    const { createStoreHandler } = await import('#utilization/store-handler');
    await pg.query(`select observatory_ensure_metric_partitions('2001-01-15', '2001-01-15')`);
    const exists = async () =>
      (await pg.query<{ t: string | null }>(`select to_regclass('metric_rows_p200101')::text as t`))[0]!.t;
    expect(await exists()).toBe('metric_rows_p200101');
    objects.set('b/k.json', JSON.stringify(makeBatch({ resources: 1, periods: 1 })));
    const handler = createStoreHandler({
      db: pg.db,
      reader: { read: async () => objects.get('b/k.json')! },
      partitions: { retentionDays: 30 },
    });
    await handler(
      { Records: [record('p1', JSON.stringify({ bucket: 'bucket-b', key: 'k.json' }))] },
      context,
    );
    expect(await exists()).toBeNull();
    // Within the hour the container does not look again.
    await pg.query(`select observatory_ensure_metric_partitions('2001-01-15', '2001-01-15')`);
    await handler(
      { Records: [record('p2', JSON.stringify({ bucket: 'bucket-b', key: 'k.json' }))] },
      context,
    );
    expect(await exists()).toBe('metric_rows_p200101');
  });
});
