/**
 * Wire encoding of remote-write requests: protobuf `prometheus.WriteRequest`, compressed as one snappy
 * block, split into requests of bounded size.
 *
 * The schema (prometheus/prompb `types.proto` and `remote.proto`, remote-write 1.0) is declared here by
 * field number; only what remote-write 1.0 needs is written:
 * ```proto
 * message WriteRequest { repeated TimeSeries timeseries = 1; }
 * message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
 * message Label        { string name = 1; string value = 2; }
 * message Sample       { double value = 1; int64 timestamp = 2; }
 * ```
 * `encodedSize` computes a request's exact size without encoding it, so a batch is cut at an exact
 * byte budget without encoding twice. Fields holding proto3's default (a +0 value, a 0 timestamp) are
 * left out, as protobufjs and Prometheus write them, so the bytes equal protobufjs reflection's.
 * `buildRequests` and `encodeWriteRequest` take `TimeSeries` objects; the client's own path is
 * `packSamples` (pack.ts), which writes the same bytes through `encodeChunks`.
 */
import type { Chunk } from './pack.ts';
import { formatSeries, isStaleNaN, type TimeSeries } from './series.ts';
import { compress } from './snappy.ts';

// Tags: (field number << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited).
const TAG_TIMESERIES = (1 << 3) | 2;
const TAG_LABELS = (1 << 3) | 2;
const TAG_SAMPLES = (2 << 3) | 2;
const TAG_LABEL_NAME = (1 << 3) | 2;
const TAG_LABEL_VALUE = (2 << 3) | 2;
const TAG_SAMPLE_VALUE = (1 << 3) | 1;
const TAG_SAMPLE_TIMESTAMP = (2 << 3) | 0;

const utf8 = new TextEncoder();

/**
 * Bytes a non-negative integer takes as a varint; a negative int64 always takes 10.
 * @param n a safe integer
 */
export function varintSize(n: number): number {
  if (n < 0) return 10;
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  let size = 5;
  n = Math.floor(n / 0x800000000);
  while (n > 0) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/**
 * Bytes of a string's UTF-8 encoding; a lone surrogate counts as U+FFFD (3 bytes), as TextEncoder
 * writes it.
 */
export function utf8Length(value: string): number {
  const len = value.length;
  let bytes = len;
  for (let i = 0; i < len; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < len) {
      const d = value.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes += 2; // 4 bytes for 2 code units
        i++;
      } else bytes += 2;
    } else bytes += 2;
  }
  return bytes;
}

/**
 * Writes a string's UTF-8 bytes (`bytes` of them, from {@link utf8Length}) at `pos`.
 * @returns the position after them
 */
export function putUtf8(buf: Uint8Array, pos: number, value: string, bytes: number): number {
  if (bytes === value.length) {
    // ASCII: a loop beats TextEncoder's call overhead on strings this short.
    for (let i = 0; i < bytes; i++) buf[pos + i] = value.charCodeAt(i);
    return pos + bytes;
  }
  utf8.encodeInto(value, buf.subarray(pos, pos + bytes));
  return pos + bytes;
}

/**
 * Size of one `Label` entry of a `TimeSeries` (tag, length, name and value fields).
 * @param n UTF-8 bytes of the name
 * @param v UTF-8 bytes of the value
 */
export function labelEntrySize(n: number, v: number): number {
  const body = 1 + varintSize(n) + n + 1 + varintSize(v) + v;
  return 1 + varintSize(body) + body;
}

/**
 * Size of one `Sample` message body: the double (tag + 8 bytes) and the int64 timestamp (tag + varint),
 * each left out when it is proto3's default, +0 and 0, as protobufjs and Prometheus' own encoder do
 * (-0 is written: its sign is not the default).
 */
export function sampleSize(value: number, timestampMs: number): number {
  return (value === 0 && 1 / value > 0 ? 0 : 9) + (timestampMs === 0 ? 0 : 1 + varintSize(timestampMs));
}

/**
 * Size of one `Sample` entry of a `TimeSeries` (tag, one-byte length: a sample is at most 20 bytes).
 */
export function sampleEntrySize(value: number, timestampMs: number): number {
  return 2 + sampleSize(value, timestampMs);
}

// The label entries of a series, encoded once and reused for every request that carries the series
// (a split series, or the same labels array in several writes). Keyed by the labels array, which the
// `TimeSeries` type makes read-only.
const labelBlocks = new WeakMap<TimeSeries['labels'], Uint8Array>();

