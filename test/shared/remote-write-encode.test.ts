import snappy from 'snappyjs';
import { describe, expect, it } from 'vitest';
import {
  buildRequests,
  encodedSize,
  encodeWriteRequest,
  InvalidSampleError,
  isStaleNaN,
  type Sample,
  STALE_NAN,
  snappyCompress,
  type TimeSeries,
  toSamples,
  toTimeSeries,
} from '#shared/remote-write';
import { rng, WriteRequest } from '../support/prompb.ts';

interface Decoded {
  labels: { name: string; value: string }[];
  samples: { value: number; timestamp: number }[];
}

function decode(raw: Uint8Array): Decoded[] {
  const msg = WriteRequest.decode(raw);
  const obj = WriteRequest.toObject(msg, { longs: Number, defaults: true, arrays: true }) as {
    timeseries: Decoded[];
  };
  return obj.timeseries;
}

function expectSameSeries(decoded: Decoded[], series: readonly TimeSeries[]) {
  expect(decoded).toHaveLength(series.length);
  decoded.forEach((d, i) => {
    const ts = series[i] as TimeSeries;
    expect(d.labels).toEqual(ts.labels.map((l) => ({ name: l.name, value: l.value })));
    expect(d.samples.length).toBe(ts.samples.length);
    d.samples.forEach((s, j) => {
      const want = ts.samples[j] as TimeSeries['samples'][number];
      expect(s.timestamp).toBe(want.timestampMs);
      expect(Object.is(s.value, want.value)).toBe(true);
    });
  });
}

function probeSamples(series: number, points: number, seed = 1): Sample[] {
  const random = rng(seed);
  const out: Sample[] = [];
  for (let s = 0; s < series; s++) {
    const labels = {
      source_region: 'eu-west-1',
      source_az: 'eu-west-1a',
      source_az_id: 'euw1-az1',
      target: `service-${s}.internal.example.com`,
      target_region: 'eu-central-1',
      target_az: 'eu-central-1b',
      address: `10.0.${s % 256}.${(s * 7) % 256}`,
      family: 'ipv4',
      probe: 'tcp',
      port: '443',
    };
    for (let p = 0; p < points; p++) {
      out.push({
        name: 'probe_tcp_connect_seconds',
        labels,
        value: random() * 0.2,
        timestampMs: 1_700_000_000_000 + p * 60_000,
      });
    }
  }
  return out;
}

