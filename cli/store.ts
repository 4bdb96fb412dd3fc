/**
 * `observatory store FILE...`: stores batch files into the utilization database with the code the
 * store Lambda runs (`storeBatch`: validation, ledger, idempotent upserts in one transaction).
 *
 * ```sh
 * DATABASE_URL=postgres://postgres@127.0.0.1:5432/observatory observatory store --migrate test/fixtures/batches/*.json
 * ```
 * Prints one line per file (stored / duplicate / rejected: reason) and a summary line.
 * Exit status: 0 when every file was stored or was a duplicate, 1 when one was rejected, 2 when a file
 * could not be read, was larger than `--max-file-bytes`, or the database failed (or on a usage error).
 * On a terminal, stderr shows how far reading and storing a file has got.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { type Command, InvalidArgumentError } from 'commander';
import { explainError } from '#shared/explain-error';
import { type ChunkProgress, DEFAULT_CHUNK_ROWS, type StoreResult, storeBatch } from '#utilization/store';
import { DATABASE_URL_OPTION, databaseUrl, withDatabase } from './database.ts';

/** Options of `observatory store`. */
export interface StoreCliOptions {
  databaseUrl?: string;
  migrate?: boolean;
  chunkRows?: number;
  /** Largest file stored. @default DEFAULT_MAX_FILE_BYTES */
  maxFileBytes?: number;
}

/**
 * Largest batch file `observatory store` reads by default: 64 MiB, four times the collector's batch
 * bound (`utilization.batchMaxBytes`, 16 MiB). Storing holds about nine times a file's size in memory
 * (parsed rows, validation, statements), so 64 MiB needs about 600 MB; a 300 MB file took 2.6 GB.
 */
export const DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024;

/** Where `observatory store` writes its lines, and a terminal for progress (none when not a TTY). */
export interface StoreCliOutput {
  log: (line: string) => void;
  error: (line: string) => void;
  /** A terminal to redraw progress on; absent when stderr is not a TTY. */
  progress?: { write: (text: string) => unknown } | undefined;
}

const MiB = 1024 * 1024;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(bytes < 10 * MiB ? 1 : 0)} MiB`;

/** A one-line progress display redrawn at most every 100 ms (a dependency for one line is not worth it). */
function progressLine(term: StoreCliOutput['progress']) {
  let last = 0;
  let shown = false;
  return {
    show(text: string, force = false) {
      if (!term) return;
      const now = Date.now();
      if (!force && now - last < 100) return;
      last = now;
      shown = true;
      term.write(`\r\x1b[K${text}`);
    },
    clear() {
      if (term && shown) term.write('\r\x1b[K');
      shown = false;
    },
  };
}

/**
 * Reads a batch file as one string: refuses a file above `maxBytes` before reading a byte, and
 * streams it into one buffer of the file's size (no growing copies), reporting bytes read.
 * @throws Error naming the size and the limit when the file is too large
 */
async function readBatchFile(
  file: string,
  maxBytes: number,
  onBytes: (read: number, total: number) => void,
): Promise<string> {
  const { size } = await stat(file);
  if (size > maxBytes) {
    throw new Error(
      `${mib(size)} is more than --max-file-bytes ${mib(maxBytes)}: storing needs about 9x a file's size in memory; ` +
        'split it into batches (the collector writes at most utilization.batchMaxBytes each) or raise --max-file-bytes',
    );
  }
  const buffer = Buffer.allocUnsafe(size);
  let read = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: MiB })) {
    const bytes = chunk as Buffer;
    if (read + bytes.length > size) throw new Error(`changed while being read (grew beyond ${size} bytes)`);
    bytes.copy(buffer, read);
    read += bytes.length;
    onBytes(read, size);
  }
  return buffer.toString('utf8', 0, read);
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
 * The rows a store has written once a metric-row chunk is in. Chunks count from 0 again when a delivery
 * that began with plain inserts met a stored row and is redone with upserts (the first attempt was rolled
 * back), and so does the count: the progress line never shows more rows than the batch holds.
 */
export function rowsWrittenAfter(before: number, chunk: Pick<ChunkProgress, 'index' | 'rows'>): number {
  return chunk.index === 0 ? chunk.rows : before + chunk.rows;
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
  out: StoreCliOutput = {
    log: console.log,
    error: console.error,
    progress: process.stderr.isTTY ? process.stderr : undefined,
  },
): Promise<number> {
  const url = databaseUrl(opts.databaseUrl, out);
  if (!url) return 2;
  const counts = { stored: 0, duplicate: 0, rejected: 0, failed: 0 };
  let written = 0;
  const status = await withDatabase(url, out, async (handle) => {
    if (opts.migrate) await handle.migrate();
    for (const file of files) {
      const progress = progressLine(out.progress);
      let text: string;
      try {
        text = await readBatchFile(file, opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES, (read, total) =>
          progress.show(
            `${file}: reading ${Math.floor((100 * read) / total)}% (${mib(read)} of ${mib(total)})`,
          ),
        );
      } catch (err) {
        progress.clear();
        counts.failed++;
        out.error(`${file}: failed: cannot read: ${(err as Error).message}`);
        continue;
      }
      try {
        progress.show(`${file}: validating ${mib(text.length)}`, true);
        let rowsWritten = 0;
        const result = await storeBatch(handle.db, text, {
          ...(opts.chunkRows ? { chunkRows: opts.chunkRows } : {}),
          ...(out.progress
            ? {
                onChunk: ({ table, index, rows }: ChunkProgress) => {
                  if (table !== 'metric_rows') return;
                  rowsWritten = rowsWrittenAfter(rowsWritten, { index, rows });
                  // The first chunk always draws, later ones at most every 100 ms.
                  progress.show(
                    `${file}: storing, ${rowsWritten.toLocaleString('en-US')} rows written`,
                    index === 0,
                  );
                },
              }
            : {}),
        });
        progress.clear();
        counts[result.outcome]++;
        written += result.rowsChanged;
        (result.outcome === 'rejected' ? out.error : out.log)(describeOutcome(file, result));
      } catch (err) {
        progress.clear();
        counts.failed++;
        out.error(`${file}: failed: ${explainError(err, { databaseUrl: url })}`);
      }
    }
    return 0;
  });
  if (status !== 0) return status;
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
    .option(...DATABASE_URL_OPTION)
    .option('--migrate', 'apply the schema migrations first')
    .option(
      '--chunk-rows <n>',
      `rows per INSERT statement, at most what fits a Data API request (default ${DEFAULT_CHUNK_ROWS.toLocaleString('en-US')})`,
      positiveInt('--chunk-rows'),
    )
    .option(
      '--max-file-bytes <n>',
      `refuse files larger than this (default ${DEFAULT_MAX_FILE_BYTES}: 64 MiB)`,
      positiveInt('--max-file-bytes'),
    )
    .action(async (files: string[], opts: StoreCliOptions) => {
      process.exitCode = await runStoreCommand(files, opts);
    });
}
