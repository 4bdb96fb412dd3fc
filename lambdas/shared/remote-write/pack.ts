/**
 * The write path in one pass: loose samples in, compressed request bodies out, with no object per
 * sample in between. It does what `toTimeSeries` followed by `buildRequests` does, with the same
 * validation, messages and bytes (the tests compare the two byte for byte), in a fraction of the time
 * (bench/remote-write.ts):
 *
 * 1. one pass over the samples: each label set is validated, sorted and encoded once. A labels object
 *    is looked up by identity, then compared key by key with the previous sample's (a copy per sample),
 *    and only then sorted, checked and encoded, its bytes hashed and compared with the sets seen before
 *    (equal content in another object or key order is one set). The metric name is checked once per
 *    series; value and timestamp are copied into typed arrays beside the series index;
 * 2. samples grouped by series (nothing to do when the input is already grouped, as the probes' is),
 *    sorted by time and exact duplicates collapsed only in series that need it;
 * 3. requests cut by sample count and exact protobuf size, each written straight into one buffer of
 *    its exact size (label entries copied from where they were encoded, doubles through a DataView),
 *    then compressed.
 */
import {
  type BatchLimits,
  encodeChunks,
  labelEntrySize,
  putUtf8,
  resolveLimits,
  sampleEntrySize,
  snappyCompress,
  utf8Length,
  varintSize,
} from './encode.ts';
import {
  type InvalidInputPolicy,
  InvalidSampleError,
  isStaleNaN,
  type Label,
  labelsProblem,
  type RejectedSample,
  type Sample,
  sampleProblem,
  seriesString,
  type TimeSeries,
} from './series.ts';

/** A label set after validation: encoded once into the arena. */
export interface LabelSetEntry {
  /** A plain labels object with this content: what samples reported back carry. */
  readonly labels: Readonly<Record<string, string>>;
  /** Number of labels. */
  readonly size: number;
  /** Hash of the content, whatever the key order; `next` chains sets with the same hash. */
  readonly hash: number;
  next: LabelSetEntry | undefined;
  /** The encoded label entries (without `__name__`) in the arena: [start, split) sort before it, [split, end) after. */
  readonly start: number;
  readonly split: number;
  readonly end: number;
  /** Series of this label set by metric name: the last one looked up, and a map once there are two. */
  lastName: string | undefined;
  lastSeries: number;
  byName: Map<string, number> | undefined;
}

/** One series: a label set and a metric name. */
export interface SeriesEntry {
  readonly set: LabelSetEntry;
  readonly name: string;
  /** The `__name__` label entry in the arena. */
  readonly nameStart: number;
  readonly nameEnd: number;
  /** Size of the label entries, `__name__` included. */
  readonly labelBytes: number;
  /** The series' samples in the sample arrays: [first, first + count). */
  first: number;
  count: number;
  lastTs: number;
  /** Samples arrived out of time order or with a repeated timestamp. */
  unordered: boolean;
}

/** One request's share of a series: samples [from, to) of the sample arrays. */
export interface Chunk {
  readonly series: SeriesEntry;
  readonly from: number;
  readonly to: number;
  /** Size of the chunk's `TimeSeries` message. */
  readonly body: number;
}

