/**
 * Store throughput into the local PostgreSQL: `storeBatch` (validation, checksum, ledger, chunked
 * upserts in one transaction) for batches of 1,000 and 10,000 metric rows, beside a plain COPY of the
 * same rows into a table of the same shape; the cost of a redelivered (duplicate) batch; and the
 * effect of the chunk size. Prints figures; never passes or fails on time.
 *
 * COPY goes through `psql \copy` in a child process, timed by psql's own `\timing` (so process start
 * and connection set-up are not counted). node-postgres can only stream COPY FROM STDIN through
 * pg-copy-streams (not installed) or by driving its undocumented connection internals; psql is the
 * reference COPY client, speaks the same COPY FROM STDIN protocol, and is on every machine that runs
 * PostgreSQL, so the baseline is the real thing rather than a hand-rolled protocol driver.
 *
 *   npx tsx bench/store.ts            (PostgreSQL at 127.0.0.1:5432 or TEST_PG_ADMIN_URL)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeBatch } from '#utilization/store';
import { validateBatch } from '#utilization/validate';
import { createTestDatabase } from '../test/support/postgres.ts';
import { makeBatch } from '../test/utilization/store-fixtures.ts';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** A batch of `rows` metric rows: 50 instances x 2 metrics x rows/100 periods. */
function batchOf(rows: number, tag: string) {
  return makeBatch({ resources: 50, periods: rows / 100, batchId: `bench-${tag}-${rows}` });
}

const db = await createTestDatabase({ poolSize: 2 });
const dir = mkdtempSync(join(tmpdir(), 'observatory-bench-'));
try {
  await db.query('create table metric_rows_copy (like metric_rows including all)');
  const psql = (script: string) =>
    execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', db.url], { input: script, encoding: 'utf8' });

  console.log(
    'storeBatch vs COPY into local PostgreSQL (median of runs; rows/s include validation and checksum)',
  );
  console.log('rows    runs  storeBatch ms  storeBatch rows/s  COPY ms  COPY rows/s  storeBatch/COPY');
  for (const [rows, runs] of [
    [1_000, 7],
    [10_000, 5],
  ] as const) {
    const storeMs: number[] = [];
    const copyMs: number[] = [];
    for (let run = 0; run < runs; run++) {
      const batch = batchOf(rows, `r${run}`);
      const text = JSON.stringify(batch);
      await db.truncate();
      const t0 = performance.now();
      const result = await storeBatch(db.db, text);
      storeMs.push(performance.now() - t0);
      if (result.outcome !== 'stored' || result.rowsChanged !== rows)
        throw new Error(`unexpected ${JSON.stringify(result)}`);

      // The same rows as COPY text (tab-separated, in column order).
      const file = join(dir, `rows-${rows}.tsv`);
      const collectedAt = batch.collectedAt;
      writeFileSync(
        file,
        batch.rows
          .map((r) =>
            [
              r.resourceArn,
              r.metric,
              r.statistic,
              r.periodStart,
              r.periodSeconds,
              r.value,
              r.unit,
              r.accountId,
              r.region,
              r.service,
              r.resourceType,
              batch.batchId,
              collectedAt,
              collectedAt,
            ].join('\t'),
          )
          .join('\n') + '\n',
      );
      const out = psql(`truncate metric_rows_copy;\n\\timing on\n\\copy metric_rows_copy from '${file}'\n`);
      const ms = /Time: ([\d.]+) ms/.exec(out)?.[1];
      if (!ms) throw new Error(`psql printed no timing: ${out}`);
      copyMs.push(Number(ms));
    }
    const s = median(storeMs);
    const c = median(copyMs);
    console.log(
      `${fmt(rows).padEnd(7)} ${String(runs).padEnd(5)} ${fmt(s, 1).padStart(13)}  ${fmt((rows / s) * 1000).padStart(17)}  ${fmt(c, 1).padStart(7)}  ${fmt((rows / c) * 1000).padStart(11)}  ${fmt(s / c, 1).padStart(14)}x`,
    );
  }

  console.log('\nredelivered batch (already stored): outcome duplicate, nothing written');
  console.log('rows    runs  duplicate ms  of which validate+checksum ms');
  for (const rows of [1_000, 10_000]) {
    await db.truncate();
    const text = JSON.stringify(batchOf(rows, 'dup'));
    await storeBatch(db.db, text);
    const dupMs: number[] = [];
    const validateMs: number[] = [];
    for (let run = 0; run < 7; run++) {
      const t0 = performance.now();
      const r = await storeBatch(db.db, text);
      dupMs.push(performance.now() - t0);
      if (r.outcome !== 'duplicate') throw new Error(`expected duplicate, got ${r.outcome}`);
      const t1 = performance.now();
      validateBatch(text);
      validateMs.push(performance.now() - t1);
    }
    console.log(
      `${fmt(rows).padEnd(7)} ${'7'.padEnd(5)} ${fmt(median(dupMs), 1).padStart(12)}  ${fmt(median(validateMs), 1).padStart(29)}`,
    );
  }

  console.log(
    '\nchunk size, 10,000-row batch (first delivery; above ~950 rows the 1 MiB parameter budget caps the chunk)',
  );
  console.log('chunkRows  statements  ms      rows/s');
  for (const chunkRows of [100, 250, 500, 1000, 2500, 5000]) {
    const ms: number[] = [];
    let statements = 0;
    for (let run = 0; run < 3; run++) {
      await db.truncate();
      statements = 0;
      const t0 = performance.now();
      await storeBatch(db.db, batchOf(10_000, `c${chunkRows}-${run}`), {
        chunkRows,
        onChunk: () => {
          statements++;
        },
      });
      ms.push(performance.now() - t0);
    }
    const m = median(ms);
    console.log(
      `${String(chunkRows).padEnd(10)} ${String(statements).padEnd(11)} ${fmt(m, 1).padEnd(7)} ${fmt((10_000 / m) * 1000)}`,
    );
  }
  console.log('\n(2 shared cores; figures vary run to run by about 10-20%.)');
} finally {
  rmSync(dir, { recursive: true, force: true });
  await db.drop();
}