/** Writes a non-negative safe integer as a varint at `pos`; returns the position after it. */
function putVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n > 0x7f) {
    buf[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/**
 * The encoded label entries (`repeated Label labels = 1`) of a series, cached per labels array.
 * @param labels labels including `__name__`
 */
function labelBlock(labels: TimeSeries['labels']): Uint8Array {
  let block = labelBlocks.get(labels);
  if (block) return block;
  let size = 0;
  const lengths: number[] = [];
  for (const l of labels) {
    const n = utf8Length(l.name);
    const v = utf8Length(l.value);
    const body = 1 + varintSize(n) + n + 1 + varintSize(v) + v;
    lengths.push(n, v, body);
    size += 1 + varintSize(body) + body;
  }
  block = new Uint8Array(size);
  let pos = 0;
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i] as TimeSeries['labels'][number];
    const n = lengths[3 * i] as number;
    const v = lengths[3 * i + 1] as number;
    block[pos++] = TAG_LABELS;
    pos = putVarint(block, pos, lengths[3 * i + 2] as number);
    block[pos++] = TAG_LABEL_NAME;
    pos = putVarint(block, pos, n);
    pos = putUtf8(block, pos, l.name, n);
    block[pos++] = TAG_LABEL_VALUE;
    pos = putVarint(block, pos, v);
    pos = putUtf8(block, pos, l.value, v);
  }
  labelBlocks.set(labels, block);
  return block;
}

/**
 * Size of the label entries of a `TimeSeries` message.
 * @param labels labels including `__name__`
 */
export function labelsSize(labels: TimeSeries['labels']): number {
  return labelBlock(labels).length;
}

/**
 * Exact size in bytes of the protobuf `WriteRequest` that {@link encodeWriteRequest} produces.
 * @param series the request's series
 */
export function encodedSize(series: readonly TimeSeries[]): number {
  let size = 0;
  for (const ts of series) {
    let body = labelsSize(ts.labels);
    for (const s of ts.samples) body += sampleEntrySize(s.value, s.timestampMs);
    size += 1 + varintSize(body) + body;
  }
  return size;
}

// Little-endian doubles, as protobuf's fixed64 wire type wants them.
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Encodes series as a protobuf `prometheus.WriteRequest` (uncompressed). Labels and samples are
 * written in the order given: use series from `toTimeSeries`, whose labels and samples are sorted.
 *
 * Written straight into a buffer of the exact size ({@link encodedSize}): each series' label entries
 * are encoded once and copied, samples are a fixed shape (a double and a varint), so no intermediate
 * writer, fork or length shift is needed (3-4x protobufjs' Writer here, byte-identical; the tests
 * decode the bytes with protobufjs reflection over the prompb definitions).
 * @param series the series to write
 * @returns the protobuf bytes
 */
export function encodeWriteRequest(series: readonly TimeSeries[]): Uint8Array {
  const buf = new Uint8Array(encodedSize(series));
  let pos = 0;
  for (const ts of series) {
    const block = labelBlock(ts.labels);
    let body = block.length;
    for (const s of ts.samples) body += sampleEntrySize(s.value, s.timestampMs);
    buf[pos++] = TAG_TIMESERIES;
    pos = putVarint(buf, pos, body);
    buf.set(block, pos);
    pos += block.length;
    for (const s of ts.samples) pos = putSample(buf, pos, s.value, s.timestampMs);
  }
  return buf;
}

/** Writes a double's 8 bytes little-endian at `pos`. */
function putDouble(buf: Uint8Array, pos: number, value: number): void {
  // The staleness marker's exact bits matter to Prometheus (it compares all 64); write them
  // explicitly rather than trusting a NaN payload to survive every copy on the way.
  if (Number.isNaN(value) && isStaleNaN(value)) {
    buf.set(STALE_NAN_BYTES, pos);
    return;
  }
  f64[0] = value;
  if (LITTLE_ENDIAN) buf.set(f64Bytes, pos);
  else for (let i = 0; i < 8; i++) buf[pos + i] = f64Bytes[7 - i] as number;
}