/** Growable byte arena holding every encoded label entry of one pack. */
class Arena {
  bytes = new Uint8Array(1 << 16);
  view = new DataView(this.bytes.buffer);
  length = 0;
  reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.length + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }
  /** FNV-style hash of the bytes [start, end), four at a time. */
  hash(start: number, end: number): number {
    const view = this.view;
    let h = Math.imul(0x811c9dc5 ^ (end - start), 0x01000193);
    let i = start;
    for (; i + 4 <= end; i += 4) h = Math.imul(h ^ view.getInt32(i, true), 0x01000193);
    for (; i < end; i++) h = Math.imul(h ^ (this.bytes[i] as number), 0x01000193);
    return h ^ (h >>> 15);
  }
  /** Whether the bytes [a, a + n) equal the bytes [b, b + n). */
  same(a: number, b: number, n: number): boolean {
    const view = this.view;
    let i = 0;
    for (; i + 4 <= n; i += 4) if (view.getInt32(a + i, true) !== view.getInt32(b + i, true)) return false;
    for (; i < n; i++) if (this.bytes[a + i] !== this.bytes[b + i]) return false;
    return true;
  }
  /**
   * Appends one `Label` entry if the name is a valid label name and the value a non-empty valid
   * unicode string, checking each character as it is written.
   * @returns where the entry ends, or -1 (nothing appended) when the label is invalid
   */
  checkedLabel(name: string, value: string): number {
    const n = name.length;
    const v = value.length;
    if (n === 0 || v === 0) return -1;
    if (name.charCodeAt(0) === 95 && name.charCodeAt(1) === 95) return -1;
    // Assume an ASCII value (its byte length is then its length); start over if it is not.
    const body = 1 + varintSize(n) + n + 1 + varintSize(v) + v;
    this.reserve(1 + varintSize(body) + body);
    const buf = this.bytes;
    let pos = this.length;
    buf[pos++] = 0x0a;
    pos = putSmallVarint(buf, pos, body);
    buf[pos++] = 0x0a;
    pos = putSmallVarint(buf, pos, n);
    for (let i = 0; i < n; i++) {
      const c = name.charCodeAt(i);
      // [a-zA-Z_][a-zA-Z0-9_]*
      if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || (i > 0 && c >= 48 && c <= 57)))
        return -1;
      buf[pos++] = c;
    }
    buf[pos++] = 0x12;
    pos = putSmallVarint(buf, pos, v);
    for (let i = 0; i < v; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) {
        const bytes = labelValueBytes(value);
        return bytes < 0 ? -1 : this.label(name, value, bytes);
      }
      buf[pos++] = c;
    }
    this.length = pos;
    return pos;
  }

  /** Appends one `Label` entry (tag, length, name, value) and returns where it ends. */
  label(name: string, value: string, v = utf8Length(value)): number {
    // A valid label name is ASCII.
    const n = name.length;
    const size = labelEntrySize(n, v);
    this.reserve(size);
    this.length = putLabel(this.bytes, this.length, name, n, value, v);
    return this.length;
  }
}

function putLabel(buf: Uint8Array, pos: number, name: string, n: number, value: string, v: number): number {
  const body = 1 + varintSize(n) + n + 1 + varintSize(v) + v;
  buf[pos++] = 0x0a; // TimeSeries.labels, length-delimited
  pos = putSmallVarint(buf, pos, body);
  buf[pos++] = 0x0a; // Label.name
  pos = putSmallVarint(buf, pos, n);
  pos = putUtf8(buf, pos, name, n);
  buf[pos++] = 0x12; // Label.value
  pos = putSmallVarint(buf, pos, v);
  return putUtf8(buf, pos, value, v);
}

function putSmallVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n > 0x7f) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[pos++] = n;
  return pos;
}

/** Whether `name` matches `[a-zA-Z_:][a-zA-Z0-9_:]*`. */
function validMetricName(name: unknown): name is string {
  if (typeof name !== 'string' || name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58) continue;
    if (i > 0 && c >= 48 && c <= 57) continue;
    return false;
  }
  return true;
}

/**
 * UTF-8 bytes of a label value; -1 when it is empty, not a string or not valid unicode (a lone surrogate).
 */
function labelValueBytes(value: unknown): number {
  if (typeof value !== 'string' || value.length === 0) return -1;
  const len = value.length;
  let bytes = len;
  for (let i = 0; i < len; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c < 0xd800 || c > 0xdfff) bytes += 2;
    else {
      if (c > 0xdbff) return -1;
      const d = value.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return -1;
      bytes += 2; // four bytes for two code units
      i++;
    }
  }
  return bytes;
}

