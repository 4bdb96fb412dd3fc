/**
 * packSamples, the path RemoteWriteClient.write takes, against the reference path it replaced
 * (`buildRequests(toTimeSeries(...))`) and against protobufjs reflection over the prompb schema:
 * the same bytes, the same validation messages, the same cuts.
 */
import snappy from 'snappyjs';
import { describe, expect, it } from 'vitest';
import {
  buildRequests,
  encodeWriteRequest,
  InvalidSampleError,
  packSamples,
  type Sample,
  STALE_NAN,
  snappyCompress,
  toTimeSeries,
} from '#shared/remote-write';
import { rng, WriteRequest } from '../support/prompb.ts';

const VALUES = [
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  -0,
  0,
  Number.MIN_VALUE,
  Number.MAX_VALUE,
  -1e-300,
  0.1,
  2 ** 60,
];
const TEXT = [
  'eu-west-1',
  'zürich',
  '東京',
  '🚀 launch',
  'a"b\\c\nd',
  'x'.repeat(200),
  '\u0000nul',
  '10.0.0.1',
];

/**
 * Varied input: label sets shared, copied per sample or rebuilt in another key order, several metric
 * names per label set, unicode and long values, special doubles, timestamps from negative to 2^53,
 * samples out of order and exact duplicates.
 */
function variedSamples(seed: number, withStale: boolean): Sample[] {
  const random = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)] as T;
  const sets: Record<string, string>[] = [];
  const setCount = 1 + Math.floor(random() * 40);
  for (let i = 0; i < setCount; i++) {
    const labels: Record<string, string> = {};
    const n = Math.floor(random() * 10);
    for (let l = 0; l < n; l++)
      labels[pick(['zone', 'Zeta', 'a', '_under', 'B', 'target', `l${l}`])] = pick(TEXT) + i;
    sets.push(labels);
  }
  const out: Sample[] = [];
  const n = 1 + Math.floor(random() * 600);
  for (let i = 0; i < n; i++) {
    const base = pick(sets);
    const shape = random();
    const labels =
      shape < 0.4 ? base : shape < 0.7 ? { ...base } : Object.fromEntries(Object.entries(base).reverse());
    const r = random();
    const timestampMs =
      r < 0.02
        ? 0
        : r < 0.05
          ? -Math.floor(random() * 1e12)
          : r < 0.1
            ? Number.MAX_SAFE_INTEGER - Math.floor(random() * 10)
            : 1_700_000_000_000 + Math.floor(random() * 50) * 1000;
    const value = withStale && random() < 0.05 ? STALE_NAN : random() < 0.3 ? pick(VALUES) : random() * 1e3;
    const sample = { name: pick(['probe_up', 'ns:rule_ratio', 'm']), labels, value, timestampMs };
    out.push(sample);
    // An exact duplicate, sometimes with its own copy of the labels.
    if (random() < 0.05) out.push({ ...sample, labels: { ...labels } });
  }
  return out;
}

/** The reference: the reflection encoding of the same series, as protobufjs writes it. */
function reflectionBytes(series: ReturnType<typeof toTimeSeries>['series']): Uint8Array {
  const message = WriteRequest.fromObject({
    timeseries: series.map((ts) => ({
      labels: ts.labels.map((l) => ({ name: l.name, value: l.value })),
      samples: ts.samples.map((s) => ({ value: s.value, timestamp: s.timestampMs })),
    })),
  });
  return WriteRequest.encode(message).finish();
}

const raw = (body: Uint8Array) => Buffer.from(snappy.uncompress(body));

