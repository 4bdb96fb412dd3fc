/**
 * The store over the RDS Data API. The Data API is faked at the SDK boundary, but every request it gets is
 * carried out on a real PostgreSQL database (test/support/data-api-postgres.ts), so these tests prove that
 * the SQL and parameters the store sends over the Data API work, inside the Data API's limits, with the
 * transaction boundaries the idempotency rests on.
 */
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDataApiDb, type Db } from '#shared/db/client';
import { DEFAULT_CHUNK_ROWS, MAX_CHUNK_BYTES, storeBatch } from '#utilization/store';
import { DATA_API_LIMITS, type DataApiOnPostgres, dataApiOnPostgres } from '../support/data-api-postgres.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { makeBatch } from './store-fixtures.ts';

const target = {
  resourceArn: 'arn:aws:rds:eu-west-1:999988887777:cluster:observatory',
  secretArn: 'arn:aws:secretsmanager:eu-west-1:999988887777:secret:observatory-db-AbCdEf',
  database: 'observatory',
};

let pg: TestDatabase;
let api: DataApiOnPostgres;
let db: Db;

beforeAll(async () => {
  pg = await createTestDatabase();
});
afterAll(async () => {
  await pg?.drop();
});
beforeEach(async () => {
  await pg.truncate();
  api = dataApiOnPostgres(pg.url);
  db = createDataApiDb(target, new RDSDataClient({ region: 'eu-west-1' })).db;
});
afterEach(async () => {
  await api.close();
});

const rowsIn = async () =>
  pg.query<{ resource_arn: string; metric: string; value: number; period_start: Date; batch_id: string }>(
    'select resource_arn, metric, value, period_start, batch_id from metric_rows order by 1, 2, 4',
  );

