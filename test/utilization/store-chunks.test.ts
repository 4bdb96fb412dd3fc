import { describe, expect, it } from 'vitest';
import { jsonChunks, MAX_CHUNK_BYTES, metricRowJson, requestBytes } from '#utilization/store';
import {
  canonicalChecksum,
  canonicalContent,
  canonicalJson,
  sha256,
  validateBatch,
} from '#utilization/validate';
import { makeBatch } from './store-fixtures.ts';

describe('canonicalChecksum', () => {
  it('equals the sha256 of the canonical JSON byte for byte, so ledger checksums from before stay comparable', () => {
    const batch = makeBatch({
      resources: 3,
      periods: 7,
      metrics: [{ metric: 'Odd"Name\\é' }, { metric: 'NetworkIn', statistic: 'Sum', unit: 'Bytes' }],
      value: (r, p) => (p % 2 ? -0.1 * r : 1e21 + p),
      resource: { tags: { b: '2', a: '1"' }, attributes: { z: 'x' } },
    });
    const v = validateBatch({ ...batch, rows: [...batch.rows].reverse() });
    if (!v.ok) throw new Error(v.reason);
    expect(v.checksum).toBe(sha256(canonicalJson(canonicalContent(v.batch, v.rows, v.resources))));
    expect(canonicalChecksum(v.batch, [], [])).toBe(sha256(canonicalJson(canonicalContent(v.batch, [], []))));
  });
});

describe('jsonChunks', () => {
  it('sizes each chunk as it travels inside a Data API request: UTF-8 with quotes and backslashes escaped', () => {
    const json = JSON.stringify({ a: 'é€"\\😀' });
    expect(requestBytes(json)).toBe(Buffer.byteLength(JSON.stringify(json)) - 2);
  });

  it('cuts by rows and by request bytes, never past MAX_CHUNK_BYTES, keeping every row once and in order', () => {
    const rows = makeBatch({ resources: 5, periods: 100 }).rows; // 1,000 rows
    const byRows = jsonChunks(rows, metricRowJson, 300, MAX_CHUNK_BYTES);
    expect(byRows.map((c) => c.rows)).toEqual([300, 300, 300, 100]);
    const one = requestBytes(metricRowJson(rows[0]!)) + 1;
    const byBytes = jsonChunks(rows, metricRowJson, 10_000, 2 + one * 10);
    expect(byBytes.every((c) => c.rows <= 10 && c.requestBytes <= 2 + one * 10)).toBe(true);
    for (const c of byBytes) {
      // Exact, but for the comma counted after the last row too: an estimate may only err on the safe side.
      const exact = Buffer.byteLength(JSON.stringify(c.json)) - 2;
      expect(c.requestBytes - exact).toBe(1);
    }
    const back = byBytes.flatMap((c) => JSON.parse(c.json) as { a: string; p: string; v: number }[]);
    expect(back.map((r) => [r.a, r.p, r.v])).toEqual(
      rows.map((r) => [r.resourceArn, r.periodStart, r.value]),
    );
  });

  it('refuses a single row larger than the chunk limit, naming its size', () => {
    expect(() => jsonChunks(['x'.repeat(100)], (s) => JSON.stringify(s), 10, 50)).toThrow(
      /^one row is 105 bytes as JSON, more than the 50-byte chunk limit/,
    );
  });
});