const PLAIN = Object.prototype;
const NONE = {};
// Reused by every call to sort a label set.
const scratchNames: string[] = [];
const scratchValues: string[] = [];
const scratchPrevKeys: string[] = [];
const scratchPrevValues: unknown[] = [];
// Reused by every call (a call is synchronous and keeps nothing of them): the encoded label entries,
// and per valid sample its series and its index in the input.
const sharedArena = new Arena();
let scratchIndex = new Int32Array(1 << 12);
let scratchSource = new Int32Array(1 << 12);

/** The outcome of {@link packSamples}. */
export interface PackedSamples {
  /** Requests in the order to send them. */
  readonly requests: PackedRequest[];
  /** Series after merging. */
  readonly series: number;
  /** Valid samples after collapsing exact duplicates. */
  readonly samples: number;
  /** Samples dropped as invalid (only with the `skip` policy). */
  readonly rejected: RejectedSample[];
}

/** One request ready to send; its series are only built as objects when asked for. */
export class PackedRequest {
  private built: TimeSeries[] | undefined;
  constructor(
    /** Snappy-compressed protobuf `WriteRequest`: the HTTP body. */
    readonly body: Uint8Array,
    /** Protobuf bytes before compression. */
    readonly rawBytes: number,
    /** Number of samples in the request. */
    readonly samples: number,
    private readonly chunks: readonly Chunk[],
    private readonly values: Float64Array,
    private readonly times: Float64Array,
  ) {}

  /** The series (or chunks of series) the request carries, in order. */
  get series(): readonly TimeSeries[] {
    this.built ??= this.chunks.map((c) => {
      const samples = [];
      for (let i = c.from; i < c.to; i++)
        samples.push({ value: this.values[i] as number, timestampMs: this.times[i] as number });
      return { labels: seriesLabels(c.series), samples };
    });
    return this.built;
  }

  /** The request's samples as the caller gave them (labels without the metric name). */
  toSamples(): Sample[] {
    const out: Sample[] = [];
    for (const c of this.chunks) {
      const { name, set } = c.series;
      for (let i = c.from; i < c.to; i++)
        out.push({
          name,
          labels: set.labels,
          value: this.values[i] as number,
          timestampMs: this.times[i] as number,
        });
    }
    return out;
  }
}

function seriesLabels(s: SeriesEntry): Label[] {
  const labels = s.set.labels;
  const out: Label[] = Object.keys(labels)
    .sort()
    .map((name) => ({ name, value: labels[name] as string }));
  let at = 0;
  while (at < out.length && (out[at] as Label).name < '__name__') at++;
  out.splice(at, 0, { name: '__name__', value: s.name });
  return out;
}

/**
 * Validates, groups, encodes and compresses samples into requests: the bytes of
 * `buildRequests(toTimeSeries(samples, policy).series, limits)`, without building a `TimeSeries`.
 * @param samples samples in any order; a labels object must not change during the call
 * @param policy what to do with an invalid sample
 * @param limits request bounds
 * @default policy `throw`
 * @default limits `DEFAULT_BATCH_LIMITS`
 * @throws InvalidSampleError for an invalid sample when `policy` is `throw`
 * @throws RangeError when a bound is not a positive integer, or one sample's series exceeds `maxBytesPerRequest`
 */
