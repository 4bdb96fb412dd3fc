/**
 * Metric rows travel to PostgreSQL as column array literals (one text parameter per column, expanded by
 * `unnest`): the encoding must give back every value exactly, and the chunks must be cut by what a Data
 * API request can carry.
 */
import { sql } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MetricRow } from '#utilization/rows';
import {
  arrayElement,
  arrayLiteral,
  epochMsToTimestamptz,
  MAX_CHUNK_BYTES,
  metricColumnChunks,
  requestBytes,
  storeBatch,
} from '#utilization/store';
import { validateBatch } from '#utilization/validate';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { makeBatch } from './store-fixtures.ts';

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

const TRICKY_TEXT = [
  'plain',
  '',
  'NULL',
  'null',
  'Null',
  ' padded ',
  'tab\there',
  'new\nline',
  'a,b',
  '{braces}',
  'quote"inside',
  'back\\slash',
  '\\"',
  '"',
  'é€😀',
  'arn:aws:ec2:eu-west-1:111122223333:instance/i-0123456789abcdef0',
];

const EXTREME_NUMBERS = [
  0,
  -1.5,
  5e-324,
  -5e-324,
  2.2250738585072014e-308,
  1.7976931348623157e308,
  -1.7976931348623157e308,
  0.1 + 0.2,
  1e21,
  123456789.12345678,
  Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER,
];

describe('column array literals', () => {
  it('quotes exactly the elements PostgreSQL would misread', () => {
    expect(arrayElement('CPUUtilization')).toBe('CPUUtilization');
    expect(arrayElement('2025-01-06T10:00:00.000Z')).toBe('2025-01-06T10:00:00.000Z');
    expect(arrayElement('')).toBe('""');
    expect(arrayElement('NULL')).toBe('"NULL"');
    expect(arrayElement('nUlL')).toBe('"nUlL"');
    expect(arrayElement('a,b')).toBe('"a,b"');
    expect(arrayElement(' x')).toBe('" x"');
    expect(arrayElement('a"b\\c')).toBe('"a\\"b\\\\c"');
  });

  it('gives back text, numbers and instants exactly through unnest', async () => {
    const [text] = await pg.query<{ v: string[] }>(
      'select array_agg(x order by n) as v from unnest($1::text::text[]) with ordinality as t(x, n)',
      [arrayLiteral(TRICKY_TEXT)],
    );
    expect(text!.v).toEqual(TRICKY_TEXT);

    const [numbers] = await pg.query<{ v: number[] }>(
      'select array_agg(x order by n) as v from unnest($1::text::float8[]) with ordinality as t(x, n)',
      [arrayLiteral(EXTREME_NUMBERS)],
    );
    expect(numbers!.v).toEqual(EXTREME_NUMBERS);

    const instants = [
      '2025-01-06T10:00:00.000Z',
      '2025-01-06T10:00:00.001Z',
      '1999-12-31T23:59:59.999Z',
      '1969-07-20T20:17:40.123Z',
      '2099-12-31T23:59:59.999Z',
      '9999-12-31T23:59:59.000Z',
    ];
    const [times] = await pg.query<{ v: string[] }>(
      `select array_agg(to_char(${new PgDialect().sqlToQuery(epochMsToTimestamptz(sql.raw('x'))).sql} at time zone 'UTC',
                                'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') order by n) as v
         from unnest($1::text::int8[]) with ordinality as t(x, n)`,
      [arrayLiteral(instants.map((t) => Date.parse(t)))],
    );
    expect(times!.v).toEqual(instants.map((t) => t.replace('Z', '000Z')));
  });

  it('counts each chunk as it travels in a Data API request, cutting by rows and bytes, every row once and in order', () => {
    const rows = makeBatch({
      resources: 5,
      periods: 100,
      metrics: [{ metric: 'Odd "name", {with} \\ things' }, { metric: 'NULL' }],
    }).rows; // 1,000 rows
    const all = [...metricColumnChunks(rows, 10_000, MAX_CHUNK_BYTES)];
    expect(all).toHaveLength(1);
    const byRows = [...metricColumnChunks(rows, 300, MAX_CHUNK_BYTES)];
    expect(byRows.map((c) => c.rows)).toEqual([300, 300, 300, 100]);
    const limit = Math.floor(all[0]!.requestBytes / 7);
    const byBytes = [...metricColumnChunks(rows, 10_000, limit)];
    expect(byBytes.length).toBeGreaterThanOrEqual(7);
    for (const c of byBytes) {
      expect(c.requestBytes).toBeLessThanOrEqual(limit);
      const columns = Object.values(c.columns);
      // Exact, but for the separator counted after the last element of each column too.
      const exact = columns.reduce((n, literal) => n + Buffer.byteLength(JSON.stringify(literal)) - 2, 0);
      expect(c.requestBytes - exact).toBe(columns.length);
      expect(requestBytes(c.columns.metric)).toBe(Buffer.byteLength(JSON.stringify(c.columns.metric)) - 2);
    }
    expect(byBytes.reduce((n, c) => n + c.rows, 0)).toBe(1000);
  });

  it('refuses a single row larger than the chunk limit, naming its size', () => {
    const [row] = makeBatch({ resources: 1, periods: 1 }).rows;
    expect(() => [...metricColumnChunks([row!], 10, 100)]).toThrow(
      /^one row is \d+ bytes as column parameters, more than the 100-byte chunk limit/,
    );
  });
});

