import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, runMigrateCommand } from '../../cli/migrate.ts';
import { createTestDatabase, MIGRATIONS_FOLDER, type TestDatabase } from '../support/postgres.ts';

let bare: TestDatabase;
beforeAll(async () => {
  bare = await createTestDatabase({ migrate: false });
}, 60_000);
afterAll(() => bare?.drop());

function capture() {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: { log: (l: string) => lines.push(l), error: (l: string) => errors.push(l) } };
}

describe('observatory migrate', () => {
  it('applies every migration to an empty database and prints each one', async () => {
    const tags = (
      await import(`${MIGRATIONS_FOLDER}/meta/_journal.json`, { with: { type: 'json' } })
    ).default.entries.map((e: { tag: string }) => e.tag) as string[];
    const c = capture();
    expect(await runMigrateCommand({ databaseUrl: bare.url }, c.out)).toBe(0);
    expect(c.errors).toEqual([]);
    expect(c.lines.slice(0, -1)).toEqual(tags.map((t) => `applied ${t}`));
    expect(c.lines.at(-1)).toMatch(/^\d+ migrations? applied; schema up to date/);
    const tables = await bare.query<{ t: string }>(
      "select table_name t from information_schema.tables where table_schema = 'public'",
    );
    expect(tables.map((r) => r.t)).toEqual(
      expect.arrayContaining(['metric_rows', 'resources', 'batch_ledger']),
    );
  });

  it('applies nothing the second time and says the schema is up to date', async () => {
    const c = capture();
    expect(await runMigrateCommand({ databaseUrl: bare.url }, c.out)).toBe(0);
    expect(c.lines).toEqual([
      expect.stringMatching(/^nothing to apply; schema up to date \(\d+ migrations?\)$/),
    ]);
  });

  it('exits 2 with the root cause when the database does not exist', async () => {
    const u = new URL(bare.url);
    u.pathname = '/observatory_missing_too';
    const c = capture();
    expect(await runMigrateCommand({ databaseUrl: u.toString() }, c.out)).toBe(2);
    expect(c.errors.join('\n')).toMatch(/^error: database "observatory_missing_too" does not exist on /);
  });

  it('registers the command with its options', () => {
    const program = new Command();
    register(program);
    const migrate = program.commands.find((c) => c.name() === 'migrate')!;
    expect(migrate.options.map((o) => o.long)).toEqual(['--database-url', '--migrations-folder']);
  });
});
