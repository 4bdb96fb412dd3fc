import { describe, expect, it } from 'vitest';
import { jsonChunks, MAX_CHUNK_BYTES, requestBytes, resourceJson } from '#utilization/store';
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
    const resources = makeBatch({ resources: 1_000, periods: 1 }).resources;
    const byRows = jsonChunks(resources, resourceJson, 300, MAX_CHUNK_BYTES);
    expect(byRows.map((c) => c.rows)).toEqual([300, 300, 300, 100]);
    const one = Math.max(...resources.map((r) => requestBytes(resourceJson(r)))) + 1;
    const byBytes = jsonChunks(resources, resourceJson, 10_000, 2 + one * 10);
    expect(byBytes.every((c) => c.rows <= 10 && c.requestBytes <= 2 + one * 10)).toBe(true);
    for (const c of byBytes) {
      // Exact, but for the comma counted after the last row too: an estimate may only err on the safe side.
      const exact = Buffer.byteLength(JSON.stringify(c.json)) - 2;
      expect(c.requestBytes - exact).toBe(1);
    }
    const back = byBytes.flatMap((c) => JSON.parse(c.json) as { arn: string; name: string }[]);
    expect(back.map((r) => [r.arn, r.name])).toEqual(resources.map((r) => [r.resourceArn, r.name]));
  });

  it('refuses a single row larger than the chunk limit, naming its size', () => {
    expect(() => jsonChunks(['x'.repeat(100)], (s) => JSON.stringify(s), 10, 50)).toThrow(
      /^one row is 105 bytes as JSON, more than the 50-byte chunk limit/,
    );
  });
});
