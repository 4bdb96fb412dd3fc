import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MAX_CHUNK_BYTES, type StoreResult, storeBatch } from '#utilization/store';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { instanceArn, makeBatch } from './store-fixtures.ts';

let pg: TestDatabase;

beforeAll(async () => {
  pg = await createTestDatabase();
});
afterAll(async () => {
  await pg?.drop();
});
beforeEach(async () => {
  await pg.truncate();
});

async function count(table: string): Promise<number> {
  const [row] = await pg.query<{ n: string }>(`select count(*) as n from ${table}`);
  return Number(row!.n);
}

async function snapshot() {
  return pg.query(
    'select resource_arn, metric, statistic, period_start, period_seconds, value, batch_id, collected_at, updated_at from metric_rows order by 1, 2, 3, 4',
  );
}

async function ledger() {
  return pg.query<{
    batch_id: string;
    status: string;
    attempts: number;
    error: string | null;
    row_count: number;
    checksum: string;
  }>('select batch_id, status, attempts, error, row_count, checksum from batch_ledger order by batch_id');
}

describe('storeBatch', () => {
  it('stores a valid batch with its ledger row, resources and metric rows in one go', async () => {
    const batch = makeBatch({ resources: 3, periods: 12 });
    const result = await storeBatch(pg.db, batch);
    expect(result).toMatchObject({
      outcome: 'stored',
      batchId: batch.batchId,
      rows: 72,
      resources: 3,
      rowsChanged: 72,
    });
    expect(await count('metric_rows')).toBe(72);
    expect(await count('resources')).toBe(3);
    const [entry] = await ledger();
    expect(entry).toMatchObject({
      batch_id: batch.batchId,
      status: 'stored',
      attempts: 1,
      error: null,
      row_count: 72,
    });
    expect(entry!.checksum).toMatch(/^[0-9a-f]{64}$/);
    const [row] = await pg.query<{ value: number; period_start: Date; unit: string; account_id: string }>(
      `select value, period_start, unit, account_id from metric_rows
        where resource_arn = $1 and metric = 'CPUUtilization' order by period_start limit 1`,
      [instanceArn(1)],
    );
    expect(row).toEqual({
      value: 1000,
      period_start: new Date('2025-01-06T10:00:00Z'),
      unit: 'Percent',
      account_id: '111122223333',
    });
  });

  it('stores the raw JSON text of a batch file the same way as the parsed object', async () => {
    const batch = makeBatch({ resources: 1, periods: 2 });
    expect((await storeBatch(pg.db, JSON.stringify(batch))).outcome).toBe('stored');
    expect((await storeBatch(pg.db, batch)).outcome).toBe('duplicate');
  });

  it('drops a redelivered batch without writing rows', async () => {
    const batch = makeBatch({ resources: 2, periods: 6 });
    await storeBatch(pg.db, batch);
    const before = await snapshot();
    const again = await storeBatch(pg.db, JSON.parse(JSON.stringify(batch)));
    expect(again).toMatchObject({ outcome: 'duplicate', batchId: batch.batchId, rows: 24, rowsChanged: 0 });
    expect(await snapshot()).toEqual(before);
    expect(await ledger()).toMatchObject([{ status: 'stored', attempts: 2, error: null }]);
  });

  it('treats a re-collection of the same window with the same data as a duplicate', async () => {
    const batch = makeBatch({ resources: 1, periods: 3 });
    await storeBatch(pg.db, batch);
    const later = new Date(Date.parse(batch.collectedAt) + 3_600_000).toISOString();
    const recollected = {
      ...batch,
      collectedAt: later,
      resources: batch.resources.map((r) => ({ ...r, observedAt: later })),
      rows: [...batch.rows].reverse(),
    };
    expect((await storeBatch(pg.db, recollected)).outcome).toBe('duplicate');
  });

  it('stores exactly one of 8 concurrent deliveries of the same batch', async () => {
    const batch = makeBatch({ resources: 20, periods: 24 }); // 960 rows
    const text = JSON.stringify(batch);
    let inFlight = 0;
    let maxInFlight = 0;
    const deliveries = Array.from({ length: 8 }, async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        // Hold the winner's transaction open after its first chunk so the others arrive while it is uncommitted.
        return await storeBatch(pg.db, text, {
          chunkRows: 200,
          onChunk: ({ index }) => (index === 0 ? sleep(100) : undefined),
        });
      } finally {
        inFlight--;
      }
    });
    const results: StoreResult[] = await Promise.all(deliveries);
    expect(maxInFlight).toBe(8);
    expect(results.filter((r) => r.outcome === 'stored')).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'duplicate')).toHaveLength(7);
    expect(await count('metric_rows')).toBe(960);
    expect(await ledger()).toMatchObject([{ batch_id: batch.batchId, status: 'stored', attempts: 8 }]);
    const writers = await pg.query<{ batch_id: string; n: string }>(
      'select batch_id, count(*) as n from metric_rows group by 1',
    );
    expect(writers).toEqual([{ batch_id: batch.batchId, n: '960' }]);
  });

  it('keeps the newer value when overlapping batches arrive in either order', async () => {
    const t0 = new Date('2025-01-06T10:00:00Z');
    // A covers periods 0-11 collected at 10:20; B covers periods 6-17, collected an hour later with other values.
    const a = makeBatch({
      resources: 1,
      periods: 12,
      windowStart: t0,
      collectedAt: new Date('2025-01-06T11:10:00Z'),
      value: () => 1,
    });
    const b = makeBatch({
      resources: 1,
      periods: 12,
      windowStart: new Date(t0.getTime() + 6 * 300_000),
      collectedAt: new Date('2025-01-06T12:10:00Z'),
      value: () => 2,
    });
    const values = async () =>
      (
        await pg.query<{ v: number }>(
          `select value as v from metric_rows where metric = 'CPUUtilization' order by period_start`,
        )
      ).map((r) => r.v);
    const expected = [...Array(6).fill(1), ...Array(12).fill(2)];

    expect((await storeBatch(pg.db, a)).rowsChanged).toBe(24);
    const newer = await storeBatch(pg.db, b);
    expect(newer).toMatchObject({ outcome: 'stored', rowsChanged: 24 });
    expect(await values()).toEqual(expected);

    await pg.truncate();
    await storeBatch(pg.db, b);
    const older = await storeBatch(pg.db, a);
    // Only A's 6 periods outside B's window (x 2 metrics) are written; the overlap keeps B's values.
    expect(older).toMatchObject({ outcome: 'stored', rows: 24, rowsChanged: 12 });
    expect(await values()).toEqual(expected);
    const owners = await pg.query<{ batch_id: string; n: string }>(
      'select batch_id, count(*) as n from metric_rows group by 1 order by 1',
    );
    expect(owners).toEqual([
      { batch_id: a.batchId, n: '12' },
      { batch_id: b.batchId, n: '24' },
    ]);
  });

  it('writes nothing when the batch dies mid-transaction, and a retry later succeeds', async () => {
    const batch = makeBatch({ resources: 10, periods: 25 }); // 500 rows -> 5 chunks of 100
    const chunks: string[] = [];
    const failing = storeBatch(pg.db, batch, {
      chunkRows: 100,
      onChunk: ({ table, index }) => {
        chunks.push(`${table}#${index}`);
        if (table === 'metric_rows' && index === 2) throw new Error('injected failure after 3 metric chunks');
      },
    });
    await expect(failing).rejects.toThrow('injected failure after 3 metric chunks');
    expect(chunks).toEqual(['resources#0', 'metric_rows#0', 'metric_rows#1', 'metric_rows#2']);
    expect(await count('metric_rows')).toBe(0);
    expect(await count('resources')).toBe(0);
    expect(await count('batch_ledger')).toBe(0);

    const retry = await storeBatch(pg.db, batch, { chunkRows: 100 });
    expect(retry).toMatchObject({ outcome: 'stored', rows: 500, rowsChanged: 500 });
    expect(await count('metric_rows')).toBe(500);
    expect(await ledger()).toMatchObject([{ status: 'stored', attempts: 1 }]);
  });

  it('rejects an invalid batch with its reason and writes no data rows', async () => {
    const batch = makeBatch({ resources: 2, periods: 3 });
    const bad = JSON.parse(JSON.stringify(batch));
    bad.rows[1].unit = 'Furlongs';
    bad.rows[4].value = null; // NaN does not survive JSON: a collector bug shows up as null
    bad.rows[5].periodStart = '2025-01-06T10:01:00Z';
    bad.rows[7].region = 'us-east-1';
    bad.rows[8].service = 's3';
    const result = await storeBatch(pg.db, bad);
    expect(result.outcome).toBe('rejected');
    expect(result.batchId).toBe(batch.batchId);
    expect(result.reason).toContain('unit: bad unit "Furlongs" (1 of 12 rows: rows[1])');
    expect(result.reason).toContain('rows[4]');
    expect(result.reason).toContain(
      '2025-01-06T10:01:00Z is not on the 300s period grid (1 of 12 rows: rows[5])',
    );
    expect(result.reason).toContain('unknown service "s3" (1 of 12 rows: rows[8])');
    expect(await count('metric_rows')).toBe(0);
    expect(await count('resources')).toBe(0);
    expect(await ledger()).toMatchObject([
      { batch_id: batch.batchId, status: 'rejected', attempts: 1, error: result.reason },
    ]);

    // A row that passes the schema but disagrees with the shard is reported once the schema passes.
    const mismatch = JSON.parse(JSON.stringify(batch));
    mismatch.batchId = 'mismatch';
    mismatch.rows[7].region = 'us-east-1';
    const second = await storeBatch(pg.db, mismatch);
    expect(second.reason).toBe(
      'row account/region/service 111122223333/us-east-1/ec2 disagrees with shard 111122223333/eu-west-1/ec2 (1 of 12 rows: rows[7])',
    );

    // Redelivered, it is rejected again and counted; fixed under the same ID, it is stored.
    expect((await storeBatch(pg.db, bad)).outcome).toBe('rejected');
    expect((await ledger()).find((l) => l.batch_id === batch.batchId)).toMatchObject({
      status: 'rejected',
      attempts: 2,
    });
    expect(await storeBatch(pg.db, batch)).toMatchObject({ outcome: 'stored', rows: 12 });
    expect((await ledger()).find((l) => l.batch_id === batch.batchId)).toMatchObject({
      status: 'stored',
      attempts: 3,
      error: null,
    });
    expect(await count('metric_rows')).toBe(12);
  });

  it('records input that is not a batch at all under an ID derived from its bytes', async () => {
    const result = await storeBatch(pg.db, '{"version":1,"rows":[');
    expect(result.outcome).toBe('rejected');
    expect(result.batchId).toMatch(/^invalid-[0-9a-f]{32}$/);
    expect(result.reason).toMatch(/^batch is not valid JSON: /);
    await storeBatch(pg.db, '{"version":1,"rows":[');
    expect(await ledger()).toMatchObject([{ batch_id: result.batchId, status: 'rejected', attempts: 2 }]);
  });

  it('rejects the same batch ID with different content as a conflict and keeps the stored rows', async () => {
    const batch = makeBatch({ resources: 1, periods: 4 });
    await storeBatch(pg.db, batch);
    const before = await snapshot();
    const changed = { ...batch, rows: batch.rows.map((r, i) => (i === 0 ? { ...r, value: 99 } : r)) };
    const result = await storeBatch(pg.db, changed);
    expect(result.outcome).toBe('rejected');
    expect(result.reason).toMatch(
      new RegExp(
        `^batch ${batch.batchId} collected at ${batch.collectedAt} was already stored with checksum [0-9a-f]{64}; this delivery has checksum [0-9a-f]{64} \\(same batch ID and collection time, different content\\)$`,
      ),
    );
    expect(await snapshot()).toEqual(before);
    expect(await ledger()).toMatchObject([{ status: 'stored', attempts: 2, error: result.reason }]);
  });

  it('collapses duplicate rows inside a batch, the last one winning', async () => {
    const batch = makeBatch({ resources: 1, periods: 2, metrics: [{ metric: 'CPUUtilization' }] });
    const dup = {
      ...batch.rows[0]!,
      value: 42,
      periodStart: batch.rows[0]!.periodStart.replace('Z', '+00:00'),
    };
    const result = await storeBatch(pg.db, { ...batch, rows: [...batch.rows, dup] });
    expect(result).toMatchObject({ outcome: 'stored', rows: 2, duplicateRowsCollapsed: 1, rowsChanged: 2 });
    expect(
      (await pg.query<{ value: number }>('select value from metric_rows order by period_start')).map(
        (r) => r.value,
      ),
    ).toEqual([42, 1]);
  });

  it('caps every chunk at what one Data API request can carry, whatever chunk size is asked for', async () => {
    const batch = makeBatch({ resources: 100, periods: 200 }); // 40,000 rows, about 6 MB of column parameters
    const chunks: { rows: number; requestBytes: number }[] = [];
    const result = await storeBatch(pg.db, batch, {
      chunkRows: 100_000,
      chunkBytes: Number.POSITIVE_INFINITY,
      onChunk: ({ table, rows, requestBytes }) => {
        if (table === 'metric_rows') chunks.push({ rows, requestBytes });
      },
    });
    expect(result).toMatchObject({ outcome: 'stored', rows: 40_000, rowsChanged: 40_000 });
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(c.requestBytes).toBeLessThanOrEqual(MAX_CHUNK_BYTES);
    expect(chunks.reduce((n, c) => n + c.rows, 0)).toBe(40_000);
    expect(await count('metric_rows')).toBe(40_000);
  });

  it('keeps first_seen, advances last_seen, and never rolls a resource back to an older observation', async () => {
    const t0 = new Date('2025-01-06T10:00:00Z');
    const first = makeBatch({ resources: 1, periods: 1, windowStart: t0, resource: { state: 'running' } });
    const later = makeBatch({
      resources: 1,
      periods: 1,
      windowStart: new Date(t0.getTime() + 3_600_000),
      resource: { state: 'stopped' },
    });
    await storeBatch(pg.db, later);
    await storeBatch(pg.db, first); // the older observation arrives last
    const [res] = await pg.query<{ state: string; first_seen: Date; last_seen: Date }>(
      'select state, first_seen, last_seen from resources',
    );
    expect(res).toEqual({
      state: 'stopped',
      first_seen: new Date(first.collectedAt),
      last_seen: new Date(later.collectedAt),
    });
  });
});

