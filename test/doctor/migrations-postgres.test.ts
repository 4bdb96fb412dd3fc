/**
 * The migrations check's SQL against a real PostgreSQL migrated by drizzle: the table, the column and
 * the values doctor reads through the Data API are the ones drizzle's migrator writes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateMigrations } from '../../cli/doctor/evaluate.ts';
import { MIGRATIONS_SQL } from '../../cli/doctor/run.ts';
import { readJournal } from '../../cli/doctor.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';

let migrated: TestDatabase;
let empty: TestDatabase;
beforeAll(async () => {
  [migrated, empty] = await Promise.all([createTestDatabase(), createTestDatabase({ migrate: false })]);
});
afterAll(async () => {
  await Promise.all([migrated?.drop(), empty?.drop()]);
});

describe('database migrations check on PostgreSQL', () => {
  it('finds every committed migration applied in a database drizzle migrated', async () => {
    const rows = await migrated.query<{ created_at: string }>(MIGRATIONS_SQL);
    expect(
      evaluateMigrations(
        readJournal(),
        rows.map((r) => Number(r.created_at)),
      ),
    ).toMatchObject({ status: 'ok' });
  });

  it('gets the error the check treats as never migrated from a fresh database', async () => {
    await expect(empty.query(MIGRATIONS_SQL)).rejects.toThrow(
      /drizzle"? does not exist|__drizzle_migrations" does not exist/,
    );
  });
});