describe('storeBatch with column parameters', () => {
  it('stores tricky names and extreme values exactly as the batch has them', async () => {
    const metrics = TRICKY_TEXT.filter((t) => t !== '').map((metric) => ({ metric }));
    const batch = makeBatch({
      resources: 2,
      periods: EXTREME_NUMBERS.length,
      metrics,
      value: (r, p, m) =>
        r === 0 ? EXTREME_NUMBERS[p]! : -EXTREME_NUMBERS[(p + m) % EXTREME_NUMBERS.length]!,
    });
    expect(await storeBatch(pg.db, JSON.stringify(batch), { chunkRows: 50 })).toMatchObject({
      outcome: 'stored',
      rowsChanged: batch.rows.length,
    });
    const stored = await pg.query<{
      resource_arn: string;
      metric: string;
      period_start: Date;
      value: number;
    }>('select resource_arn, metric, period_start, value from metric_rows');
    const key = (arn: string, metric: string, ms: number) => `${arn}|${metric}|${ms}`;
    const got = new Map(
      stored.map((r) => [key(r.resource_arn, r.metric, r.period_start.getTime()), r.value]),
    );
    expect(got.size).toBe(batch.rows.length);
    for (const r of batch.rows) {
      // toBe tells -0 from 0; the batch's JSON text has no -0 (JSON.stringify writes it as 0).
      expect(got.get(key(r.resourceArn, r.metric, Date.parse(r.periodStart)))).toBe(
        r.value === 0 ? 0 : r.value,
      );
    }
  });

  it('refuses NaN and rows with a field too many, through the same checks as zod', () => {
    const batch = makeBatch({ resources: 1, periods: 3 });
    const withNaN = { ...batch, rows: batch.rows.map((r, i) => (i === 1 ? { ...r, value: Number.NaN } : r)) };
    const nan = validateBatch(withNaN);
    expect(nan.ok ? '' : nan.reason).toMatch(/^value: .*NaN.*rows\[1\]/);
    const extra = {
      ...batch,
      rows: batch.rows.map((r, i) => (i === 2 ? ({ ...r, note: 'x' } as MetricRow) : r)),
    };
    const one = validateBatch(JSON.stringify(extra));
    expect(one.ok ? '' : one.reason).toBe('(row): Unrecognized key: "note" (1 of 6 rows: rows[2])');
    const missing = {
      ...batch,
      rows: batch.rows.map((r, i) => {
        if (i !== 0) return r;
        const { unit: _unit, ...rest } = r;
        return { ...rest, note: 'x' };
      }),
    };
    const swapped = validateBatch(JSON.stringify(missing));
    expect(swapped.ok).toBe(false);
    expect(swapped.ok ? '' : swapped.reason).toMatch(/unit: .*rows\[0\]/);
  });

  it('collapses neighbouring duplicates of rows that arrive in order, the last one winning', () => {
    const batch = makeBatch({ resources: 1, periods: 3, metrics: [{ metric: 'CPUUtilization' }] });
    const rows = [batch.rows[0]!, { ...batch.rows[0]!, value: 5 }, batch.rows[1]!, batch.rows[2]!];
    const v = validateBatch({ ...batch, rows });
    expect(v.ok && v.duplicateRows).toBe(1);
    expect(v.ok && v.rows.map((r) => r.value)).toEqual([5, batch.rows[1]!.value, batch.rows[2]!.value]);
    const shuffled = validateBatch({ ...batch, rows: [rows[3], rows[0], rows[2], rows[1]] });
    expect(shuffled.ok && shuffled.rows).toEqual(v.ok && v.rows);
    expect(shuffled.ok && shuffled.checksum).toBe(v.ok && v.checksum);
  });

  it('falls back to upserts when rows past the first are stored already, keeping the later collection', async () => {
    const t0 = new Date('2025-01-06T10:00:00Z');
    // B (periods 6-11, collected later) is stored; A covers periods 0-11 and was collected earlier: its
    // first row is new, so it starts with plain inserts and meets B's rows half-way.
    const b = makeBatch({
      resources: 1,
      periods: 6,
      windowStart: new Date(t0.getTime() + 6 * 300_000),
      metrics: [{ metric: 'CPUUtilization' }],
      collectedAt: new Date('2025-01-06T12:00:00Z'),
      batchId: 'b',
      value: () => 2,
    });
    const a = makeBatch({
      resources: 1,
      periods: 12,
      windowStart: t0,
      metrics: [{ metric: 'CPUUtilization' }],
      collectedAt: new Date('2025-01-06T11:00:00Z'),
      batchId: 'a',
      value: () => 1,
    });
    expect(await storeBatch(pg.db, b)).toMatchObject({ outcome: 'stored', rowsChanged: 6 });
    expect(await storeBatch(pg.db, a, { chunkRows: 4 })).toMatchObject({ outcome: 'stored', rowsChanged: 6 });
    const values = await pg.query<{ value: number; batch_id: string }>(
      'select value, batch_id from metric_rows order by period_start',
    );
    expect(values.map((r) => `${r.batch_id}=${r.value}`)).toEqual([
      ...Array(6).fill('a=1'),
      ...Array(6).fill('b=2'),
    ]);
    expect(await pg.query('select batch_id, status from batch_ledger order by 1')).toEqual([
      { batch_id: 'a', status: 'stored' },
      { batch_id: 'b', status: 'stored' },
    ]);
  });

  it('stores two overlapping collections delivered at the same time, the later one winning', async () => {
    const at = (collectedAt: string, v: number) =>
      makeBatch({ resources: 5, periods: 40, collectedAt: new Date(collectedAt), value: () => v });
    for (const order of [
      ['2025-01-06T11:00:00Z', '2025-01-06T12:00:00Z'],
      ['2025-01-06T12:00:00Z', '2025-01-06T11:00:00Z'],
    ]) {
      await pg.truncate();
      const results = await Promise.all(
        order.map((when) =>
          storeBatch(pg.db, at(when, when.startsWith('2025-01-06T12') ? 2 : 1), { chunkRows: 50 }),
        ),
      );
      expect(results.map((r) => r.outcome)).toEqual(['stored', 'stored']);
      expect(await pg.query('select value, count(*)::int as n from metric_rows group by 1')).toEqual([
        { value: 2, n: 400 },
      ]);
      expect(await pg.query('select count(*)::int as n from batch_ledger')).toEqual([{ n: 2 }]);
    }
  });
});