describe('encodeWriteRequest', () => {
  it('produces a WriteRequest that the prompb schema decodes to the same series', () => {
    const { series } = toTimeSeries([
      {
        name: 'probe_up',
        labels: { target: 'db.internal', az: 'eu-west-1a' },
        value: 1,
        timestampMs: 1_700_000_000_000,
      },
      {
        name: 'probe_up',
        labels: { az: 'eu-west-1a', target: 'db.internal' },
        value: 0,
        timestampMs: 1_700_000_060_000,
      },
      {
        name: 'ns:rule_ratio',
        labels: { unicode: 'zürich-東京-🚀', quote: 'a"b\\c\nd' },
        value: -12.5,
        timestampMs: 0,
      },
      { name: 'old', labels: { long: 'x'.repeat(300) }, value: 3, timestampMs: -86_400_000 },
      { name: 'far_future', labels: {}, value: 2 ** 60, timestampMs: Number.MAX_SAFE_INTEGER },
    ]);
    expect(series).toHaveLength(4);
    const raw = encodeWriteRequest(series);
    expectSameSeries(decode(raw), series);
  });

  it('sorts labels by name in byte order with __name__ among them', () => {
    const { series } = toTimeSeries([
      { name: 'm', labels: { zone: 'z', Zeta: 'Z', a: '1', _under: 'u', B: 'b' }, value: 1, timestampMs: 1 },
    ]);
    const names = decode(encodeWriteRequest(series))[0]?.labels.map((l) => l.name);
    expect(names).toEqual(['B', 'Zeta', '__name__', '_under', 'a', 'zone']);
  });

  it('encodes NaN, +Inf, -Inf, -0 and extreme doubles exactly', () => {
    const values = [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      -0,
      0,
      Number.MIN_VALUE,
      Number.MAX_VALUE,
      0.1,
      -1e-300,
    ];
    const samples = values.map((value, i) => ({ name: 'edge', labels: {}, value, timestampMs: 1000 + i }));
    const { series } = toTimeSeries(samples);
    const decoded = decode(encodeWriteRequest(series))[0]?.samples.map((s) => s.value) ?? [];
    expect(decoded).toHaveLength(values.length);
    for (const [i, v] of decoded.entries()) expect(Object.is(v, values[i]), `value ${i}`).toBe(true);
  });

  it('writes the exact bits of the staleness marker even after V8 quiets the NaN', () => {
    // Storing a signalling NaN in a packed double array sets its quiet bit (0x7ff8...02).
    const quieted = [1.5, STALE_NAN][1] as number;
    expect(isStaleNaN(STALE_NAN)).toBe(true);
    expect(isStaleNaN(quieted)).toBe(true);
    expect(isStaleNaN(Number.NaN)).toBe(false);
    expect(isStaleNaN(2)).toBe(false);
    const { series } = toTimeSeries([{ name: 'gone', labels: {}, value: quieted, timestampMs: 5 }]);
    const raw = Buffer.from(encodeWriteRequest(series));
    // Sample value tag (field 1, fixed64) then 0x7ff0000000000002 little-endian.
    expect(raw.includes(Buffer.from([0x09, 0x02, 0, 0, 0, 0, 0, 0xf0, 0x7f]))).toBe(true);
    const plainNaN = Buffer.from(
      encodeWriteRequest(
        toTimeSeries([{ name: 'gone', labels: {}, value: Number.NaN, timestampMs: 5 }]).series,
      ),
    );
    expect(plainNaN.includes(Buffer.from([0x02, 0, 0, 0, 0, 0, 0xf0, 0x7f]))).toBe(false);
  });

  it('computes the exact encoded size of any request', () => {
    const random = rng(7);
    for (let round = 0; round < 50; round++) {
      const samples: Sample[] = [];
      const n = 1 + Math.floor(random() * 200);
      for (let i = 0; i < n; i++) {
        const labels: Record<string, string> = {};
        const nl = Math.floor(random() * 12);
        for (let l = 0; l < nl; l++)
          labels[`l${l}`] = 'v'.repeat(1 + Math.floor(random() * (random() < 0.1 ? 300 : 20)));
        const ts =
          random() < 0.05 ? -Math.floor(random() * 1e12) : Math.floor(random() * 2 ** (1 + random() * 52));
        samples.push({
          name: `m${Math.floor(random() * 5)}`,
          labels,
          value: random() * 1e6,
          timestampMs: ts,
        });
      }
      const { series } = toTimeSeries(samples, 'skip');
      expect(encodedSize(series)).toBe(encodeWriteRequest(series).length);
    }
  });
});

