/**
 * Remote-write throughput: the whole path against the npm peer, then each stage.
 *
 * Run: `npx tsx bench/remote-write.ts`. Prints, first, the full path from loose samples (what every
 * capability produces) to compressed request bodies (`packSamples`, what `RemoteWriteClient.write`
 * runs before its first request: validate, sort labels, merge series, encode, snappy) against the npm
 * peer `prometheus-remote-write` on the same workload (10,000 series x 10 samples, 8 labels, 2,000
 * samples a request), in one process, alternating, medians of PEER_RUNS rounds; each sample either
 * shares its series' labels object or has its own copy. Then, per workload and batch size, the
 * samples/second of the `TimeSeries` path's stages alone (`toTimeSeries`, `encodeWriteRequest`,
 * `snappyCompress`), and protobufjs reflection vs the direct encoder. Figures only: nothing passes or
 * fails.
 */
import { pushTimeseries } from 'prometheus-remote-write';
import {
  buildRequests,
  encodeWriteRequest,
  packSamples,
  type Sample,
  snappyCompress,
  type TimeSeries,
  toTimeSeries,
} from '#shared/remote-write';
import { WriteRequest } from '../test/support/prompb.ts';

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

const RUNS = 7;
/** Rounds of the whole-path comparison: more than RUNS, as it is the figure that matters. */
const PEER_RUNS = 15;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Median wall time in ms of `fn` over `runs` runs after one warm-up. */
function time(fn: () => void, runs = RUNS): number {
  fn();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return median(t);
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function printTable(head: string[], body: string[][]) {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] as string).length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i < 1 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of body) console.log(line(r));
}

// --- The whole path against the peer -------------------------------------------------------------

const PEER_SERIES = 10_000;
const PEER_POINTS = 10;
const PER_REQUEST = 2_000;

/** 8 labels, as the probes' outcome labels. */
function eightLabels(i: number): Record<string, string> {
  const { phase: _, family: __, ...rest } = probeLabels(i);
  return rest;
}

/**
 * The workload as loose samples, the input of every capability. `shared`: the points of one series
 * share one labels object (as the probes' samples of one outcome do); otherwise every sample has its
 * own copy (the worst case for the client: nothing can be reused between samples).
 */
function looseSamples(shared: boolean): Sample[] {
  const out: Sample[] = [];
  const t0 = 1_700_000_000_000;
  for (let s = 0; s < PEER_SERIES; s++) {
    const labels = eightLabels(s);
    for (let p = 0; p < PEER_POINTS; p++) {
      out.push({
        name: 'probe_tcp_connect_seconds',
        labels: shared ? labels : { ...labels },
        value: 0.001 + ((s * 31 + p * 17) % 1000) / 7919,
        timestampMs: t0 + p * 60_000,
      });
    }
  }
  return out;
}

/**
 * The same workload in the peer's input shape, already grouped into series, which the peer needs and
 * does not build itself (its cost is not counted for the peer), cut into requests of 2,000 samples.
 */
function peerRequests() {
  const t0 = 1_700_000_000_000;
  const requests: {
    labels: { __name__: string; [k: string]: string };
    samples: { value: number; timestamp: number }[];
  }[][] = [];
  const perRequest = PER_REQUEST / PEER_POINTS;
  for (let s = 0; s < PEER_SERIES; s++) {
    if (s % perRequest === 0) requests.push([]);
    requests[requests.length - 1]?.push({
      labels: { __name__: 'probe_tcp_connect_seconds', ...eightLabels(s) },
      samples: Array.from({ length: PEER_POINTS }, (_, p) => ({
        value: 0.001 + ((s * 31 + p * 17) % 1000) / 7919,
        timestamp: t0 + p * 60_000,
      })),
    });
  }
  return requests;
}

let peerBytes = 0;
// The peer's own path up to the body it hands to fetch (serialize, verify, encode, snappy); the fetch
// is a stub that keeps the body size, so no network time is counted.
const stubFetch = async (_url: string, init?: { body: ArrayBufferLike }) => {
  peerBytes += (init?.body as unknown as Uint8Array | undefined)?.length ?? 0;
  return { status: 200, statusText: 'OK', text: async () => '' };
};

async function fullPathComparison() {
  const shared = looseSamples(true);
  const own = looseSamples(false);
  const peerInput = peerRequests();
  let ourBytes = 0;
  // What RemoteWriteClient.write does before its first request: validate, group, encode, compress.
  const ours = (samples: Sample[]) => {
    const { requests } = packSamples(samples, 'throw', { maxSamplesPerRequest: PER_REQUEST });
    ourBytes = requests.reduce((n, r) => n + r.body.length, 0);
  };
  const peer = async () => {
    peerBytes = 0;
    for (const request of peerInput) await pushTimeseries(request, { url: 'http://stub', fetch: stubFetch });
  };
  const clock = () => Number(process.hrtime.bigint()) / 1e6;
  const t = { shared: [] as number[], own: [] as number[], peer: [] as number[] };
  // One warm-up of each, then RUNS rounds, alternating, so both see the same machine.
  ours(shared);
  ours(own);
  await peer();
  for (let i = 0; i < PEER_RUNS; i++) {
    let start = clock();
    ours(shared);
    t.shared.push(clock() - start);
    start = clock();
    ours(own);
    t.own.push(clock() - start);
    start = clock();
    await peer();
    t.peer.push(clock() - start);
  }
  const n = PEER_SERIES * PEER_POINTS;
  const peerMs = median(t.peer);
  const row = (name: string, ms: number, bytes: number) => [
    name,
    fmt(ms, 1),
    fmt(n / (ms / 1000)),
    fmt(peerMs / ms, 2),
    fmt(bytes),
  ];
  console.log(
    `whole path, ${fmt(PEER_SERIES)} series x ${PEER_POINTS} samples, 8 labels, ${fmt(PER_REQUEST)} samples a request (median of ${PEER_RUNS}, alternating):`,
  );
  printTable(
    ['path', 'ms', 'samples/s', 'x peer', 'body bytes'],
    [
      row('observatory: loose samples, labels shared per series', median(t.shared), ourBytes),
      row('observatory: loose samples, labels copied per sample', median(t.own), ourBytes),
      row('prometheus-remote-write 0.5.1: grouped series', peerMs, peerBytes),
    ],
  );
  console.log('');
}

await fullPathComparison();

function chunk(series: readonly TimeSeries[], batch: number): TimeSeries[][] {
  // The same cut as buildRequests by sample count, kept apart so encode and compress time separately.
  return buildRequests(series, { maxSamplesPerRequest: batch, maxBytesPerRequest: 64 << 20 }).map((r) => [
    ...r.series,
  ]);
}

const rows: string[][] = [];
const header = [
  'workload',
  'batch',
  'reqs',
  'pack/s',
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
    const packMs = time(() =>
      packSamples(samples, 'throw', { maxSamplesPerRequest: batch, maxBytesPerRequest: 64 << 20 }),
    );
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
      fmt(n / (packMs / 1000)),
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

console.log(
  `node ${process.version} ${process.arch}; median of ${RUNS} runs; rates are samples/second; pack: the ` +
    'whole client path (packSamples); normalize, encode, snappy: the TimeSeries path stage by stage\n',
);
printTable(header, rows);

// Why a hand-written encoder rather than protobufjs reflection: same bytes, less time.
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
      'direct encoder (encodeWriteRequest)',
      fmt(writerMs, 2),
      fmt(2000 / (writerMs / 1000)),
      String(writerBytes.length),
      'true',
    ],
  ],
);