export function packSamples(
  samples: Iterable<Sample>,
  policy: InvalidInputPolicy = 'throw',
  limits: Partial<BatchLimits> = {},
): PackedSamples {
  const bounds = resolveLimits(limits);
  const input: readonly Sample[] = Array.isArray(samples) ? samples : Array.from(samples);
  const n = input.length;
  const arena = sharedArena;
  arena.length = 0;
  const rejected: RejectedSample[] = [];

  // Label sets by labels object, by content in the object's own key order, by content sorted.
  const byObject = new Map<object, LabelSetEntry | string>();
  const byHash = new Map<number, LabelSetEntry>();
  const nameEntries = new Map<string, { start: number; end: number }>();
  const series: SeriesEntry[] = [];

  // Valid samples, compacted, in input order: value, timestamp, series, input index.
  let values = new Float64Array(n);
  let times = new Float64Array(n);
  if (scratchIndex.length < n) {
    scratchIndex = new Int32Array(Math.max(n, scratchIndex.length * 2));
    scratchSource = new Int32Array(scratchIndex.length);
  }
  const seriesOf = scratchIndex;
  let source = scratchSource;
  let count = 0;
  let grouped = true;
  let anyUnordered = false;

  // The last valid plain labels object and its set: the next sample's labels are most often the same
  // object, or a copy of it.
  let prevObject: unknown = NONE;
  let prevSet: LabelSetEntry | undefined;
  // Its keys and values in key order (-1: not remembered).
  let prevCount = -1;
  const prevKeys = scratchPrevKeys;
  const prevValues = scratchPrevValues;
  let prevSeries = -1;

  const reject = (sample: Sample, problem: string) => {
    const labels = sample.labels !== null && typeof sample.labels === 'object' ? sample.labels : {};
    const err = new InvalidSampleError(seriesString(String(sample.name), labels), problem, sample);
    if (policy === 'throw') throw err;
    rejected.push({ sample, reason: err.message });
  };

  /** Validates, sorts and encodes a label set seen for the first time; undefined when it is invalid. */
  const setOf = (labels: Record<string, unknown>): LabelSetEntry | undefined => {
    const names = scratchNames;
    const vals = scratchValues;
    names.length = 0;
    vals.length = 0;
    for (const name in labels) {
      const value = labels[name];
      if (typeof value !== 'string') return undefined;
      // Insertion sort: a handful of labels, often nearly in order. Valid names are ASCII, so UTF-16
      // order is the byte order Prometheus sorts by (an invalid one fails below).
      let i = names.length;
      names.push(name);
      vals.push(value);
      while (i > 0 && (names[i - 1] as string) > name) {
        names[i] = names[i - 1] as string;
        vals[i] = vals[i - 1] as string;
        i--;
      }
      names[i] = name;
      vals[i] = value;
    }
    // Names and values are checked as they are encoded: one pass over each.
    const start = arena.length;
    let split = start;
    for (let i = 0; i < names.length; i++) {
      const end = arena.checkedLabel(names[i] as string, vals[i] as string);
      if (end < 0) {
        arena.length = start;
        return undefined;
      }
      if ((names[i] as string) < '__name__') split = end;
    }
    // Equal content encodes to equal bytes, whatever the key order: look the bytes up, and keep them
    // only when they are new.
    const end = arena.length;
    const hash = arena.hash(start, end);
    const first = byHash.get(hash);
    for (let known = first; known !== undefined; known = known.next) {
      if (known.end - known.start === end - start && arena.same(known.start, start, end - start)) {
        arena.length = start;
        return known;
      }
    }
    const set: LabelSetEntry = {
      labels: labels as Record<string, string>,
      size: names.length,
      hash,
      next: first,
      start,
      split,
      end,
      lastName: undefined,
      lastSeries: -1,
      byName: undefined,
    };
    byHash.set(hash, set);
    return set;
  };

  /**
   * The label set of a labels object not seen before by identity, or why it is invalid. Equal
   * content is one set whatever the key order or the object.
   */
  const lookupSet = (input: unknown): LabelSetEntry | string => {
    if (input === null || typeof input !== 'object') return 'labels are not an object';
    let labels = input as Record<string, unknown>;
    const proto = Object.getPrototypeOf(labels);
    // From here on every enumerable key is an own key.
    if (proto !== PLAIN && proto !== null) labels = Object.fromEntries(Object.entries(labels));
    // The same content as the previous sample's labels (a copy per sample)? Values compare as the
    // strings they are.
    // Compared key by key in order, as a copy keeps it: no lookup of a key in another object.
    if (prevCount >= 0) {
      let i = 0;
      for (const name in labels) {
        if (i === prevCount || name !== prevKeys[i] || labels[name] !== prevValues[i]) {
          i = -1;
          break;
        }
        i++;
      }
      if (i === prevCount) return prevSet as LabelSetEntry;
    }
    return setOf(labels) ?? labelsProblem(input);
  };

  const seriesFor = (set: LabelSetEntry, name: string): number => {
    let index = set.byName?.get(name);
    if (index !== undefined) return index;
    let entry = nameEntries.get(name);
    if (entry === undefined) {
      const start = arena.length;
      entry = { start, end: arena.label('__name__', name) };
      nameEntries.set(name, entry);
    }
    index = series.length;
    series.push({
      set,
      name,
      nameStart: entry.start,
      nameEnd: entry.end,
      labelBytes: set.end - set.start + (entry.end - entry.start),
      first: 0,
      count: 0,
      lastTs: 0,
      unordered: false,
    });
    if (set.lastName !== undefined) {
      set.byName ??= new Map([[set.lastName, set.lastSeries]]);
      set.byName.set(name, index);
    }
    return index;
  };

  for (let i = 0; i < n; i++) {
    const sample = input[i] as Sample;
    const { name, labels, value, timestampMs } = sample;
    let set: LabelSetEntry | string | undefined;
    if (labels === prevObject) set = prevSet as LabelSetEntry;
    else {
      set = labels !== null && typeof labels === 'object' ? byObject.get(labels) : undefined;
      if (set === undefined) {
        set = lookupSet(labels);
        // A labels object is found again by identity if it comes back after another one (samples
        // ordered by time); a copy per sample is found by content instead.
        if (set !== prevSet && labels !== null && typeof labels === 'object') byObject.set(labels, set);
      }
      if (typeof set !== 'string') {
        if (set !== prevSet || prevObject === NONE) {
          // Remember the keys and values in order, for the copies that may follow.
          const proto = Object.getPrototypeOf(labels);
          prevCount = -1;
          if (proto === PLAIN || proto === null) {
            let i = 0;
            for (const name in labels) {
              prevKeys[i] = name;
              prevValues[i] = (labels as Record<string, unknown>)[name];
              i++;
            }
            prevCount = i;
          }
        }
        prevObject = labels;
        prevSet = set;
      }
    }
    let index = -1;
    if (typeof set !== 'string' && typeof value === 'number' && Number.isSafeInteger(timestampMs)) {
      if (set.lastName === name) index = set.lastSeries;
      else if (validMetricName(name)) {
        index = seriesFor(set, name);
        set.lastName = name;
        set.lastSeries = index;
      }
    }
    if (index < 0) {
      // The exact reason, in the order toTimeSeries checks it.
      reject(sample, sampleProblem(sample) ?? String(set));
      continue;
    }
    const s = series[index] as SeriesEntry;
    if (s.count === 0) s.first = count;
    else {
      if (index !== prevSeries) grouped = false;
      if (timestampMs <= s.lastTs) {
        s.unordered = true;
        anyUnordered = true;
      }
    }
    s.count++;
    s.lastTs = timestampMs;
    prevSeries = index;
    values[count] = value;
    times[count] = timestampMs;
    seriesOf[count] = index;
    source[count] = i;
    count++;
  }

  if (!grouped) {
    // Counting sort by series, stable, so each series' samples are contiguous in input order.
    const v = new Float64Array(count);
    const t = new Float64Array(count);
    const src = new Int32Array(count);
    let at = 0;
    for (const s of series) {
      s.first = at;
      at += s.count;
    }
    const cursor = new Int32Array(series.length);
    for (let k = 0; k < count; k++) {
      const g = seriesOf[k] as number;
      const p = (series[g] as SeriesEntry).first + (cursor[g] as number);
      cursor[g] = (cursor[g] as number) + 1;
      v[p] = values[k] as number;
      t[p] = times[k] as number;
      src[p] = source[k] as number;
    }
    values = v;
    times = t;
    source = src;
  }

  let total = count;
  if (anyUnordered) {
    for (const s of series) {
      if (!s.unordered) continue;
      total -= orderSeries(s, values, times, source, input, policy, rejected);
    }
  }

  const requests = cutRequests(series, arena, values, times, bounds);
  return { requests, series: series.length, samples: total, rejected };
}