describe('toTimeSeries', () => {
  it('merges identical series from separate inputs and sorts their samples by timestamp', () => {
    const a = { name: 'm', labels: { x: '1', y: '2' } };
    const b = { name: 'm', labels: { x: '1', y: '3' } };
    const { series, samples } = toTimeSeries([
      { ...a, value: 3, timestampMs: 300 },
      { ...b, value: 10, timestampMs: 100 },
      { name: 'm', labels: { y: '2', x: '1' }, value: 1, timestampMs: 100 },
      { ...a, value: 2, timestampMs: 200 },
    ]);
    expect(samples).toBe(4);
    expect(series.map((s) => s.labels.map((l) => l.value).join(','))).toEqual(['m,1,2', 'm,1,3']);
    expect(series[0]?.samples).toEqual([
      { value: 1, timestampMs: 100 },
      { value: 2, timestampMs: 200 },
      { value: 3, timestampMs: 300 },
    ]);
  });

  it('collapses an exact duplicate and rejects two values at one timestamp of a series', () => {
    const s = { name: 'm', labels: { x: '1' }, timestampMs: 100 };
    expect(
      toTimeSeries([
        { ...s, value: Number.NaN },
        { ...s, value: Number.NaN },
      ]).samples,
    ).toBe(1);
    expect(() =>
      toTimeSeries([
        { ...s, value: 1 },
        { ...s, value: 2 },
      ]),
    ).toThrow('invalid sample for series m{x="1"}: timestamp 100 has two values, 1 and 2');
    const skipped = toTimeSeries(
      [
        { ...s, value: 1 },
        { ...s, value: 2 },
      ],
      'skip',
    );
    expect(skipped.series[0]?.samples).toEqual([{ value: 1, timestampMs: 100 }]);
    expect(skipped.rejected.map((r) => r.sample.value)).toEqual([2]);
  });

  const invalid: [string, Sample, string][] = [
    [
      'a metric name starting with a digit',
      { name: '9lives', labels: { a: 'b' }, value: 1, timestampMs: 1 },
      'invalid sample for series 9lives{a="b"}: metric name "9lives" does not match [a-zA-Z_:][a-zA-Z0-9_:]*',
    ],
    [
      'a metric name with a dash',
      { name: 'http-requests', labels: {}, value: 1, timestampMs: 1 },
      'metric name "http-requests" does not match',
    ],
    ['an empty metric name', { name: '', labels: {}, value: 1, timestampMs: 1 }, 'metric name is empty'],
    [
      'a label name with a dot',
      { name: 'm', labels: { 'aws.region': 'x' }, value: 1, timestampMs: 1 },
      'invalid sample for series m{aws.region="x"}: label name "aws.region" does not match [a-zA-Z_][a-zA-Z0-9_]*',
    ],
    [
      'a label name with a colon',
      { name: 'm', labels: { 'a:b': 'x' }, value: 1, timestampMs: 1 },
      'label name "a:b" does not match',
    ],
    [
      'a reserved label name',
      { name: 'm', labels: { __meta: 'x' }, value: 1, timestampMs: 1 },
      'label name "__meta" starts with "__", which is reserved',
    ],
    [
      'a __name__ label',
      { name: 'm', labels: { __name__: 'n' }, value: 1, timestampMs: 1 },
      'label "__name__" duplicates the metric name',
    ],
    [
      'an empty label name',
      { name: 'm', labels: { '': 'x' }, value: 1, timestampMs: 1 },
      'label name is empty',
    ],
    [
      'an empty label value',
      { name: 'm', labels: { target: 'a', az: '' }, value: 1, timestampMs: 1 },
      'invalid sample for series m{az="", target="a"}: label "az" has an empty value',
    ],
    [
      'a lone surrogate',
      { name: 'm', labels: { t: 'a\uD800' }, value: 1, timestampMs: 1 },
      'label "t" has a value that is not valid unicode',
    ],
    [
      'a fractional timestamp',
      { name: 'm', labels: {}, value: 1, timestampMs: 1.5 },
      'timestamp 1.5 is not an integer number of milliseconds',
    ],
    [
      'a NaN timestamp',
      { name: 'm', labels: {}, value: 1, timestampMs: Number.NaN },
      'timestamp NaN is not an integer',
    ],
    [
      'a string value',
      { name: 'm', labels: {}, value: '1' as unknown as number, timestampMs: 1 },
      'value "1" is not a number',
    ],
  ];
  it.each(invalid)('rejects %s naming the series and the label', (_, sample, message) => {
    let error: unknown;
    try {
      toTimeSeries([{ name: 'ok', labels: {}, value: 1, timestampMs: 1 }, sample]);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InvalidSampleError);
    expect((error as Error).message).toContain(message);
    expect((error as InvalidSampleError).sample).toBe(sample);
  });

  it('skips invalid samples and reports why when asked to', () => {
    const bad = { name: 'm', labels: { 'bad-label': 'x' }, value: 1, timestampMs: 1 };
    const { series, rejected } = toTimeSeries(
      [{ name: 'm', labels: {}, value: 1, timestampMs: 1 }, bad],
      'skip',
    );
    expect(series).toHaveLength(1);
    expect(rejected).toEqual([{ sample: bad, reason: expect.stringContaining('label name "bad-label"') }]);
  });

  it('turns series back into the samples they came from', () => {
    const input = probeSamples(3, 4);
    expect(toSamples(toTimeSeries(input).series)).toEqual(input);
  });
});