describe('storeBatch: re-collection of the same window', () => {
  const t0 = new Date('2025-01-06T10:00:00Z');
  /** The same window (same batch ID) collected at `collectedAt` with every value `v`. */
  const collection = (collectedAt: string, v: number) =>
    makeBatch({
      resources: 2,
      periods: 6,
      windowStart: t0,
      collectedAt: new Date(collectedAt),
      value: () => v,
    });
  const first = collection('2025-01-06T10:40:00Z', 1);
  const revised = collection('2025-01-06T13:40:00Z', 2);
  const values = async () =>
    (
      await pg.query<{ value: number; collected_at: Date }>('select value, collected_at from metric_rows')
    ).map((r) => [r.value, r.collected_at.toISOString()]);
  const deliveries = async () =>
    pg.query<{ batch_id: string; collected_at: Date; status: string; attempts: number }>(
      'select batch_id, collected_at, status, attempts from batch_ledger order by collected_at',
    );

  it('lets a later collection supersede every row, and records both deliveries', async () => {
    expect(await storeBatch(pg.db, first)).toMatchObject({ outcome: 'stored', rowsChanged: 24 });
    expect(await storeBatch(pg.db, revised)).toMatchObject({ outcome: 'stored', rowsChanged: 24 });
    expect(new Set((await values()).map(String))).toEqual(new Set(['2,2025-01-06T13:40:00.000Z']));
    expect(await deliveries()).toEqual([
      { batch_id: first.batchId, collected_at: new Date(first.collectedAt), status: 'stored', attempts: 1 },
      { batch_id: first.batchId, collected_at: new Date(revised.collectedAt), status: 'stored', attempts: 1 },
    ]);
  });

  it('changes nothing when the older collection arrives after the newer one', async () => {
    await storeBatch(pg.db, revised);
    const before = await snapshot();
    expect(await storeBatch(pg.db, first)).toMatchObject({ outcome: 'stored', rows: 24, rowsChanged: 0 });
    expect(await snapshot()).toEqual(before);
    expect((await deliveries()).map((d) => d.status)).toEqual(['stored', 'stored']);
  });

  it('keeps the latest collection when a newer one with unchanged values comes between', async () => {
    // first (value 1), then a re-collection at 16:40 that read the same values as `first`, then the
    // revised 13:40 collection arrives late: the rows must keep the 16:40 values.
    const same = { ...collection('2025-01-06T16:40:00Z', 1) };
    await storeBatch(pg.db, first);
    expect(await storeBatch(pg.db, same)).toMatchObject({ outcome: 'duplicate', rowsChanged: 0 });
    expect(await storeBatch(pg.db, revised)).toMatchObject({ outcome: 'stored', rowsChanged: 0 });
    expect(new Set((await values()).map(String))).toEqual(new Set(['1,2025-01-06T16:40:00.000Z']));
    expect(await deliveries()).toHaveLength(3);
  });
});