/**
 * Sorts one series' samples by time (stable) and collapses exact duplicates; two values at one
 * timestamp are invalid, as in `toTimeSeries`.
 * @returns how many samples were dropped
 */
function orderSeries(
  s: SeriesEntry,
  values: Float64Array,
  times: Float64Array,
  source: Int32Array,
  input: readonly Sample[],
  policy: InvalidInputPolicy,
  rejected: RejectedSample[],
): number {
  const order = Array.from({ length: s.count }, (_, k) => s.first + k);
  order.sort((a, b) => (times[a] as number) - (times[b] as number) || a - b);
  const v = order.map((p) => values[p] as number);
  const t = order.map((p) => times[p] as number);
  const src = order.map((p) => source[p] as number);
  let out = s.first;
  for (let k = 0; k < v.length; k++) {
    const value = v[k] as number;
    const ts = t[k] as number;
    if (out > s.first && times[out - 1] === ts) {
      const prev = values[out - 1] as number;
      if (sameValue(prev, value)) continue;
      const sample = input[src[k] as number] as Sample;
      const reason = `timestamp ${ts} has two values, ${prev} and ${sample.value}`;
      if (policy === 'throw')
        throw new InvalidSampleError(seriesString(sample.name, sample.labels), reason, sample);
      rejected.push({
        sample,
        reason: `invalid sample for series ${seriesString(sample.name, sample.labels)}: ${reason}`,
      });
      continue;
    }
    values[out] = value;
    times[out] = ts;
    source[out] = src[k] as number;
    out++;
  }
  const dropped = s.first + s.count - out;
  s.count = out - s.first;
  return dropped;
}