describe('storeBatch over the RDS Data API', () => {
  it('stores a batch in one transaction of text-parameter statements, with the rows node-postgres would write', async () => {
    const batch = makeBatch({ resources: 3, periods: 10 }); // 60 rows
    const result = await storeBatch(db, JSON.stringify(batch), { chunkRows: 25 });
    expect(result).toMatchObject({ outcome: 'stored', rows: 60, resources: 3, rowsChanged: 60 });

    const viaDataApi = await rowsIn();
    await pg.truncate();
    await storeBatch(pg.db, batch, { chunkRows: 25 });
    expect(viaDataApi).toEqual(await rowsIn());

    const begin = api.seen.findIndex((s) => s.command === 'BeginTransaction');
    const inTx = api.seen.slice(begin + 1, -1);
    expect(api.seen.at(-1)!.command).toBe('CommitTransaction');
    expect(inTx.every((s) => s.command === 'ExecuteStatement' && s.transactionId)).toBe(true);
    expect(inTx.map((s) => s.sql!.split(/\s+/).slice(0, 3).join(' '))).toEqual([
      'insert into "batch_ledger"',
      'insert into resources',
      'select exists (select', // is the first row stored already? (no: plain inserts)
      'insert into metric_rows',
      'insert into metric_rows',
      'insert into metric_rows',
      'update "batch_ledger" set', // the checksum, hashed while the rows were written
      'select "collected_at" from', // another stored delivery with the same content?
    ]);
    // Before the transaction: the redelivery look-up and the partitions of the rows' months.
    expect(api.seen.slice(0, begin).map((s) => s.sql!.split(/\s+/).slice(0, 2).join(' '))).toEqual([
      'update "batch_ledger"',
      'select observatory_ensure_metric_partitions(:1::timestamptz,',
    ]);
  });

  it('keeps the largest chunk the store allows inside the SQL-text and request-size limits', async () => {
    // Worst case for the request size: long strings full of characters that JSON escapes twice (quotes,
    // backslashes) and multi-byte UTF-8.
    const metric = `Custom"Metric\\\\é€-${'"\\'.repeat(60)}`;
    const batch = makeBatch({
      resources: 40,
      periods: 200,
      metrics: [{ metric }, { metric: `${metric}2` }],
      resource: {
        tags: Object.fromEntries(
          Array.from({ length: 50 }, (_, i) => [`k${i}"\\`, `v"\\é${'x'.repeat(200)}`]),
        ),
      },
    }); // 16,000 rows of about 500 bytes as they travel
    const chunks: number[] = [];
    const result = await storeBatch(db, batch, {
      chunkRows: Number.MAX_SAFE_INTEGER,
      chunkBytes: Number.POSITIVE_INFINITY,
      onChunk: ({ table, requestBytes }) => {
        if (table === 'metric_rows') chunks.push(requestBytes);
      },
    });
    expect(result).toMatchObject({ outcome: 'stored', rows: 16_000, rowsChanged: 16_000 });
    const requests = api.seen.filter((s) => s.command === 'ExecuteStatement');
    const largest = Math.max(...requests.map((s) => s.requestBytes));
    // The fake refuses any request over a limit, so getting here proves every request fit; the largest
    // one shows the chunk rule used nearly all of the room, not a fraction of it.
    expect(largest).toBeLessThanOrEqual(DATA_API_LIMITS.requestBytes);
    expect(largest).toBeGreaterThan(MAX_CHUNK_BYTES - 4096);
    expect(Math.max(...requests.map((s) => s.sql!.length))).toBeLessThan(DATA_API_LIMITS.sqlChars / 16);
    expect(chunks.length).toBeGreaterThan(1);
    const [stored] = await pg.query<{ n: string; m: string }>(
      'select count(*) as n, min(metric) as m from metric_rows',
    );
    expect(stored).toEqual({ n: '16000', m: metric });
  });

  it('keeps the default chunk of ordinary rows far inside the request limit', async () => {
    const batch = makeBatch({ resources: 50, periods: DEFAULT_CHUNK_ROWS / 100 }); // one default chunk
    await storeBatch(db, batch);
    const biggest = Math.max(...api.seen.map((s) => s.requestBytes));
    expect(biggest).toBeLessThan(DATA_API_LIMITS.requestBytes / 2);
  });

  it('rolls the transaction back when a statement fails mid-batch, leaving nothing written', async () => {
    api.failOn('insert into metric_rows');
    const failure = await storeBatch(db, makeBatch({ resources: 1, periods: 4 })).catch((e: Error) => e);
    expect(failure).toBeInstanceOf(Error);
    expect(((failure as Error).cause as Error).name).toBe('DatabaseErrorException');
    expect(api.seen.at(-1)!.command).toBe('RollbackTransaction');
    expect(api.seen.some((s) => s.command === 'CommitTransaction')).toBe(false);
    expect(await pg.query('select * from batch_ledger')).toEqual([]);
    expect(await pg.query('select * from resources')).toEqual([]);
  });

  it('answers a redelivery with one statement and no transaction', async () => {
    const text = JSON.stringify(makeBatch({ resources: 2, periods: 4 }));
    await storeBatch(db, text);
    const before = api.seen.length;
    expect(await storeBatch(db, text)).toMatchObject({ outcome: 'duplicate', rows: 16, rowsChanged: 0 });
    expect(api.seen.slice(before).map((s) => s.command)).toEqual(['ExecuteStatement']);
    expect(await pg.query('select attempts from batch_ledger')).toEqual([{ attempts: 2 }]);
  });

  it('records a rejected batch without a transaction', async () => {
    const bad = { ...makeBatch({ resources: 1, periods: 1 }), version: 7 };
    expect((await storeBatch(db, bad)).outcome).toBe('rejected');
    expect(api.seen.map((s) => s.command)).toEqual(['ExecuteStatement', 'ExecuteStatement']);
    expect(await pg.query('select status from batch_ledger')).toEqual([{ status: 'rejected' }]);
  });

  it('redoes a delivery with upserts when a plain insert meets a stored row, over the Data API too', async () => {
    const t0 = new Date('2025-01-06T10:00:00Z');
    const later = makeBatch({
      resources: 1,
      periods: 3,
      windowStart: new Date(t0.getTime() + 3 * 300_000),
      collectedAt: new Date('2025-01-06T12:00:00Z'),
      batchId: 'later',
      value: () => 2,
    });
    const earlier = makeBatch({
      resources: 1,
      periods: 6,
      windowStart: t0,
      collectedAt: new Date('2025-01-06T11:00:00Z'),
      batchId: 'earlier',
      value: () => 1,
    });
    await storeBatch(db, later);
    const before = api.seen.length;
    // The first row of `earlier` is new, so it starts with plain inserts and meets `later`'s rows.
    expect(await storeBatch(db, earlier)).toMatchObject({ outcome: 'stored', rowsChanged: 6 });
    const commands = api.seen.slice(before).map((s) => s.command);
    expect(commands.filter((c) => c === 'RollbackTransaction')).toHaveLength(1);
    expect(commands.at(-1)).toBe('CommitTransaction');
    expect((await rowsIn()).map((r) => `${r.batch_id}=${r.value}`)).toEqual([
      ...Array(3).fill('earlier=1'),
      ...Array(3).fill('later=2'),
      ...Array(3).fill('earlier=1'),
      ...Array(3).fill('later=2'),
    ]);
  });

  it('lets a later collection supersede an earlier one over the Data API too', async () => {
    const at = (collectedAt: string, v: number) =>
      makeBatch({ resources: 1, periods: 3, collectedAt: new Date(collectedAt), value: () => v });
    await storeBatch(db, at('2025-01-06T12:00:00Z', 2));
    expect(await storeBatch(db, at('2025-01-06T11:00:00Z', 1))).toMatchObject({
      outcome: 'stored',
      rowsChanged: 0,
    });
    expect(new Set((await rowsIn()).map((r) => r.value))).toEqual(new Set([2]));
    expect(await pg.query('select count(*)::int as n from batch_ledger')).toEqual([{ n: 2 }]);
  });
});
