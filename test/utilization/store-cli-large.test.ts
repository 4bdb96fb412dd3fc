import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeBatch } from '#utilization/store';
import { rowsWrittenAfter, runStoreCommand } from '../../cli/store.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { instanceArn, makeBatch } from './store-fixtures.ts';

let pg: TestDatabase;
let dir: string;
let file: string;

beforeAll(async () => {
  pg = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'observatory-store-large-'));
  file = join(dir, 'batch.json');
  // 3,000 rows (~1 MiB): several read chunks and several insert chunks.
  writeFileSync(file, JSON.stringify(makeBatch({ resources: 50, periods: 30, batchId: 'large-1' })));
}, 60_000);
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await pg?.drop();
});

function capture(tty: boolean) {
  const lines: string[] = [];
  const errors: string[] = [];
  const screen: string[] = [];
  return {
    lines,
    errors,
    screen,
    out: {
      log: (l: string) => lines.push(l),
      error: (l: string) => errors.push(l),
      ...(tty ? { progress: { write: (t: string) => screen.push(t) } } : {}),
    },
  };
}

describe('observatory store of a large file', () => {
  it('refuses a file above --max-file-bytes before reading it, naming its size and the limit', async () => {
    const c = capture(false);
    const limit = statSync(file).size - 1;
    expect(await runStoreCommand([file], { databaseUrl: pg.url, maxFileBytes: limit }, c.out)).toBe(2);
    expect(c.errors).toHaveLength(1);
    expect(c.errors[0]).toMatch(
      /batch\.json: failed: cannot read: \d+\.\d MiB is more than --max-file-bytes \d+\.\d MiB: storing needs about 9x/,
    );
    expect(await pg.query('select * from batch_ledger')).toEqual([]);
  });

  it('shows reading and storing progress on a terminal and clears it before the outcome', async () => {
    const c = capture(true);
    expect(await runStoreCommand([file], { databaseUrl: pg.url, chunkRows: 500 }, c.out)).toBe(0);
    const screen = c.screen.join('');
    expect(screen).toMatch(/batch\.json: validating \d+\.\d MiB/);
    expect(screen).toMatch(/batch\.json: storing, [\d,]+ rows written/);
    // The last thing drawn erases the progress line, so the outcome line starts clean.
    expect(c.screen.at(-1)).toBe('\r\x1b[K');
    expect(c.lines[0]).toMatch(/stored large-1 \(3000 rows/);
  });

  it('writes no progress when stderr is not a terminal', async () => {
    await pg.truncate();
    const c = capture(false);
    expect(await runStoreCommand([file], { databaseUrl: pg.url }, c.out)).toBe(0);
    expect(c.screen).toEqual([]);
    expect(c.errors).toEqual([]);
  });

  it('counts rows written from 0 again when a delivery is redone with upserts, never past the batch', async () => {
    await pg.truncate();
    // An earlier collection of the last instance only: the big batch's first row is new, so it starts with
    // plain inserts, writes several chunks, meets these rows in its last chunk, and is redone with upserts.
    const last = instanceArn(49);
    const all = makeBatch({
      resources: 50,
      periods: 30,
      collectedAt: new Date('2025-01-06T12:35:00Z'),
      batchId: 'earlier',
    });
    const earlier = {
      ...all,
      resources: all.resources.filter((r) => r.resourceArn === last),
      rows: all.rows.filter((r) => r.resourceArn === last),
    };
    expect((await storeBatch(pg.db, JSON.stringify(earlier))).outcome).toBe('stored');
    const big = makeBatch({ resources: 50, periods: 30, batchId: 'large-2' });
    const chunks: { index: number; rows: number }[] = [];
    const result = await storeBatch(pg.db, JSON.stringify(big), {
      chunkRows: 500,
      onChunk: ({ table, index, rows }) => {
        if (table === 'metric_rows') chunks.push({ index, rows });
      },
    });
    expect(result.outcome).toBe('stored');
    // The first attempt was rolled back part way: its chunks and the redo's both reported, from index 0.
    expect(chunks.filter((c) => c.index === 0)).toHaveLength(2);
    const counts: number[] = [];
    for (const c of chunks) counts.push(rowsWrittenAfter(counts.at(-1) ?? 0, c));
    expect(counts.at(-1)).toBe(3_000);
    expect(Math.max(...counts)).toBe(3_000);
  });
});