function sameValue(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b))
    return Number.isNaN(a) && Number.isNaN(b) && isStaleNaN(a) === isStaleNaN(b);
  return Object.is(a, b);
}

function cutRequests(
  series: readonly SeriesEntry[],
  arena: Arena,
  values: Float64Array,
  times: Float64Array,
  limits: BatchLimits,
): PackedRequest[] {
  const { maxSamplesPerRequest: maxSamples, maxBytesPerRequest: maxBytes } = limits;
  const requests: PackedRequest[] = [];
  let chunks: Chunk[] = [];
  let samples = 0;
  let bytes = 0;
  const flush = () => {
    if (samples === 0) return;
    const raw = encodeChunks(chunks, bytes, arena.bytes, arena.view, values, times);
    requests.push(new PackedRequest(snappyCompress(raw), raw.length, samples, chunks, values, times));
    chunks = [];
    samples = 0;
    bytes = 0;
  };
  for (const s of series) {
    const end = s.first + s.count;
    let start = s.first;
    while (start < end) {
      let body = s.labelBytes;
      let entry = 0;
      let to = start;
      // Whole series at once when it fits (the common case), else sample by sample.
      if (samples + (end - start) <= maxSamples) {
        let all = body;
        for (let k = start; k < end; k++) all += sampleEntrySize(values[k] as number, times[k] as number);
        const allEntry = 1 + varintSize(all) + all;
        if (bytes + allEntry <= maxBytes) {
          body = all;
          entry = allEntry;
          to = end;
          samples += end - start;
          bytes += allEntry;
        }
      }
      while (to < end) {
        const nextBody = body + sampleEntrySize(values[to] as number, times[to] as number);
        const nextEntry = 1 + varintSize(nextBody) + nextBody;
        if (samples + 1 > maxSamples || bytes - entry + nextEntry > maxBytes) break;
        body = nextBody;
        bytes += nextEntry - entry;
        entry = nextEntry;
        samples++;
        to++;
      }
      if (to > start) {
        chunks.push({ series: s, from: start, to, body });
        start = to;
      }
      if (start < end) {
        if (samples === 0) {
          const one = s.labelBytes + sampleEntrySize(values[start] as number, times[start] as number);
          const labels = seriesLabels(s);
          const rendered = seriesString(
            s.name,
            Object.fromEntries(labels.filter((l) => l.name !== '__name__').map((l) => [l.name, l.value])),
          );
          throw new RangeError(
            `series ${rendered} needs ${1 + varintSize(one) + one} bytes for one sample, ` +
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
