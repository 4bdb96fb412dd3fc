/**
 * `observatory migrate`: applies the utilization database's schema migrations (drizzle, the same
 * files the migrate function applies on deploy) and prints which ones it applied.
 *
 * ```sh
 * observatory migrate --database-url postgres://postgres@127.0.0.1:5432/observatory
 * ```
 * Exit status: 0 when the schema is up to date afterwards, 2 when the database failed (with the root
 * cause in at most three lines) or on a usage error.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import pg from 'pg';
import { migrationsFolder } from '#shared/packaged';
import { DATABASE_URL_OPTION, databaseUrl, withDatabase } from './database.ts';

/** Options of `observatory migrate`. */
export interface MigrateCliOptions {
  databaseUrl?: string;
  /** @default migrationsFolder - the migrations shipped with this version (`$MIGRATIONS_FOLDER` overrides) */
  migrationsFolder?: string;
}

/** One migration of drizzle's journal: its tag and the instant drizzle records it under. */
interface JournalEntry {
  readonly tag: string;
  readonly when: number;
}

async function journal(folder: string): Promise<JournalEntry[]> {
  const text = await readFile(join(folder, 'meta', '_journal.json'), 'utf8');
  return (JSON.parse(text) as { entries: JournalEntry[] }).entries;
}

/**
 * The `created_at` of every migration drizzle has recorded as applied (none when its table is absent).
 * drizzle records a migration under its journal's `when`.
 */
async function appliedMigrations(url: string): Promise<Set<number>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ created_at: string }>(
      `select created_at::text from drizzle.__drizzle_migrations
        where to_regclass('drizzle.__drizzle_migrations') is not null`,
    );
    return new Set(rows.map((r) => Number(r.created_at)));
  } catch (err) {
    // 3F000: no "drizzle" schema yet, so nothing applied.
    if ((err as { code?: string }).code === '3F000' || (err as { code?: string }).code === '42P01')
      return new Set();
    throw err;
  } finally {
    await client.end();
  }
}

/**
 * Applies the pending migrations and prints each one applied; returns the exit status.
 * @param opts database URL and migrations folder
 * @param out where lines go
 */
export async function runMigrateCommand(
  opts: MigrateCliOptions,
  out: { log: (line: string) => void; error: (line: string) => void } = console,
): Promise<number> {
  const url = databaseUrl(opts.databaseUrl, out);
  if (!url) return 2;
  let folder: string | undefined;
  let entries: JournalEntry[];
  try {
    folder = opts.migrationsFolder ? resolve(opts.migrationsFolder) : migrationsFolder();
    entries = await journal(folder);
  } catch (err) {
    out.error(
      folder
        ? `error: no drizzle migrations in ${folder}: ${(err as Error).message}`
        : `error: ${(err as Error).message}`,
    );
    return 2;
  }
  return withDatabase(url, out, async (handle) => {
    const before = await appliedMigrations(url);
    await handle.migrate(folder);
    const after = await appliedMigrations(url);
    const applied = entries.filter((e) => after.has(e.when) && !before.has(e.when));
    for (const e of applied) out.log(`applied ${e.tag}`);
    out.log(
      applied.length > 0
        ? `${applied.length} ${applied.length === 1 ? 'migration' : 'migrations'} applied; schema up to date (${entries.length} in total)`
        : `nothing to apply; schema up to date (${entries.length} ${entries.length === 1 ? 'migration' : 'migrations'})`,
    );
    return 0;
  });
}

/**
 * Registers `observatory migrate` on the program.
 * @param program the root commander program
 */
export function register(program: Command): void {
  program
    .command('migrate')
    .description('apply the utilization database schema migrations and print the ones applied')
    .option(...DATABASE_URL_OPTION)
    .option('--migrations-folder <dir>', 'drizzle migrations (default: the ones shipped with this version)')
    .action(async (opts: MigrateCliOptions) => {
      process.exitCode = await runMigrateCommand(opts);
    });
}