/** Writes one `Sample` entry of a `TimeSeries` at `pos`; returns the position after it. */
function putSample(buf: Uint8Array, pos: number, value: number, t: number): number {
  buf[pos++] = TAG_SAMPLES;
  buf[pos++] = sampleSize(value, t);
  if (!(value === 0 && 1 / value > 0)) {
    buf[pos++] = TAG_SAMPLE_VALUE;
    putDouble(buf, pos, value);
    pos += 8;
  }
  if (t !== 0) {
    buf[pos++] = TAG_SAMPLE_TIMESTAMP;
    pos = t < 0 ? putNegativeInt64(buf, pos, t) : putVarint(buf, pos, t);
  }
  return pos;
}

/** Prometheus' staleness marker, 0x7ff0000000000002, little-endian. */
const STALE_NAN_BYTES = new Uint8Array([0x02, 0, 0, 0, 0, 0, 0xf0, 0x7f]);

/** A negative int64 as protobuf writes it: two's complement in a 10-byte varint. */
function putNegativeInt64(buf: Uint8Array, pos: number, n: number): number {
  let v = BigInt.asUintN(64, BigInt(n));
  for (let i = 0; i < 9; i++) {
    buf[pos++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  buf[pos++] = Number(v);
  return pos;
}

// Where encodeChunks writes: a request's protobuf bytes are only needed until they are compressed.
let scratch = new Uint8Array(1 << 16);
let scratchView = new DataView(scratch.buffer);

/**
 * Encodes one request of `packSamples`' chunks into a buffer of its exact size, reused by the next
 * call: compress the bytes before encoding another request.
 * @param chunks the request's chunks of series, in order
 * @param size the request's exact size, summed while cutting
 * @param arena where the chunks' label entries were encoded
 * @param values sample values, indexed as the chunks say
 * @param times sample timestamps, likewise
 */
export function encodeChunks(
  chunks: readonly Chunk[],
  size: number,
  arena: Uint8Array,
  arenaView: DataView,
  values: Float64Array,
  times: Float64Array,
): Uint8Array {
  if (scratch.length < size) {
    scratch = new Uint8Array(Math.max(size, scratch.length * 2));
    scratchView = new DataView(scratch.buffer);
  }
  const buf = scratch;
  const view = scratchView;
  let pos = 0;
  for (const chunk of chunks) {
    const s = chunk.series;
    const set = s.set;
    buf[pos++] = TAG_TIMESERIES;
    pos = putVarint(buf, pos, chunk.body);
    // Labels sorted by name: the set's entries before __name__, __name__, the rest.
    pos = copy(arena, arenaView, set.start, set.split, buf, view, pos);
    pos = copy(arena, arenaView, s.nameStart, s.nameEnd, buf, view, pos);
    pos = copy(arena, arenaView, set.split, set.end, buf, view, pos);
    for (let k = chunk.from; k < chunk.to; k++) {
      const t = times[k] as number;
      const value = values[k] as number;
      buf[pos++] = TAG_SAMPLES;
      if (value === 0 || t <= 0) {
        pos = putSample(buf, pos - 1, value, t);
        continue;
      }
      // The common shape: both fields present, a positive timestamp.
      buf[pos++] = 10 + varintSize(t);
      buf[pos++] = TAG_SAMPLE_VALUE;
      if (!Number.isNaN(value)) view.setFloat64(pos, value, true);
      else putDouble(buf, pos, value);
      pos += 8;
      buf[pos++] = TAG_SAMPLE_TIMESTAMP;
      let n = t;
      while (n > 0x7f) {
        buf[pos++] = (n & 0x7f) | 0x80;
        n = Math.floor(n / 128);
      }
      buf[pos++] = n;
    }
  }
  if (pos !== size) throw new Error(`remote-write encoder wrote ${pos} bytes of ${size}`);
  return buf.subarray(0, size);
}

/** Copies bytes [from, to) of `src` to `dst` at `pos`, four at a time; returns the position after them. */
function copy(
  src: Uint8Array,
  srcView: DataView,
  from: number,
  to: number,
  dst: Uint8Array,
  dstView: DataView,
  pos: number,
): number {
  let i = from;
  for (; i + 4 <= to; i += 4, pos += 4) dstView.setInt32(pos, srcView.getInt32(i, true), true);
  for (; i < to; i++) dst[pos++] = src[i] as number;
  return pos;
}

/**
 * Compresses with the snappy block format (not the framed/stream format), as remote-write requires.
 * @param raw uncompressed bytes
 */
export function snappyCompress(raw: Uint8Array): Uint8Array {
  return compress(raw);
}

/** Bounds on one remote-write request. */
export interface BatchLimits {
  /**
   * Most samples in one request.
   * @default 2000 (Prometheus' `queue_config.max_samples_per_send`)
   */
  readonly maxSamplesPerRequest: number;
  /**
   * Most bytes of one request's protobuf before compression.
   * @default 1 MiB
   */
  readonly maxBytesPerRequest: number;
}

/** Default request bounds. */
export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxSamplesPerRequest: 2000, maxBytesPerRequest: 1 << 20 };

/** One request ready to send. */
export interface EncodedRequest {
  /** Snappy-compressed protobuf `WriteRequest`: the HTTP body. */
  readonly body: Uint8Array;
  /** Protobuf bytes before compression. */
  readonly rawBytes: number;
  /** Number of samples in the request. */
  readonly samples: number;
  /** The series (or chunks of series) the request carries, in order. */
  readonly series: readonly TimeSeries[];
}

function checkLimit(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
}

/**
 * Request bounds with defaults applied.
 * @throws RangeError when a bound is not a positive integer
 */
export function resolveLimits(limits: Partial<BatchLimits> = {}): BatchLimits {
  const maxSamplesPerRequest = limits.maxSamplesPerRequest ?? DEFAULT_BATCH_LIMITS.maxSamplesPerRequest;
  const maxBytesPerRequest = limits.maxBytesPerRequest ?? DEFAULT_BATCH_LIMITS.maxBytesPerRequest;
  checkLimit('maxSamplesPerRequest', maxSamplesPerRequest);
  checkLimit('maxBytesPerRequest', maxBytesPerRequest);
  return { maxSamplesPerRequest, maxBytesPerRequest };
}

/**
 * Packs series into requests that respect both limits. Series keep their order; a series that does not
 * fit is split across consecutive requests, earlier samples first, so a receiver that needs in-order
 * samples gets them when requests are sent in order. Series without samples are left out.
 * @param series normalized series (see `toTimeSeries`)
 * @param limits request bounds
 * @default limits {@link DEFAULT_BATCH_LIMITS}
 * @throws RangeError when one sample of a series does not fit in `maxBytesPerRequest`
 */
export function buildRequests(
  series: readonly TimeSeries[],
  limits: Partial<BatchLimits> = {},
): EncodedRequest[] {
  const { maxSamplesPerRequest: maxSamples, maxBytesPerRequest: maxBytes } = resolveLimits(limits);

  const requests: EncodedRequest[] = [];
  let current: TimeSeries[] = [];
  let currentSamples = 0;
  let currentBytes = 0;
  const flush = () => {
    if (currentSamples === 0) return;
    const raw = encodeWriteRequest(current);
    requests.push({
      body: snappyCompress(raw),
      rawBytes: raw.length,
      samples: currentSamples,
      series: current,
    });
    current = [];
    currentSamples = 0;
    currentBytes = 0;
  };

  for (const ts of series) {
    const total = ts.samples.length;
    if (total === 0) continue;
    const labelBytes = labelsSize(ts.labels);
    let start = 0;
    while (start < total) {
      // Grow a chunk of this series inside the current request one sample at a time; `entry` is the
      // chunk's exact size as a WriteRequest field (tag + length varint + body).
      let body = labelBytes;
      let entry = 0;
      let end = start;
      while (end < total) {
        const nextBody =
          body + sampleEntrySize(ts.samples[end]?.value as number, ts.samples[end]?.timestampMs as number);
        const nextEntry = 1 + varintSize(nextBody) + nextBody;
        if (currentSamples + 1 > maxSamples || currentBytes - entry + nextEntry > maxBytes) break;
        body = nextBody;
        currentBytes += nextEntry - entry;
        entry = nextEntry;
        currentSamples++;
        end++;
      }
      if (end > start) {
        current.push({
          labels: ts.labels,
          samples: start === 0 && end === total ? ts.samples : ts.samples.slice(start, end),
        });
        start = end;
      }
      if (start < total) {
        if (currentSamples === 0) {
          const one =
            labelBytes +
            sampleEntrySize(ts.samples[start]?.value as number, ts.samples[start]?.timestampMs as number);
          throw new RangeError(
            `series ${formatSeries(ts.labels)} needs ${1 + varintSize(one) + one} bytes for one sample, ` +
              `more than maxBytesPerRequest ${maxBytes}`,
          );
        }
        flush();
      }
    }
  }
  flush();
  return requests;
}
