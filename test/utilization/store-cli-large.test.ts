import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStoreCommand } from '../../cli/store.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { makeBatch } from './store-fixtures.ts';

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
});
