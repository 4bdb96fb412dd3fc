import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BATCH_LIMITS } from '#contracts/utilization-batch';
import { partKeyFor, splitBatch } from '#utilization/normalize';
import { type Batch, BatchSchema } from '#utilization/rows';
import { storeBatch } from '#utilization/store';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { makeBatch } from './store-fixtures.ts';

const bytesOf = (batch: Batch) => Buffer.byteLength(JSON.stringify(batch), 'utf8');
const rowKey = (r: Batch['rows'][number]) => `${r.resourceArn}|${r.metric}|${r.statistic}|${r.periodStart}`;

/** 40 instances x 2 metrics x 24 periods = 1,920 rows, with CloudWatch cost stats. */
const big = (): Batch => ({
  ...makeBatch({ resources: 40, periods: 24, batchId: 'b-ec2-window' }),
  stats: { getMetricDataCalls: 2, metricsRequested: 80 },
});

/** Checks every promise a split makes about the parts of `batch`. */
function expectSound(batch: Batch, parts: Batch[], limits: { maxRows: number; maxBytes: number }) {
  for (const part of parts) {
    expect(() => BatchSchema.parse(part)).not.toThrow();
    expect(part.rows.length).toBeLessThanOrEqual(limits.maxRows);
    expect(bytesOf(part)).toBeLessThanOrEqual(limits.maxBytes);
    // Every row's resource travels with it.
    const arns = new Set(part.resources.map((r) => r.resourceArn));
    for (const row of part.rows) expect(arns.has(row.resourceArn)).toBe(true);
    expect(part.window).toEqual(batch.window);
    expect(part.collectedAt).toBe(batch.collectedAt);
  }
  // Rows neither lost nor duplicated, in their order.
  expect(parts.flatMap((p) => p.rows)).toEqual(batch.rows);
  expect(new Set(parts.flatMap((p) => p.rows.map(rowKey))).size).toBe(batch.rows.length);
  // Every resource in some part.
  const carried = new Set(parts.flatMap((p) => p.resources.map((r) => r.resourceArn)));
  expect([...carried].sort()).toEqual(batch.resources.map((r) => r.resourceArn).sort());
}

describe('splitBatch', () => {
  it('returns a batch within both limits unchanged', () => {
    const batch = big();
    expect(splitBatch(batch, DEFAULT_BATCH_LIMITS)).toEqual([batch]);
  });

  it('splits on the row limit into parts within both limits, losing and duplicating nothing', () => {
    const batch = big();
    const limits = { maxRows: 500, maxBytes: 10 * 1024 * 1024 };
    const parts = splitBatch(batch, limits);
    expect(parts).toHaveLength(4);
    expect(parts.map((p) => p.rows.length)).toEqual([500, 500, 500, 420]);
    expectSound(batch, parts, limits);
  });

  it('splits on the byte limit when rows are few but large', () => {
    const batch = big();
    const limits = { maxRows: 100_000, maxBytes: 64 * 1024 };
    const parts = splitBatch(batch, limits);
    expect(parts.length).toBeGreaterThanOrEqual(Math.ceil(bytesOf(batch) / limits.maxBytes));
    expectSound(batch, parts, limits);
  });

  it('names the parts deterministically, so a re-run of the collection makes the same IDs', () => {
    const limits = { maxRows: 700, maxBytes: 10 * 1024 * 1024 };
    const ids = splitBatch(big(), limits).map((p) => p.batchId);
    expect(ids).toEqual(['b-ec2-window-part1of3', 'b-ec2-window-part2of3', 'b-ec2-window-part3of3']);
    expect(splitBatch(big(), limits).map((p) => p.batchId)).toEqual(ids);
    expect(ids.map((_, i) => partKeyFor('batches/ec2/1/eu-west-1/w.json', i, ids.length))).toEqual([
      'batches/ec2/1/eu-west-1/w.part1of3.json',
      'batches/ec2/1/eu-west-1/w.part2of3.json',
      'batches/ec2/1/eu-west-1/w.part3of3.json',
    ]);
    expect(partKeyFor('batches/ec2/1/eu-west-1/w.json', 0, 1)).toBe('batches/ec2/1/eu-west-1/w.json');
  });

  it('counts the CloudWatch cost once, on the first part', () => {
    const parts = splitBatch(big(), { maxRows: 700, maxBytes: 10 * 1024 * 1024 });
    expect(parts.map((p) => p.stats)).toEqual([
      { getMetricDataCalls: 2, metricsRequested: 80 },
      undefined,
      undefined,
    ]);
  });

  it('carries resources without rows too', () => {
    const batch = big();
    const quiet = { ...batch.resources[0]!, resourceArn: `${batch.resources[0]!.resourceArn}quiet` };
    const withQuiet = { ...batch, resources: [...batch.resources, quiet] };
    const limits = { maxRows: 500, maxBytes: 10 * 1024 * 1024 };
    expectSound(withQuiet, splitBatch(withQuiet, limits), limits);
  });

  it('refuses a row that cannot fit in any part, naming the limit', () => {
    expect(() => splitBatch(big(), { maxRows: 10, maxBytes: 600 })).toThrow(/more than batchMaxBytes 600/);
  });
});

describe('split batches in PostgreSQL', () => {
  let pg: TestDatabase;
  beforeAll(async () => {
    pg = await createTestDatabase();
  }, 60_000);
  afterAll(() => pg?.drop());

  it('stores every row of every part once, and a redelivery of the parts changes nothing', async () => {
    const batch = big();
    const parts = splitBatch(batch, { maxRows: 500, maxBytes: 10 * 1024 * 1024 });
    const first = [];
    for (const part of parts) first.push((await storeBatch(pg.db, part)).outcome);
    expect(first).toEqual(['stored', 'stored', 'stored', 'stored']);
    const count = async () =>
      Number((await pg.query<{ n: string }>('select count(*) n from metric_rows'))[0]!.n);
    expect(await count()).toBe(batch.rows.length);
    const again = [];
    for (const part of splitBatch(big(), { maxRows: 500, maxBytes: 10 * 1024 * 1024 }))
      again.push((await storeBatch(pg.db, part)).outcome);
    expect(again).toEqual(['duplicate', 'duplicate', 'duplicate', 'duplicate']);
    expect(await count()).toBe(batch.rows.length);
  });
});