describe('packSamples', () => {
  it('writes the bytes of the reference path and of protobufjs reflection for varied input', () => {
    for (let seed = 1; seed <= 60; seed++) {
      for (const maxSamplesPerRequest of [7, 100, 2000]) {
        const samples = variedSamples(seed, false);
        const limits = { maxSamplesPerRequest, maxBytesPerRequest: 1 << 20 };
        const packed = packSamples(samples, 'skip', limits);
        const normalized = toTimeSeries(samples, 'skip');
        const reference = buildRequests(normalized.series, limits);
        expect(packed.series, `seed ${seed}`).toBe(normalized.series.length);
        expect(packed.samples).toBe(normalized.samples);
        expect(packed.rejected).toEqual(normalized.rejected);
        expect(packed.requests.map((r) => r.samples)).toEqual(reference.map((r) => r.samples));
        packed.requests.forEach((request, i) => {
          const ref = reference[i] as (typeof reference)[number];
          const bytes = raw(request.body);
          expect(bytes.length).toBe(request.rawBytes);
          expect(bytes.equals(Buffer.from(encodeWriteRequest(ref.series))), `seed ${seed} request ${i}`).toBe(
            true,
          );
          expect(bytes.equals(Buffer.from(reflectionBytes(ref.series as never)))).toBe(true);
          expect(request.series).toEqual(ref.series);
        });
      }
    }
  });

  it('writes the exact bits of the staleness marker, as the reference path does', () => {
    for (let seed = 100; seed <= 120; seed++) {
      const samples = variedSamples(seed, true);
      const packed = packSamples(samples, 'skip');
      const reference = buildRequests(toTimeSeries(samples, 'skip').series);
      expect(packed.requests.map((r) => raw(r.body).toString('hex'))).toEqual(
        reference.map((r) => raw(r.body).toString('hex')),
      );
    }
    const [request] = packSamples([
      { name: 'gone', labels: { a: 'b' }, value: STALE_NAN, timestampMs: 5 },
    ]).requests;
    expect(
      raw(request?.body as Uint8Array).includes(Buffer.from([0x09, 0x02, 0, 0, 0, 0, 0, 0xf0, 0x7f])),
    ).toBe(true);
  });

  it('cuts at 2,000 samples, splitting a series across requests earlier samples first', () => {
    // 7 points a series: the 2,000-sample boundary falls inside a series.
    const samples: Sample[] = [];
    for (let s = 0; s < 1000; s++) {
      const labels = { target: `t${s}`, az: 'eu-west-1a' };
      for (let p = 0; p < 7; p++)
        samples.push({ name: 'probe_up', labels: { ...labels }, value: p, timestampMs: 1000 + p });
    }
    const { requests } = packSamples(samples);
    expect(requests.map((r) => r.samples)).toEqual([2000, 2000, 2000, 1000]);
    // Sample 2000 is point 5 of series 285: points 0-4 end the first request, 5-6 open the second.
    const first = requests[0]?.series ?? [];
    const second = requests[1]?.series ?? [];
    expect(first[first.length - 1]?.samples.map((s) => s.value)).toEqual([0, 1, 2, 3, 4]);
    expect(second[0]?.labels).toEqual(first[first.length - 1]?.labels);
    expect(second[0]?.samples.map((s) => s.value)).toEqual([5, 6]);
    expect(requests.flatMap((r) => r.toSamples())).toEqual(samples);
  });

  it('merges equal label sets whatever the object or key order, and only those', () => {
    const { series, requests } = packSamples([
      { name: 'm', labels: { a: 'x', b: 'y' }, value: 1, timestampMs: 1 },
      { name: 'm', labels: { b: 'y', a: 'x' }, value: 2, timestampMs: 2 },
      { name: 'm', labels: { a: 'x', b: 'z' }, value: 3, timestampMs: 3 },
      { name: 'm', labels: { a: 'x', b: 'y' }, value: 4, timestampMs: 4 },
      // The same characters in other labels: a content key that only joined names and values would
      // take these two for one set.
      { name: 'm', labels: { a: 'x\u0000b\u0000y', c: 'z' }, value: 5, timestampMs: 5 },
      { name: 'm', labels: { a: 'x', b: 'y\u0000c\u0000z' }, value: 6, timestampMs: 6 },
    ]);
    expect(series).toBe(4);
    expect(requests[0]?.series.map((s) => s.samples.map((p) => p.value))).toEqual([[1, 2, 4], [3], [5], [6]]);
  });

  it('tells a copy of the previous labels from a prefix, an extension or a reordering of them', () => {
    const base = { a: '1', b: '2' };
    const input: Sample[] = [
      { name: 'm', labels: base, value: 1, timestampMs: 1 },
      { name: 'm', labels: { ...base }, value: 2, timestampMs: 2 },
      { name: 'm', labels: { a: '1' }, value: 3, timestampMs: 3 },
      { name: 'm', labels: { ...base, c: '3' }, value: 4, timestampMs: 4 },
      { name: 'm', labels: { b: '2', a: '1' }, value: 5, timestampMs: 5 },
      { name: 'm', labels: { a: '1', b: '2 ' }, value: 6, timestampMs: 6 },
      { name: 'n', labels: { ...base }, value: 7, timestampMs: 7 },
    ];
    const packed = packSamples(input);
    const reference = buildRequests(toTimeSeries(input).series);
    expect(packed.series).toBe(5);
    expect(packed.requests[0]?.series).toEqual(reference[0]?.series);
  });

  it('reads only own labels of a labels object with a prototype, as toTimeSeries does', () => {
    const proto = { inherited: 'no' };
    const labels = Object.assign(Object.create(proto), { own: 'yes' }) as Record<string, string>;
    const sample = { name: 'm', labels, value: 1, timestampMs: 1 };
    const { requests } = packSamples([sample]);
    expect(requests[0]?.series[0]?.labels).toEqual([
      { name: '__name__', value: 'm' },
      { name: 'own', value: 'yes' },
    ]);
    expect(
      raw(requests[0]?.body as Uint8Array).equals(
        raw(buildRequests(toTimeSeries([sample]).series)[0]?.body as Uint8Array),
      ),
    ).toBe(true);
  });

  it('keeps each write apart though buffers are reused between writes', () => {
    const a = packSamples([{ name: 'first', labels: { x: '1' }, value: 1, timestampMs: 1 }]);
    const b = packSamples([{ name: 'second', labels: { y: '2' }, value: 2, timestampMs: 2 }]);
    expect(a.requests[0]?.series).toEqual([
      {
        labels: [
          { name: '__name__', value: 'first' },
          { name: 'x', value: '1' },
        ],
        samples: [{ value: 1, timestampMs: 1 }],
      },
    ]);
    expect(raw(a.requests[0]?.body as Uint8Array).includes(Buffer.from('second'))).toBe(false);
    expect(raw(b.requests[0]?.body as Uint8Array).includes(Buffer.from('first'))).toBe(false);
  });

  const invalid: [string, Sample][] = [
    ['a metric name starting with a digit', { name: '9lives', labels: { a: 'b' }, value: 1, timestampMs: 1 }],
    ['an empty metric name', { name: '', labels: {}, value: 1, timestampMs: 1 }],
    ['a label name with a dot', { name: 'm', labels: { 'aws.region': 'x' }, value: 1, timestampMs: 1 }],
    ['a reserved label name', { name: 'm', labels: { __meta: 'x' }, value: 1, timestampMs: 1 }],
    ['a __name__ label', { name: 'm', labels: { __name__: 'n' }, value: 1, timestampMs: 1 }],
    ['an empty label name', { name: 'm', labels: { '': 'x' }, value: 1, timestampMs: 1 }],
    ['an empty label value', { name: 'm', labels: { target: 'a', az: '' }, value: 1, timestampMs: 1 }],
    [
      'a non-string label value',
      { name: 'm', labels: { n: 1 as unknown as string }, value: 1, timestampMs: 1 },
    ],
    ['a lone surrogate', { name: 'm', labels: { t: 'a\uD800' }, value: 1, timestampMs: 1 }],
    ['a lone low surrogate', { name: 'm', labels: { t: '\uDC00b' }, value: 1, timestampMs: 1 }],
    ['a fractional timestamp', { name: 'm', labels: {}, value: 1, timestampMs: 1.5 }],
    ['a string value', { name: 'm', labels: {}, value: '1' as unknown as number, timestampMs: 1 }],
    ['labels that are not an object', { name: 'm', labels: null as never, value: 1, timestampMs: 1 }],
    ['a bad name and a bad label', { name: '9', labels: { 'a.b': 'x' }, value: 1, timestampMs: 1 }],
  ];
  it.each(invalid)('refuses %s with the message toTimeSeries gives', (_, sample) => {
    const ok = { name: 'ok', labels: { a: 'b' }, value: 1, timestampMs: 1 };
    const expected = (() => {
      try {
        toTimeSeries([ok, sample]);
      } catch (err) {
        return err as InvalidSampleError;
      }
      throw new Error('toTimeSeries accepted it');
    })();
    let error: unknown;
    try {
      packSamples([ok, sample]);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InvalidSampleError);
    expect((error as Error).message).toBe(expected.message);
    expect((error as InvalidSampleError).sample).toBe(sample);
    // Skipped: the same reason, the rest still written; a copy of a valid set after it is not
    // taken for the invalid one.
    const after = { ...ok, labels: { ...ok.labels }, timestampMs: 2 };
    const skipped = packSamples([ok, sample, sample, after], 'skip');
    expect(skipped.rejected).toEqual(toTimeSeries([ok, sample, sample, after], 'skip').rejected);
    expect(skipped.samples).toBe(2);
  });

  it('refuses two values at one timestamp with the reference message, and collapses exact duplicates', () => {
    const s = { name: 'm', labels: { x: '1' }, timestampMs: 100 };
    expect(() =>
      packSamples([
        { ...s, value: 1 },
        { ...s, value: 2 },
      ]),
    ).toThrow('invalid sample for series m{x="1"}: timestamp 100 has two values, 1 and 2');
    expect(
      packSamples([
        { ...s, value: Number.NaN },
        { ...s, value: Number.NaN },
      ]).samples,
    ).toBe(1);
  });

  it('refuses a series whose one sample exceeds maxBytesPerRequest, and bad limits', () => {
    const sample = { name: 'big', labels: { v: 'x'.repeat(2000) }, value: 1, timestampMs: 1 };
    expect(() => packSamples([sample], 'throw', { maxBytesPerRequest: 1024 })).toThrow(
      /^series big\{v="x+"\} needs 20\d\d bytes for one sample, more than maxBytesPerRequest 1024$/,
    );
    expect(() => packSamples([sample], 'throw', { maxSamplesPerRequest: 0 })).toThrow(
      'maxSamplesPerRequest must be a positive integer, got 0',
    );
  });
});