describe('snappyCompress', () => {
  it('uses the block format: a varint length preamble, no stream identifier, and round-trips', () => {
    const { series } = toTimeSeries(probeSamples(50, 20));
    const raw = encodeWriteRequest(series);
    const compressed = snappyCompress(raw);
    expect(compressed.length).toBeLessThan(raw.length);
    // Framed snappy starts with the stream identifier chunk 0xff 06 00 00 "sNaPpY".
    expect(compressed[0]).not.toBe(0xff);
    let len = 0;
    let shift = 0;
    for (let i = 0; ; i++) {
      const b = compressed[i] as number;
      len += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) break;
    }
    expect(len).toBe(raw.length);
    expect(Buffer.from(snappy.uncompress(compressed)).equals(Buffer.from(raw))).toBe(true);
  });
});

describe('buildRequests', () => {
  function allSamples(requests: ReturnType<typeof buildRequests>) {
    return requests.flatMap((r) =>
      toSamples(
        decode(snappy.uncompress(r.body)).map((d) => ({
          labels: d.labels,
          samples: d.samples.map((s) => ({ value: s.value, timestampMs: s.timestamp })),
        })),
      ),
    );
  }

  it('cuts requests at maxSamplesPerRequest and loses or reorders no sample', () => {
    const input = probeSamples(7, 333);
    const { series } = toTimeSeries(input);
    const requests = buildRequests(series, { maxSamplesPerRequest: 500 });
    expect(requests.map((r) => r.samples)).toEqual([500, 500, 500, 500, 331]);
    expect(allSamples(requests)).toEqual(input);
    for (const r of requests) {
      const raw = snappy.uncompress(r.body);
      expect(raw.length).toBe(r.rawBytes);
      expect(encodedSize(r.series)).toBe(r.rawBytes);
    }
  });

  it('splits one long series across requests in timestamp order', () => {
    const input = probeSamples(1, 4500);
    const requests = buildRequests(toTimeSeries(input).series, { maxSamplesPerRequest: 2000 });
    expect(requests.map((r) => r.samples)).toEqual([2000, 2000, 500]);
    const firstTs = requests.map((r) => r.series[0]?.samples[0]?.timestampMs);
    expect(firstTs).toEqual([input[0]?.timestampMs, input[2000]?.timestampMs, input[4000]?.timestampMs]);
    expect(allSamples(requests)).toEqual(input);
  });

  it('keeps every request within maxBytesPerRequest and fills it as far as the next sample allows', () => {
    const input = probeSamples(40, 25, 3);
    const maxBytes = 4096;
    const requests = buildRequests(toTimeSeries(input).series, {
      maxBytesPerRequest: maxBytes,
      maxSamplesPerRequest: 1e6,
    });
    expect(requests.length).toBeGreaterThan(5);
    requests.forEach((r, i) => {
      expect(r.rawBytes).toBeLessThanOrEqual(maxBytes);
      const next = requests[i + 1];
      if (!next) return;
      // Not cut early: the sample that opens the next request would not have fitted in this one.
      const moved = next.series[0] as TimeSeries;
      const last = r.series[r.series.length - 1] as TimeSeries;
      const sample = moved.samples[0] as TimeSeries['samples'][number];
      const grown =
        last.labels === moved.labels
          ? [...r.series.slice(0, -1), { labels: last.labels, samples: [...last.samples, sample] }]
          : [...r.series, { labels: moved.labels, samples: [sample] }];
      expect(encodedSize(grown)).toBeGreaterThan(maxBytes);
    });
    expect(allSamples(requests)).toEqual(input);
  });

  it('rejects a series whose single sample exceeds maxBytesPerRequest', () => {
    const { series } = toTimeSeries([
      { name: 'big', labels: { v: 'x'.repeat(2000) }, value: 1, timestampMs: 1 },
    ]);
    expect(() => buildRequests(series, { maxBytesPerRequest: 1024 })).toThrow(
      /^series big\{v="x+"\} needs 20\d\d bytes for one sample, more than maxBytesPerRequest 1024$/,
    );
    expect(() => buildRequests(series, { maxSamplesPerRequest: 0 })).toThrow(
      'maxSamplesPerRequest must be a positive integer, got 0',
    );
  });

  it('defaults to 2000 samples per request', () => {
    const requests = buildRequests(toTimeSeries(probeSamples(10, 450)).series);
    expect(requests.map((r) => r.samples)).toEqual([2000, 2000, 500]);
  });
});