describe('storeBatch: redelivery fast path and bounds', () => {
  it('answers a redelivery of the same bytes from the ledger without validating it again', async () => {
    const text = JSON.stringify(makeBatch({ resources: 2, periods: 6 }));
    expect((await storeBatch(pg.db, text)).outcome).toBe('stored');
    const [entry] = await pg.query<{ raw_hash: string }>('select raw_hash from batch_ledger');
    expect(entry!.raw_hash).toBe(createHash('sha256').update(text).digest('hex'));
    // A row limit the batch breaks would reject it at validation: the fast path answers before that.
    const again = await storeBatch(pg.db, Buffer.from(text), { maxBatchRows: 1 });
    expect(again).toMatchObject({ outcome: 'duplicate', rows: 24, resources: 2, rowsChanged: 0 });
    expect(await ledger()).toMatchObject([{ status: 'stored', attempts: 2 }]);
  });

  it('refuses a batch over the byte bound unread, with the reason in the ledger', async () => {
    const text = JSON.stringify(makeBatch({ resources: 2, periods: 6 }));
    const result = await storeBatch(pg.db, text, { maxBatchBytes: 1000 });
    expect(result.outcome).toBe('rejected');
    expect(result.reason).toBe(
      `batch is ${Buffer.byteLength(text)} bytes, more than the store's limit of 1000 bytes: collect it in smaller batches (the collector's batch size settings)`,
    );
    expect(await ledger()).toMatchObject([{ status: 'rejected', error: result.reason }]);
    expect(await count('metric_rows')).toBe(0);
  });

  it('refuses a batch over the row bound before validating it, naming the counts', async () => {
    const batch = makeBatch({ resources: 2, periods: 6 });
    const result = await storeBatch(pg.db, batch, { maxBatchRows: 20 });
    expect(result).toMatchObject({ outcome: 'rejected', batchId: batch.batchId });
    expect(result.reason).toBe(
      "batch has 24 rows and 2 resources, more than the store's limit of 20 in one batch: collect it in smaller batches",
    );
    expect(await ledger()).toMatchObject([{ batch_id: batch.batchId, status: 'rejected', row_count: 24 }]);
    // Within the bound, the same delivery is stored and takes the rejected ledger row over.
    expect((await storeBatch(pg.db, batch)).outcome).toBe('stored');
    expect(await ledger()).toMatchObject([{ status: 'stored', attempts: 2, error: null }]);
  });
});
