/**
 * Years of data: metric_rows partitioned by month on the real PostgreSQL. Partitions are created for the
 * rows a batch brings, maintenance creates the coming months and drops whole months past retention, the
 * report's queries read only the months of their window (EXPLAIN), and migration 0002 moves an existing
 * table over with its data.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPgDb } from '#shared/db/client';
import { maintainMetricPartitions, retentionCutoff, retentionDaysFromEnv } from '#shared/db/partitions';
import { schema } from '#shared/db/schema';
import { findUnderused } from '#utilization/report';
import { storeBatch } from '#utilization/store';
import { validateBatch } from '#utilization/validate';
import { UnderUsePolicySchema } from '../../lib/config/schema.ts';
import { createTestDatabase, MIGRATIONS_FOLDER, type TestDatabase } from '../support/postgres.ts';
import { makeBatch } from './store-fixtures.ts';

let db: TestDatabase;
const others: TestDatabase[] = [];
const temp: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await Promise.all([db, ...others].map((d) => d?.drop()));
  for (const t of temp) rmSync(t, { recursive: true, force: true });
});
beforeEach(async () => {
  await db.truncate();
});

async function partitions(d: TestDatabase = db): Promise<string[]> {
  const rows = await d.query<{ name: string }>(
    `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'metric_rows'::regclass order by 1`,
  );
  return rows.map((r) => r.name);
}

/** Daily rows of 2 instances x 2 metrics from `start` for `days` days. */
const daily = (start: string, days: number, extra: Parameters<typeof makeBatch>[0] = {}) =>
  makeBatch({ resources: 2, periods: days, periodSeconds: 86_400, windowStart: new Date(start), ...extra });

describe('metric_rows partitions', () => {
  it('creates the month partitions a batch needs, and stores each row in its month', async () => {
    const batch = daily('2023-12-20T00:00:00Z', 45); // 2023-12-20 .. 2024-02-02
    expect(await storeBatch(db.db, batch)).toMatchObject({ outcome: 'stored', rowsChanged: 180 });
    expect(await partitions()).toEqual(
      expect.arrayContaining(['metric_rows_p202312', 'metric_rows_p202401', 'metric_rows_p202402']),
    );
    const perMonth = await db.query<{ part: string; n: number }>(
      `select tableoid::regclass::text as part, count(*)::int as n from metric_rows
        where period_start < '2024-03-01' group by 1 order by 1`,
    );
    expect(perMonth).toEqual([
      { part: 'metric_rows_p202312', n: 12 * 4 },
      { part: 'metric_rows_p202401', n: 31 * 4 },
      { part: 'metric_rows_p202402', n: 2 * 4 },
    ]);
  });

  it('creates partitions once when concurrent batches need the same new month', async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        storeBatch(
          db.db,
          daily('2022-06-01T00:00:00Z', 3, { batchId: `c${i}`, accountId: `11112222333${i}` }),
        ),
      ),
    );
    expect(results.map((r) => r.outcome)).toEqual(Array(6).fill('stored'));
    expect((await partitions()).filter((p) => p === 'metric_rows_p202206')).toHaveLength(1);
  });

  it('creates the coming months and drops only the months wholly past retention', async () => {
    await storeBatch(db.db, daily('2024-01-30T00:00:00Z', 3)); // January and February 2024
    await storeBatch(db.db, daily('2024-03-10T00:00:00Z', 1, { batchId: 'march' }));
    const now = new Date('2025-03-15T12:00:00Z');
    // 400 days before 2025-03-15 is 2024-02-09: January is past, February still holds kept days.
    expect(retentionCutoff(now, 400)).toEqual(new Date('2024-02-09T12:00:00Z'));
    const done = await maintainMetricPartitions(db.db, now, 400);
    // (Earlier tests of this file left older months behind: they go too.)
    expect(done.dropped).toContain('metric_rows_p202401');
    expect(done.dropped.every((name) => name < 'metric_rows_p202402')).toBe(true);
    expect(await partitions()).toEqual(
      expect.arrayContaining([
        'metric_rows_p202402',
        'metric_rows_p202403',
        'metric_rows_p202503',
        'metric_rows_p202505',
      ]),
    );
    expect(await partitions()).not.toContain('metric_rows_p202401');
    const left = await db.query<{ first: Date }>('select min(period_start) as first from metric_rows');
    expect(left[0]!.first).toEqual(new Date('2024-02-01T00:00:00Z'));
    // Run again: nothing more to do.
    expect(await maintainMetricPartitions(db.db, now, 400)).toEqual({ created: 0, dropped: [] });
  });

  it('reads RETENTION_DAYS and refuses a value that is not a whole number of days', () => {
    expect(retentionDaysFromEnv({})).toBeUndefined();
    expect(retentionDaysFromEnv({ RETENTION_DAYS: '30' })).toBe(30);
    expect(() => retentionDaysFromEnv({ RETENTION_DAYS: '0.5' })).toThrow(
      'RETENTION_DAYS must be a whole number of days of at least 1, got 0.5',
    );
  });

  it("prunes the report's queries to the partitions of their window", async () => {
    // Hourly EC2 data over five months; the report looks back 14 days from 2025-01-20.
    for (const [i, start] of [
      '2024-09-01',
      '2024-10-01',
      '2024-11-01',
      '2024-12-01',
      '2025-01-01',
    ].entries()) {
      await storeBatch(
        db.db,
        makeBatch({
          resources: 2,
          periods: 24 * 28,
          periodSeconds: 3600,
          windowStart: new Date(`${start}T00:00:00Z`),
          batchId: `m${i}`,
        }),
      );
    }
    await db.query('analyze metric_rows');
    const seen: { sql: string; params: unknown[] }[] = [];
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const logged = drizzle(pool, {
        schema,
        logger: { logQuery: (sql, params) => seen.push({ sql, params }) },
      });
      const asOf = new Date('2025-01-20T00:00:00Z');
      await findUnderused(logged, UnderUsePolicySchema.parse({}), { asOf });
      const readers = seen.filter((q) => q.sql.includes('from metric_rows'));
      expect(readers.length).toBeGreaterThanOrEqual(4); // one per service
      for (const q of readers) {
        const [plan] = (await pool.query(`explain (format json) ${q.sql}`, q.params)).rows as [
          { 'QUERY PLAN': unknown },
        ];
        const scanned = [
          ...JSON.stringify(plan['QUERY PLAN']).matchAll(/"Relation Name":"(metric_rows[^"]*)"/g),
        ].map((m) => m[1]);
        // A 14-day (EC2, RDS, ECS) or 14-day-or-shorter (MSK) window before 2025-01-20 lies in January.
        expect(new Set(scanned)).toEqual(new Set(['metric_rows_p202501']));
      }
    } finally {
      await pool.end();
    }
  });
});

