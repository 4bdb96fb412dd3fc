/**
 * `observatory store FILE...`: stores batch files into the utilization database with the code the
 * store Lambda runs (`storeBatch`: validation, ledger, idempotent upserts in one transaction).
 *
 * ```sh
 * DATABASE_URL=postgres://postgres@127.0.0.1:5432/observatory observatory store --migrate test/fixtures/batches/*.json
 * ```
 * Prints one line per file (stored / duplicate / rejected: reason) and a summary line.
 * Exit status: 0 when every file was stored or was a duplicate, 1 when one was rejected, 2 when a file
 * could not be read or the database failed (or on a usage error).
 */
import { readFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError } from 'commander';
import { createPgDb } from '#shared/db/client';
import { explainError } from '#shared/explain-error';
import { type StoreResult, storeBatch } from '#utilization/store';

/** Options of `observatory store`. */
export interface StoreCliOptions {
  databaseUrl?: string;
  migrate?: boolean;
  chunkRows?: number;
}

const positiveInt = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`${name} must be a positive integer, got ${value}`);
  return n;
};

/** One line for a file's outcome. */
export function describeOutcome(file: string, r: StoreResult): string {
  switch (r.outcome) {
    case 'stored':
      return `${file}: stored ${r.batchId} (${r.rows} rows, ${r.rowsChanged} written, ${r.resources} resources${r.duplicateRowsCollapsed ? `, ${r.duplicateRowsCollapsed} duplicate rows collapsed` : ''})`;
    case 'duplicate':
      return `${file}: duplicate ${r.batchId} (already stored, nothing written)`;
    case 'rejected':
      return `${file}: rejected ${r.batchId}: ${r.reason}`;
  }
}

/**
 * Stores the files and prints the outcome; returns the exit status.
 * @param files batch files
 * @param opts database URL, migrate first, chunk size
 * @param out where lines go
 */
export async function runStoreCommand(
  files: string[],
  opts: StoreCliOptions,
  out: { log: (line: string) => void; error: (line: string) => void } = console,
): Promise<number> {
  const url = opts.databaseUrl ?? process.env.DATABASE_URL;
  if (!url) {
    out.error('error: no database: set DATABASE_URL or pass --database-url');
    return 2;
  }
  const handle = createPgDb(url, { max: 1 });
  const counts = { stored: 0, duplicate: 0, rejected: 0, failed: 0 };
  let written = 0;
  try {
    if (opts.migrate) await handle.migrate();
    for (const file of files) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        counts.failed++;
        out.error(`${file}: failed: cannot read: ${(err as Error).message}`);
        continue;
      }
      try {
        const result = await storeBatch(handle.db, text, opts.chunkRows ? { chunkRows: opts.chunkRows } : {});
        counts[result.outcome]++;
        written += result.rowsChanged;
        (result.outcome === 'rejected' ? out.error : out.log)(describeOutcome(file, result));
      } catch (err) {
        counts.failed++;
        out.error(`${file}: failed: ${explainError(err, { databaseUrl: url })}`);
      }
    }
  } catch (err) {
    out.error(`error: ${explainError(err, { databaseUrl: url })}`);
    return 2;
  } finally {
    await handle.close();
  }
  out.log(
    `${files.length} ${files.length === 1 ? 'file' : 'files'}: ${counts.stored} stored, ${counts.duplicate} duplicate, ` +
      `${counts.rejected} rejected${counts.failed ? `, ${counts.failed} failed` : ''}; ${written} rows written`,
  );
  return counts.failed ? 2 : counts.rejected ? 1 : 0;
}

/**
 * Registers `observatory store` on the program.
 * @param program the root commander program
 */
export function register(program: Command): void {
  program
    .command('store')
    .description('store utilization batch files into the database (same code as the store Lambda)')
    .argument('<files...>', 'batch files (see docs/batch-format.md)')
    .option('--database-url <url>', 'postgres:// URL (default: $DATABASE_URL)')
    .option('--migrate', 'apply the schema migrations first')
    .option('--chunk-rows <n>', 'rows per INSERT statement (default 500)', positiveInt('--chunk-rows'))
    .action(async (files: string[], opts: StoreCliOptions) => {
      process.exitCode = await runStoreCommand(files, opts);
    });
}
