import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BatchSchema } from '#utilization/rows';
import {
  canonicalJson,
  MAX_LISTED_INDEXES,
  MAX_LISTED_PROBLEMS,
  naturalKey,
  validateBatch,
} from '#utilization/validate';
import { makeBatch, SAMPLE_BATCH_FILE, sampleBatchText } from './store-fixtures.ts';

// JSON.parse gives `any`: the tests break batches on purpose, past what the types allow.
const clone = (x: unknown) => JSON.parse(JSON.stringify(x));

function reasonOf(input: unknown): string {
  const v = validateBatch(input);
  if (v.ok) throw new Error('expected the batch to be rejected');
  return v.reason;
}

describe('validateBatch', () => {
  it('accepts a well-formed batch and sorts its rows by natural key', () => {
    const batch = makeBatch({ resources: 2, periods: 3 });
    const v = validateBatch({ ...batch, rows: [...batch.rows].reverse() });
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.rows).toHaveLength(12);
    expect(v.duplicateRows).toBe(0);
    const keys = v.rows.map(naturalKey);
    expect(keys).toEqual([...keys].sort());
  });

  it('lists the indexes of bad rows per problem, capped, with counts', () => {
    const bad = clone(makeBatch({ resources: 5, periods: 4 })); // 40 rows
    for (let i = 0; i < 15; i++) bad.rows[i].unit = 'Furlongs';
    bad.rows[20].periodStart = '2025-01-06T10:02:30Z';
    const reason = reasonOf(bad);
    expect(reason).toBe(
      `unit: bad unit "Furlongs" (15 of 40 rows: rows[0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 5 more]); ` +
        'periodStart: 2025-01-06T10:02:30Z is not on the 300s period grid (1 of 40 rows: rows[20])',
    );
    expect(MAX_LISTED_INDEXES).toBe(10);
  });

  it('groups a problem whose message varies by row under its field, with one example', () => {
    const bad = clone(makeBatch({ resources: 1, periods: 4 }));
    bad.rows[1].periodStart = '2025-01-06T10:00:01Z';
    bad.rows[3].periodStart = '2025-01-06T10:07:00Z';
    expect(reasonOf(bad)).toBe(
      'periodStart: e.g. 2025-01-06T10:00:01Z is not on the 300s period grid (2 of 8 rows: rows[1, 3])',
    );
  });

  it('rejects NaN and Infinity values given as objects', () => {
    const bad = makeBatch({ resources: 1, periods: 2 });
    bad.rows[0]!.value = Number.NaN;
    bad.rows[3]!.value = Number.POSITIVE_INFINITY;
    // zod words NaN and Infinity differently, so the reason shows the first as an example.
    expect(reasonOf(bad)).toBe(
      'value: e.g. Invalid input: expected number, received NaN (2 of 4 rows: rows[0, 3])',
    );
  });

  it('rejects unknown services and rows or resources from another shard', () => {
    const bad = clone(makeBatch({ resources: 2, periods: 1 }));
    bad.rows[2].service = 'lambda';
    expect(reasonOf(bad)).toBe('service: unknown service "lambda" (1 of 4 rows: rows[2])');
    const other = clone(makeBatch({ resources: 2, periods: 1 }));
    other.rows[1].accountId = '444455556666';
    other.resources[1].region = 'us-east-1';
    expect(reasonOf(other)).toBe(
      'row account/region/service 444455556666/eu-west-1/ec2 disagrees with shard 111122223333/eu-west-1/ec2 (1 of 4 rows: rows[1]); ' +
        'resource account/region/service 111122223333/us-east-1/ec2 disagrees with shard 111122223333/eu-west-1/ec2 (1 of 2 resources: resources[1])',
    );
  });

  it('rejects a window that ends before it starts', () => {
    const bad = clone(makeBatch({ resources: 1, periods: 1 }));
    bad.window = { start: bad.window.end, end: bad.window.start };
    expect(reasonOf(bad)).toMatch(
      /^window.start 2025-01-06T10:05:00.000Z is not before window.end 2025-01-06T10:00:00.000Z$/,
    );
  });

  it('names batch-level problems by path and caps the number of problems listed', () => {
    const bad = clone(makeBatch({ resources: 1, periods: 1 }));
    bad.version = 2;
    delete bad.shard;
    expect(reasonOf(bad)).toBe(
      'version: Invalid input: expected 1; shard: Invalid input: expected object, received undefined',
    );
    const extra = clone(makeBatch({ resources: 1, periods: 1 }));
    for (let i = 0; i < 3; i++) extra[`extra${i}`] = i;
    expect(reasonOf(extra)).toBe('(batch): Unrecognized keys: "extra0", "extra1", "extra2"');
    const fields = [
      'resourceType',
      'metric',
      'statistic',
      'unit',
      'periodSeconds',
      'value',
      'resourceArn',
      'accountId',
      'region',
      'service',
      'periodStart',
      'name',
    ];
    const worse = clone(makeBatch({ resources: 1, periods: 1 }));
    for (const f of fields) worse.rows[0][f] = f === 'name' ? 1 : null;
    const listed = reasonOf(worse).split('; ');
    expect(listed).toHaveLength(MAX_LISTED_PROBLEMS + 1);
    expect(listed.at(-1)).toMatch(/^and \d+ more problems$/);
  });

  it('reports input that is not JSON', () => {
    expect(reasonOf('{"version": 1,')).toMatch(/^batch is not valid JSON: /);
  });

  it('collapses rows with the same natural key, the last one winning, whatever the timestamp spelling', () => {
    const batch = makeBatch({ resources: 1, periods: 2, metrics: [{ metric: 'CPUUtilization' }] });
    const again = {
      ...batch.rows[1]!,
      periodStart: batch.rows[1]!.periodStart.replace('.000Z', '+00:00'),
      value: 7,
    };
    const v = validateBatch({ ...batch, rows: [...batch.rows, again] });
    expect(v.ok && v.duplicateRows).toBe(1);
    expect(v.ok && v.rows.map((r) => r.value)).toEqual([0, 7]);
  });

  it('gives the same checksum to the same content however it is ordered or spelled, and another to new values', () => {
    const batch = makeBatch({ resources: 2, periods: 3 });
    const sum = (b: unknown) => {
      const v = validateBatch(b);
      if (!v.ok) throw new Error(v.reason);
      return v.checksum;
    };
    const reordered = JSON.parse(
      canonicalJson({ ...batch, rows: [...batch.rows].reverse(), collectedAt: '2030-01-01T00:00:00Z' }),
    );
    expect(sum(reordered)).toBe(sum(batch));
    expect(
      sum({ ...batch, rows: batch.rows.map((r, i) => (i === 5 ? { ...r, value: r.value + 0.5 } : r)) }),
    ).not.toBe(sum(batch));
    expect(sum({ ...batch, resources: batch.resources.map((r) => ({ ...r, state: 'stopped' })) })).not.toBe(
      sum(batch),
    );
  });
});

describe('sample batch file', () => {
  it('is the committed output of sampleBatch() and a valid version 1 batch', () => {
    const text = readFileSync(SAMPLE_BATCH_FILE, 'utf8');
    expect(text).toBe(sampleBatchText());
    expect(BatchSchema.safeParse(JSON.parse(text)).success).toBe(true);
    const v = validateBatch(text);
    expect(v.ok && v.rows.length).toBe(2 * 14 * 24 * 2);
  });
});
