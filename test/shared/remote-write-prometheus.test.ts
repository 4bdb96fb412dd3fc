/**
 * The client against a real Prometheus 2.42 remote-write receiver: what is pushed reads back exactly.
 * Raw points are read with instant queries of range selectors (`metric[range]`), which return every
 * stored sample with its own timestamp and the value formatted to round-trip (Go's shortest repr).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemoteWriteClient, type Sample, STALE_NAN } from '#shared/remote-write';
import { type LocalPrometheus, type PromMatrixSeries, startPrometheus } from '../support/prometheus.ts';

let prom: LocalPrometheus;
const quiet = { warn: () => {}, error: () => {} };
// Aligned to a whole second so the query time and the sample timestamps are exact in float seconds.
const now = Math.floor(Date.now() / 1000) * 1000;

beforeAll(async () => {
  prom = await startPrometheus();
});
afterAll(async () => {
  await prom?.stop();
});

function parseValue(s: string): number {
  if (s === '+Inf') return Number.POSITIVE_INFINITY;
  if (s === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(s);
}

async function rawPoints(selector: string, range: string, at: number): Promise<PromMatrixSeries[]> {
  return (await prom.query(`${selector}[${range}]`, new Date(at))) as unknown as PromMatrixSeries[];
}

function points(series: PromMatrixSeries): [number, number][] {
  return series.values.map(([t, v]) => [Math.round(t * 1000), parseValue(v)]);
}

describe('RemoteWriteClient against Prometheus', () => {
  it('writes several series with NaN, infinities and back-filled timestamps that read back exactly', async () => {
    const client = new RemoteWriteClient({ url: prom.remoteWriteUrl, logger: quiet });
    const special = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0.000123, 1e300, 42];
    const first: Sample[] = special.map((value, i) => ({
      name: 'rw_special',
      labels: { kind: 'edge', az: 'eu-west-1a' },
      value,
      timestampMs: now - 60_000 + i * 1000,
    }));
    // Two more series, given newest first and interleaved: the client sorts them.
    const others: Sample[] = [];
    for (let i = 9; i >= 0; i--) {
      others.push({
        name: 'rw_other',
        labels: { target: 'a' },
        value: i * 1.5,
        timestampMs: now - 30_000 + i * 1000,
      });
      others.push({
        name: 'rw_other',
        labels: { target: 'b' },
        value: -i,
        timestampMs: now - 30_000 + i * 1000,
      });
    }
    const r1 = await client.write([...first, ...others]);
    expect(r1).toMatchObject({ ok: true, series: 3, samples: 26, samplesSent: 26 });

    // A later write back-fills older points of an existing series (needs the out-of-order window).
    const backfill: Sample[] = [0, 1, 2].map((i) => ({
      name: 'rw_other',
      labels: { target: 'a' },
      value: 1000 + i,
      timestampMs: now - 20 * 60_000 + i * 60_000,
    }));
    const r2 = await client.write(backfill);
    expect(r2).toMatchObject({ ok: true, samplesSent: 3 });

    const special_ = await rawPoints('rw_special', '2m', now);
    expect(special_).toHaveLength(1);
    expect(special_[0]?.metric).toEqual({ __name__: 'rw_special', kind: 'edge', az: 'eu-west-1a' });
    const got = points(special_[0] as PromMatrixSeries);
    expect(got.map(([t]) => t)).toEqual(first.map((s) => s.timestampMs));
    for (const [i, [, v]] of got.entries()) expect(Object.is(v, special[i]), `value ${i}`).toBe(true);

    const other = await rawPoints('rw_other', '30m', now);
    const byTarget = Object.fromEntries(other.map((s) => [s.metric.target, points(s)]));
    const expected = (target: string) =>
      [...backfill, ...others]
        .filter((s) => s.labels.target === target)
        .map((s) => [s.timestampMs, s.value])
        .sort((a, b) => (a[0] as number) - (b[0] as number));
    expect(byTarget.a).toEqual(expected('a'));
    expect(byTarget.b).toEqual(expected('b'));
  });

  it('ends a series with the staleness marker', async () => {
    const client = new RemoteWriteClient({ url: prom.remoteWriteUrl, logger: quiet });
    const t0 = now - 10 * 60_000;
    await client.write([
      { name: 'rw_stale', labels: { job: 'x' }, value: 7, timestampMs: t0 },
      { name: 'rw_stale', labels: { job: 'x' }, value: STALE_NAN, timestampMs: t0 + 10_000 },
    ]);
    // Without the marker the last value would be returned for 5 minutes (the lookback delta).
    expect(await prom.query('rw_stale', new Date(t0 + 5000))).toMatchObject([
      { value: [(t0 + 5000) / 1000, '7'] },
    ]);
    expect(await prom.query('rw_stale', new Date(t0 + 20_000))).toEqual([]);
    // A plain NaN is a value, not a marker: it is returned.
    await client.write([
      { name: 'rw_nan', labels: { job: 'x' }, value: Number.NaN, timestampMs: t0 + 10_000 },
    ]);
    expect(await prom.query('rw_nan', new Date(t0 + 20_000))).toMatchObject([
      { value: [(t0 + 20_000) / 1000, 'NaN'] },
    ]);
  });

  it('reads back series split at the 2,000-sample cut, unicode labels and zero values exactly', async () => {
    const client = new RemoteWriteClient({ url: prom.remoteWriteUrl, logger: quiet });
    const start = now - 30 * 60_000;
    const input: Sample[] = [];
    // 7 points a series, so request boundaries fall inside series; +0 is left out of the protobuf
    // (proto3's default) and must read back as 0, -0 is written and reads back as -0.
    for (let s = 0; s < 600; s++) {
      const labels = { target: `zürich-東京-${s}`, note: s % 2 ? '🚀 "q" \\ x' : 'plain', port: '443' };
      for (let p = 0; p < 7; p++)
        input.push({
          name: 'rw_split',
          labels: { ...labels },
          value: p === 0 ? 0 : p === 1 ? -0 : s * 10 + p / 8,
          timestampMs: start + p * 60_000,
        });
    }
    const result = await client.write(input);
    expect(result).toMatchObject({ ok: true, requests: 3, series: 600, samplesSent: 4200 });
    const read = await rawPoints('rw_split', '40m', now);
    expect(read).toHaveLength(600);
    const byTarget = new Map(read.map((r) => [r.metric.target, r]));
    for (const s of [0, 285, 286, 571, 599]) {
      const series = byTarget.get(`zürich-東京-${s}`) as PromMatrixSeries;
      expect(series.metric.note).toBe(s % 2 ? '🚀 "q" \\ x' : 'plain');
      expect(points(series)).toEqual(
        input.filter((x) => x.labels.target === `zürich-東京-${s}`).map((x) => [x.timestampMs, x.value]),
      );
    }
  });

  it('writes 100,000 samples (100 series x 1000 points) that all read back exactly', async () => {
    const client = new RemoteWriteClient({ url: prom.remoteWriteUrl, logger: quiet });
    const seriesCount = 100;
    const pointsPerSeries = 1000;
    const start = now - 2 * 3600_000;
    const input: Sample[] = [];
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let p = 0; p < pointsPerSeries; p++) {
      for (let s = 0; s < seriesCount; s++) {
        // Full-precision doubles over many magnitudes, negative and positive.
        const value = (random() - 0.3) * 10 ** Math.floor(random() * 20 - 10);
        input.push({
          name: 'rw_bulk',
          labels: { series: String(s), source_az: `eu-west-1${'abc'[s % 3]}`, target: `t${s % 17}` },
          value,
          timestampMs: start + p * 5000 + s,
        });
      }
    }
    const result = await client.write(input, { deadline: Date.now() + 120_000 });
    expect(result).toMatchObject({
      ok: true,
      series: 100,
      samples: 100_000,
      samplesSent: 100_000,
      retries: 0,
    });
    expect(result.requests).toBe(50);

    const read = await rawPoints('rw_bulk', '3h', now);
    expect(read).toHaveLength(seriesCount);
    const want = new Map<string, [number, number][]>();
    for (const s of input) {
      const key = s.labels.series as string;
      if (!want.has(key)) want.set(key, []);
      want.get(key)?.push([s.timestampMs, s.value]);
    }
    let compared = 0;
    for (const series of read) {
      const got = points(series);
      const expected = want.get(series.metric.series as string);
      expect(got.length).toBe(pointsPerSeries);
      expect(got).toEqual(expected);
      compared += got.length;
    }
    expect(compared).toBe(100_000);
  });
});
