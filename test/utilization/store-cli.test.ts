import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register as registerReport, runReportCommand } from '../../cli/report.ts';
import { register as registerStore, runStoreCommand } from '../../cli/store.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { makeBatch, SAMPLE_BATCH_FILE } from './store-fixtures.ts';

let pg: TestDatabase;
let dir: string;
const sample = fileURLToPath(SAMPLE_BATCH_FILE);

function capture() {
  const lines: string[] = [];
  const errors: string[] = [];
  return {
    lines,
    errors,
    out: {
      log: (l: string) => lines.push(l),
      error: (l: string) => errors.push(l),
      write: (t: string) => lines.push(t),
    },
  };
}

beforeAll(async () => {
  // No migrations: `--migrate` must create the schema.
  pg = await createTestDatabase({ migrate: false });
  dir = mkdtempSync(join(tmpdir(), 'observatory-store-cli-'));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await pg?.drop();
});

describe('observatory store and report (the quick demo of docs/utilization.md)', () => {
  it('stores files, says what happened to each, and exits 1 when one is rejected', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({ ...makeBatch({ resources: 1, periods: 2, batchId: 'bad-1' }), version: 3 }),
    );
    const c = capture();
    const code = await runStoreCommand([sample, sample, bad], { databaseUrl: pg.url, migrate: true }, c.out);
    expect(code).toBe(1);
    expect(c.lines).toEqual([
      `${sample}: stored 111122223333-eu-west-1-ec2-20250106T000000Z_20250120T000000Z_3600s (1344 rows, 1344 written, 2 resources)`,
      `${sample}: duplicate 111122223333-eu-west-1-ec2-20250106T000000Z_20250120T000000Z_3600s (already stored, nothing written)`,
      '3 files: 1 stored, 1 duplicate, 1 rejected; 1344 rows written',
    ]);
    expect(c.errors).toEqual([`${bad}: rejected bad-1: version: Invalid input: expected 1`]);
  });

  it('exits 2 when a file cannot be read or no database is given', async () => {
    const c = capture();
    expect(await runStoreCommand([join(dir, 'missing.json')], { databaseUrl: pg.url }, c.out)).toBe(2);
    expect(c.errors[0]).toMatch(/missing\.json: failed: cannot read: ENOENT/);
    const saved = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    try {
      const d = capture();
      expect(await runStoreCommand([sample], {}, d.out)).toBe(2);
      expect(d.errors).toEqual(['error: no database: set DATABASE_URL or pass --database-url']);
    } finally {
      if (saved !== undefined) process.env.DATABASE_URL = saved;
    }
  });

  it('reports the idle instance of the sample as a table and as CSV', async () => {
    const c = capture();
    const prices = { hourly: async () => ({ usd: 0.107, sku: 'SKU', description: 'm5.large' }) };
    const code = await runReportCommand(
      {
        format: 'table',
        databaseUrl: pg.url,
        asOf: new Date('2025-01-20T00:00:00Z'),
        pricing: true,
        pricingRegion: 'us-east-1',
      },
      c.out,
      prices,
    );
    expect(code).toBe(0);
    const text = c.lines.join('');
    expect(text).toMatch(
      /^1\s+ec2\s+111122223333\s+eu-west-1\s+web-idle\s+78\.11\s+CPU p95 \d\.\d\d% < 10% and network .* over 14 days$/m,
    );
    expect(text).not.toContain('api-busy');
    expect(text).toContain('1 under-used resource, $78.11/month');

    const csv = capture();
    await runReportCommand(
      {
        format: 'csv',
        databaseUrl: pg.url,
        asOf: new Date('2025-01-20T00:00:00Z'),
        pricing: false,
        pricingRegion: 'us-east-1',
      },
      csv.out,
    );
    const rows = csv.lines.join('').trimEnd().split('\r\n');
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatch(
      /^1,ec2,111122223333,eu-west-1,arn:aws:ec2:eu-west-1:111122223333:instance\/i-0a1b2c3d4e5f60718,web-idle,instance,running,,price lookup failed: pricing disabled \(--no-pricing\),/,
    );
  });

  it('registers both commands with their options on a commander program', async () => {
    const program = new Command('observatory').exitOverride();
    registerStore(program);
    registerReport(program);
    expect(program.commands.map((c) => c.name())).toEqual(['store', 'report']);
    const report = program.commands[1]!;
    expect(report.options.map((o) => o.long)).toEqual([
      '--format',
      '--database-url',
      '--config',
      '--as-of',
      '--no-pricing',
      '--pricing-region',
    ]);
    const c = capture();
    const original = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((t: string) => {
      c.lines.push(t);
      return true;
    }) as typeof process.stdout.write;
    try {
      await program.parseAsync(
        [
          'report',
          '--format',
          'json',
          '--database-url',
          pg.url,
          '--as-of',
          '2025-01-20T00:00:00Z',
          '--no-pricing',
        ],
        { from: 'user' },
      );
    } finally {
      process.stdout.write = original;
    }
    expect(JSON.parse(c.lines.join('')).findings.map((f: { name: string }) => f.name)).toEqual(['web-idle']);
    expect(() => program.parse(['report', '--format', 'yaml'], { from: 'user' })).toThrow(
      /Allowed choices are table, csv, markdown, json/,
    );
  });
});
