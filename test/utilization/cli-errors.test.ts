import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMigrateCommand } from '../../cli/migrate.ts';
import { runReportCommand } from '../../cli/report.ts';
import { runStoreCommand } from '../../cli/store.ts';
import { ADMIN_URL, createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { SAMPLE_BATCH_FILE } from './store-fixtures.ts';

const sample = fileURLToPath(SAMPLE_BATCH_FILE);

function capture() {
  const errors: string[] = [];
  return { errors, out: { log: () => {}, write: () => {}, error: (l: string) => errors.push(l) } };
}

const noSuchDb = (() => {
  const u = new URL(ADMIN_URL);
  u.pathname = '/observatory_missing';
  return u.toString();
})();

let bare: TestDatabase;
beforeAll(async () => {
  bare = await createTestDatabase({ migrate: false });
}, 60_000);
afterAll(() => bare?.drop());

describe('CLI database errors', () => {
  it('store, report and migrate refuse to start without a database URL, saying how to give one', async () => {
    const saved = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    try {
      const runs = [
        (out: ReturnType<typeof capture>['out']) => runStoreCommand([sample], {}, out),
        (out: ReturnType<typeof capture>['out']) =>
          runReportCommand({ pricing: false, pricingRegion: 'us-east-1', format: 'table' }, out),
        (out: ReturnType<typeof capture>['out']) => runMigrateCommand({}, out),
      ];
      for (const run of runs) {
        const c = capture();
        expect(await run(c.out)).toBe(2);
        expect(c.errors).toEqual(['error: no database: set DATABASE_URL or pass --database-url']);
      }
    } finally {
      if (saved !== undefined) process.env.DATABASE_URL = saved;
    }
  });

  it('store names a missing database in at most three lines', async () => {
    const c = capture();
    expect(await runStoreCommand([sample], { databaseUrl: noSuchDb }, c.out)).toBe(2);
    const text = c.errors.join('\n');
    expect(text).toContain('database "observatory_missing" does not exist on 127.0.0.1:');
    expect(text.split('\n').length).toBeLessThanOrEqual(3);
  });

  it('store on an unmigrated database says how to migrate, without the SQL', async () => {
    const c = capture();
    expect(await runStoreCommand([sample], { databaseUrl: bare.url }, c.out)).toBe(2);
    const [failure] = c.errors;
    expect(failure).toMatch(
      /: failed: the database schema is not migrated \(relation "\w+" does not exist\)\n/,
    );
    expect(failure).toContain('observatory migrate');
    expect(failure!.length).toBeLessThan(400);
  });

  it('report names a missing database and an unmigrated one the same way', async () => {
    const missing = capture();
    expect(
      await runReportCommand(
        { databaseUrl: noSuchDb, pricing: false, pricingRegion: 'us-east-1', format: 'table' },
        missing.out,
      ),
    ).toBe(2);
    expect(missing.errors.join('\n')).toMatch(/^error: database "observatory_missing" does not exist on /);
    const unmigrated = capture();
    expect(
      await runReportCommand(
        { databaseUrl: bare.url, pricing: false, pricingRegion: 'us-east-1', format: 'table' },
        unmigrated.out,
      ),
    ).toBe(2);
    expect(unmigrated.errors.join('\n')).toMatch(/^error: the database schema is not migrated/);
  });
});