describe('migration 0002 on a database with data', () => {
  it('moves the existing metric_rows into month partitions with every row and ledger entry kept', async () => {
    // A database at the migration before this work (0000), with data written in its shape.
    const old = await createTestDatabase({ migrate: false });
    others.push(old);
    const folder = mkdtempSync(join(tmpdir(), 'observatory-migrations-'));
    temp.push(folder);
    cpSync(MIGRATIONS_FOLDER, folder, { recursive: true });
    const journalFile = join(folder, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: { tag: string }[] };
    writeFileSync(journalFile, JSON.stringify({ ...journal, entries: journal.entries.slice(0, 1) }));
    const handle = createPgDb(old.url);
    try {
      await handle.migrate(folder);
      const batch = daily('2024-11-20T00:00:00Z', 60); // November 2024 .. January 2025, 240 rows
      const v = validateBatch(batch);
      if (!v.ok) throw new Error(v.reason);
      await old.query(
        `insert into batch_ledger (batch_id, account_id, region, service, window_start, window_end, collected_at,
                                   row_count, resource_count, checksum, status)
         values ($1, '111122223333', 'eu-west-1', 'ec2', $2, $3, $4, 240, 2, $5, 'stored'),
                ('invalid-0123', null, null, null, null, null, null, 0, 0, 'abc', 'rejected')`,
        [batch.batchId, batch.window.start, batch.window.end, batch.collectedAt, v.checksum],
      );
      await old.query(
        `insert into metric_rows (resource_arn, metric, statistic, period_start, period_seconds, value, unit,
                                  account_id, region, service, resource_type, batch_id, collected_at)
         select r."resourceArn", r.metric, r.statistic, r."periodStart", r."periodSeconds", r.value, r.unit,
                r."accountId", r.region, r.service, r."resourceType", $2, $3
           from json_to_recordset($1::json) as r("resourceArn" text, metric text, statistic text,
                "periodStart" timestamptz, "periodSeconds" int, value float8, unit text, "accountId" text,
                region text, service text, "resourceType" text)`,
        [JSON.stringify(batch.rows), batch.batchId, batch.collectedAt],
      );
      const before = await old.query('select * from metric_rows order by 1, 2, 3, 4');
      expect(before).toHaveLength(240);

      await handle.migrate(MIGRATIONS_FOLDER);

      expect(await old.query('select * from metric_rows order by 1, 2, 3, 4')).toEqual(before);
      expect(
        await old.query(
          `select partstrat from pg_partitioned_table where partrelid = 'metric_rows'::regclass`,
        ),
      ).toEqual([{ partstrat: 'r' }]);
      expect(await partitions(old)).toEqual(
        expect.arrayContaining(['metric_rows_p202411', 'metric_rows_p202412', 'metric_rows_p202501']),
      );
      expect(await old.query(`select to_regclass('metric_rows_unpartitioned') as t`)).toEqual([{ t: null }]);
      const ledger = await old.query<{ batch_id: string; status: string; unknown: boolean }>(
        `select batch_id, status, collected_at = '-infinity' as unknown from batch_ledger order by batch_id`,
      );
      expect(ledger).toEqual([
        { batch_id: batch.batchId, status: 'stored', unknown: false },
        { batch_id: 'invalid-0123', status: 'rejected', unknown: true },
      ]);
      // Checksums written before the upgrade still recognize a redelivery of the same batch.
      expect(await storeBatch(handle.db, batch)).toMatchObject({ outcome: 'duplicate', rowsChanged: 0 });
    } finally {
      await handle.close();
    }
  });
});