describe('snappyCompress', () => {
  it('round-trips through snappyjs for empty, tiny, incompressible, repetitive and multi-block input', () => {
    const random = rng(42);
    const inputs: Uint8Array[] = [
      new Uint8Array(0),
      new Uint8Array([7]),
      new Uint8Array(14),
      new Uint8Array(15),
    ];
    for (let k = 0; k < 200; k++) {
      const n = Math.floor(random() * (k % 10 === 0 ? 300_000 : 5000));
      const a = new Uint8Array(n);
      const alphabet = 1 + Math.floor(random() * 255);
      const repetitive = random() < 0.5;
      for (let i = 0; i < n; i++)
        a[i] =
          repetitive && i > 70 && random() < 0.9
            ? (a[i - 1 - Math.floor(random() * 70)] as number)
            : Math.floor(random() * alphabet);
      inputs.push(a);
    }
    for (const input of inputs) {
      const compressed = snappyCompress(input);
      expect(Buffer.from(snappy.uncompress(compressed)).equals(Buffer.from(input))).toBe(true);
      expect(compressed.length).toBeLessThanOrEqual(32 + input.length + input.length / 6);
    }
  });

  it('compresses a subarray of a larger buffer without reading outside it', () => {
    const backing = new Uint8Array(1000).fill(9);
    const inner = backing.subarray(100, 400);
    inner.fill(1, 0, 150);
    const compressed = snappyCompress(inner);
    expect(Buffer.from(snappy.uncompress(compressed)).equals(Buffer.from(inner))).toBe(true);
  });
});
