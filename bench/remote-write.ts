/**
 * Remote-write encoding throughput and request sizes for probe-like series (10 labels each).
 *
 * Run: `npx tsx bench/remote-write.ts`. Prints, per workload and batch size, the samples/second of
 * normalize (validate, sort, merge), encode (protobuf) and compress (snappy), and the mean raw and
 * compressed size of one request; then protobufjs reflection vs the hand-declared Writer encoder.
 * Figures only: nothing here passes or fails on time.
 */
import protobuf from 'protobufjs';
import {
  buildRequests,
  encodeWriteRequest,
  type Sample,
  snappyCompress,
  type TimeSeries,
  toTimeSeries,
} from '#shared/remote-write';

function probeLabels(i: number): Record<string, string> {
  return {
    source_region: 'eu-west-1',
    source_az: `eu-west-1${'abc'[i % 3]}`,
    source_az_id: `euw1-az${(i % 3) + 1}`,
    target: `orders-${i % 250}.internal.example.com`,
    target_region: 'eu-central-1',
    target_az: `eu-central-1${'abc'[(i >> 2) % 3]}`,
    address: `10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`,
    family: 'ipv4',
    port: '443',
    phase: ['dns', 'connect', 'tls', 'ttfb', 'transfer'][i % 5] as string,
  };
}

/** `series` series with `points` points each, values like latencies in seconds. */
function workload(series: number, points: number): Sample[] {
  const out: Sample[] = [];
  const t0 = 1_700_000_000_000;
  for (let s = 0; s < series; s++) {
    const labels = probeLabels(s);
    for (let p = 0; p < points; p++) {
      out.push({
        name: 'probe_http_phase_seconds',
        labels,
        value: 0.001 + ((s * 31 + p * 17) % 1000) / 7919,
        timestampMs: t0 + p * 60_000,
      });
    }
  }
  return out;
}

const RUNS = 9;

/**
 * Best wall time in ms of `fn` over `runs` runs after one warm-up. The best, not the median: on a
 * shared machine the other runs measure the neighbours; the best is the closest to the code's own cost.
 */
function time(fn: () => void, runs = RUNS): number {
  fn();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return Math.min(...t);
}

function chunk(series: readonly TimeSeries[], batch: number): TimeSeries[][] {
  // The same cut as buildRequests by sample count, kept apart so encode and compress time separately.
  return buildRequests(series, { maxSamplesPerRequest: batch, maxBytesPerRequest: 64 << 20 }).map((r) => [
    ...r.series,
  ]);
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const rows: string[][] = [];
const header = [
  'workload',
  'batch',
  'reqs',
  'normalize/s',
  'encode/s',
  'snappy/s',
  'enc+snappy/s',
  'ms/req',
  'raw B/req',
  'snappy B/req',
  'ratio',
  'B/sample',
];

const workloads: [string, Sample[]][] = [
  ['20000 series x 1 pt', workload(20_000, 1)],
  ['200 series x 100 pts', workload(200, 100)],
];
for (const [name, samples] of workloads) {
  const n = samples.length;
  let normalized = toTimeSeries(samples).series;
  const normalizeMs = time(() => {
    normalized = toTimeSeries(samples).series;
  });
  for (const batch of [500, 1000, 2000, 5000]) {
    const batches = chunk(normalized, batch);
    let raws: Uint8Array[] = [];
    const encodeMs = time(() => {
      raws = batches.map((b) => encodeWriteRequest(b));
    });
    let compressed: Uint8Array[] = [];
    const snappyMs = time(() => {
      compressed = raws.map((r) => snappyCompress(r));
    });
    const raw = raws.reduce((a, r) => a + r.length, 0);
    const comp = compressed.reduce((a, r) => a + r.length, 0);
    rows.push([
      name,
      String(batch),
      String(batches.length),
      fmt(n / (normalizeMs / 1000)),
      fmt(n / (encodeMs / 1000)),
      fmt(n / (snappyMs / 1000)),
      fmt(n / ((encodeMs + snappyMs) / 1000)),
      fmt((encodeMs + snappyMs) / batches.length, 2),
      fmt(raw / batches.length),
      fmt(comp / batches.length),
      fmt(raw / comp, 2),
      fmt(comp / n, 1),
    ]);
  }
}

function printTable(head: string[], body: string[][]) {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] as string).length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i < 1 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of body) console.log(line(r));
}

console.log(`node ${process.version} ${process.arch}; best of ${RUNS} runs; rates are samples/second\n`);
printTable(header, rows);

// Why a hand-declared schema over protobufjs' Writer rather than reflection: same bytes, less time.
const root = protobuf.parse(`
syntax = "proto3"; package prometheus;
message WriteRequest { repeated TimeSeries timeseries = 1; }
message TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; }
message Label { string name = 1; string value = 2; }
message Sample { double value = 1; int64 timestamp = 2; }`).root;
const WriteRequest = root.lookupType('prometheus.WriteRequest');
const batch = chunk(toTimeSeries(workload(2000, 1)).series, 2000)[0] as TimeSeries[];
const asObject = () => ({
  timeseries: batch.map((ts) => ({
    labels: ts.labels,
    samples: ts.samples.map((s) => ({ value: s.value, timestamp: s.timestampMs })),
  })),
});
const reflectionBytes = WriteRequest.encode(WriteRequest.fromObject(asObject())).finish();
const writerBytes = encodeWriteRequest(batch);
const reflectionMs = time(() => WriteRequest.encode(WriteRequest.fromObject(asObject())).finish());
const writerMs = time(() => encodeWriteRequest(batch));
console.log('\none 2000-sample request (2000 series x 1 pt):');
printTable(
  ['encoder', 'ms', 'samples/s', 'bytes', 'identical'],
  [
    [
      'protobufjs reflection (fromObject+encode)',
      fmt(reflectionMs, 2),
      fmt(2000 / (reflectionMs / 1000)),
      String(reflectionBytes.length),
      String(Buffer.from(reflectionBytes).equals(Buffer.from(writerBytes))),
    ],
    [
      'protobufjs Writer, hand-declared schema',
      fmt(writerMs, 2),
      fmt(2000 / (writerMs / 1000)),
      String(writerBytes.length),
      'true',
    ],
  ],
);
