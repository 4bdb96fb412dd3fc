/**
 * Store throughput into the local PostgreSQL, against the physical reference measured in the same run:
 * - first store of a 100,000-row batch (200 EC2 instances x 500 hourly points) with `storeBatch` (hash,
 *   ledger look-up, validation, checksum, partitions, column-chunked inserts in one transaction), beside a
 *   plain COPY of the same rows into the same table (`metric_rows`, emptied before each);
 * - a redelivery of that batch (the same bytes), as a share of the first store's time;
 * - peak RSS of a child process that stores a batch at the store's default bounds.
 * Medians of RUNS runs, store and COPY alternating. Prints figures; never passes or fails on time.
 *
 * COPY goes through `psql \copy` in a child process, timed by psql's own `\timing` (process start and
 * connection set-up are not counted): psql is the reference COPY client and is on every machine that runs
 * PostgreSQL, so the baseline is the real thing rather than a hand-rolled protocol driver.
 *
 *   npx tsx bench/store.ts            (PostgreSQL at 127.0.0.1:5432 or TEST_PG_ADMIN_URL)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_BATCH_ROWS, storeBatch } from '#utilization/store';
import { createTestDatabase } from '../test/support/postgres.ts';
import { makeBatch } from '../test/utilization/store-fixtures.ts';

const RUNS = 5;

/** 200 instances x 500 hourly CPU points. */
const benchBatch = (instances = 200, hours = 500, tag = 'bench') =>
  makeBatch({
    resources: instances,
    periods: hours,
    periodSeconds: 3600,
    metrics: [{ metric: 'CPUUtilization', statistic: 'Average', unit: 'Percent' }],
    windowStart: new Date('2025-01-01T00:00:00Z'),
    batchId: tag,
  });

// Child mode: store the batch file given and print peak RSS (the parent forks this to measure memory).
if (process.argv[2] === '--rss-child') {
  const db = await createTestDatabase({ poolSize: 2 });
  try {
    const bytes = readFileSync(process.argv[3]!);
    const before = process.memoryUsage().rss;
    const result = await storeBatch(db.db, bytes);
    const peak = process.resourceUsage().maxRSS * 1024;
    console.log(JSON.stringify({ outcome: result.outcome, rows: result.rows, before, peak }));
  } finally {
    await db.drop();
  }
  process.exit(0);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mib = (bytes: number) => `${fmt(bytes / 1024 / 1024)} MiB`;

const db = await createTestDatabase({ poolSize: 2 });
const dir = mkdtempSync(join(tmpdir(), 'observatory-bench-'));
try {
  const psql = (script: string) =>
    execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', db.url], { input: script, encoding: 'utf8' });

  const batch = benchBatch();
  const bytes = Buffer.from(JSON.stringify(batch));
  const rows = batch.rows.length;
  const tsv = join(dir, 'rows.tsv');
  writeFileSync(
    tsv,
    `${batch.rows
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
          batch.collectedAt,
          batch.collectedAt,
        ].join('\t'),
      )
      .join('\n')}\n`,
  );

  const storeMs: number[] = [];
  const copyMs: number[] = [];
  const redeliveryMs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    await db.truncate();
    const t0 = performance.now();
    const result = await storeBatch(db.db, bytes);
    storeMs.push(performance.now() - t0);
    if (result.outcome !== 'stored' || result.rowsChanged !== rows)
      throw new Error(`unexpected ${JSON.stringify(result)}`);
    const t1 = performance.now();
    const again = await storeBatch(db.db, bytes);
    redeliveryMs.push(performance.now() - t1);
    if (again.outcome !== 'duplicate') throw new Error(`expected duplicate, got ${again.outcome}`);

    await db.truncate();
    const out = psql(`\\timing on\n\\copy metric_rows from '${tsv}'\n`);
    const ms = /Time: ([\d.]+) ms/.exec(out)?.[1];
    if (!ms) throw new Error(`psql printed no timing: ${out}`);
    copyMs.push(Number(ms));
  }
  const s = median(storeMs);
  const c = median(copyMs);
  const r = median(redeliveryMs);
  console.log(
    `100,000-row batch (200 instances x 500 hourly points, ${mib(bytes.length)}), median of ${RUNS} runs`,
  );
  console.log('                      ms       rows/s     ratio  goal');
  console.log(
    `COPY into metric_rows ${fmt(c, 1).padStart(8)} ${fmt((rows / c) * 1000).padStart(10)}     1.00`,
  );
  console.log(
    `storeBatch (first)    ${fmt(s, 1).padStart(8)} ${fmt((rows / s) * 1000).padStart(10)}     ${fmt(c / s, 2)}  >= 0.50 of COPY's rows/s`,
  );
  console.log(
    `redelivery            ${fmt(r, 1).padStart(8)} ${''.padStart(10)}     ${fmt(r / s, 3)}  <= 0.05 of the first store's time`,
  );

  // Peak memory of storing a batch at the default row bound, in a process of its own.
  const big = benchBatch(400, DEFAULT_MAX_BATCH_ROWS / 400 - 1, 'rss');
  const bigFile = join(dir, 'big.json');
  writeFileSync(bigFile, JSON.stringify(big));
  const size = readFileSync(bigFile).length;
  const child = JSON.parse(
    execFileSync('npx', ['tsx', import.meta.filename, '--rss-child', bigFile], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .at(-1)!,
  ) as { outcome: string; rows: number; before: number; peak: number };
  console.log(
    `\npeak RSS storing a ${fmt(child.rows)}-row batch (${mib(size)}; bounds ${fmt(DEFAULT_MAX_BATCH_ROWS)} rows, ${mib(DEFAULT_MAX_BATCH_BYTES)}): ${mib(child.peak)} (${mib(child.before)} before the store; outcome ${child.outcome}; the store function has 1,024 MiB)`,
  );
  console.log('\n(2 shared cores; figures vary run to run. Ratios are measured side by side in this run.)');
} finally {
  rmSync(dir, { recursive: true, force: true });
  await db.drop();
}
