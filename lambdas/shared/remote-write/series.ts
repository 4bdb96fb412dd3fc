/**
 * The data model of the remote-write client and the one step that turns loose samples into
 * Prometheus time series: validate names and values, sort labels, merge identical series, order
 * samples by time.
 *
 * Prometheus' own rules apply (https://prometheus.io/docs/concepts/data_model/): metric names match
 * `[a-zA-Z_:][a-zA-Z0-9_:]*`, label names `[a-zA-Z_][a-zA-Z0-9_]*` and may not start with `__`
 * (reserved for internal use; the metric name travels as `__name__`), labels are sorted by name and
 * unique, and an empty label value means "no label", so it is rejected rather than silently dropped.
 */

/** One sample as every capability produces it. */
export interface Sample {
  /** Metric name, e.g. `probe_tcp_connect_seconds`. */
  name: string;
  /** Labels other than the metric name; order does not matter. */
  labels: Readonly<Record<string, string>>;
  /** Sample value; NaN, +Inf, -Inf and {@link STALE_NAN} are encoded exactly. */
  value: number;
  /** Milliseconds since the Unix epoch (an integer). */
  timestampMs: number;
}

/** A protobuf `prometheus.Label`. */
export interface Label {
  readonly name: string;
  readonly value: string;
}

/** A protobuf `prometheus.Sample`. */
export interface SeriesSample {
  readonly value: number;
  readonly timestampMs: number;
}

/** A protobuf `prometheus.TimeSeries`: labels sorted by name (including `__name__`), samples by time. */
export interface TimeSeries {
  readonly labels: readonly Label[];
  readonly samples: readonly SeriesSample[];
}

/** A sample that failed validation, with the reason (only reported when invalid input is skipped). */
export interface RejectedSample {
  readonly sample: Sample;
  readonly reason: string;
}

/** How invalid input is handled: `throw` rejects the whole input, `skip` drops and reports the sample. */
export type InvalidInputPolicy = 'throw' | 'skip';

/** Thrown for a sample that cannot be written; names the series and the offending label or field. */
export class InvalidSampleError extends Error {
  override readonly name = 'InvalidSampleError';
  /**
   * @param series the series in Prometheus notation, e.g. `up{job="x"}`
   * @param reason what is wrong, naming the bad label or field
   * @param sample the offending input
   */
  constructor(
    readonly series: string,
    readonly reason: string,
    readonly sample: Sample,
  ) {
    super(`invalid sample for series ${series}: ${reason}`);
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// A lone UTF-16 surrogate cannot be encoded as UTF-8; Prometheus would store a replacement character.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const ANY_SURROGATE = /[\uD800-\uDFFF]/;

const STALE_BITS = 0x7ff0000000000002n;
// The payload bits of Prometheus' staleness marker without the quiet bit: V8 quiets a signalling NaN
// (0x7ff0... becomes 0x7ff8...) when it is stored in a packed double array, so detection ignores it.
const STALE_PAYLOAD = 0x0000000000000002n;
const PAYLOAD_MASK = 0x0007ffffffffffffn;
const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

/**
 * Prometheus' staleness marker (`value.StaleNaN`, bits 0x7ff0000000000002): a sample with this value
 * ends a series, exactly as a scrape that no longer returns it.
 */
export const STALE_NAN: number = (() => {
  u64[0] = STALE_BITS;
  return f64[0] as number;
})();

/**
 * Tells whether a value is Prometheus' staleness marker, even after V8 has quieted the NaN.
 * @param value any sample value
 */
export function isStaleNaN(value: number): boolean {
  if (!Number.isNaN(value)) return false;
  f64[0] = value;
  return ((u64[0] as bigint) & PAYLOAD_MASK) === STALE_PAYLOAD;
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * Renders a sample's series in Prometheus notation, e.g. `up{job="x"}`, for errors and logs.
 * @param name metric name
 * @param labels labels other than the name
 */
export function seriesString(name: string, labels: Readonly<Record<string, string>>): string {
  const body = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabelValue(String(labels[k]))}"`)
    .join(', ');
  return `${name}{${body}}`;
}

/**
 * Renders a time series in Prometheus notation, e.g. `up{job="x"}`.
 * @param labels labels including `__name__`
 */
export function formatSeries(labels: readonly Label[]): string {
  const name = labels.find((l) => l.name === '__name__')?.value ?? '';
  const rest: Record<string, string> = {};
  for (const l of labels) if (l.name !== '__name__') rest[l.name] = l.value;
  return seriesString(name, rest);
}

function invalid(sample: Sample, reason: string): never {
  const labels = sample.labels !== null && typeof sample.labels === 'object' ? sample.labels : {};
  throw new InvalidSampleError(seriesString(String(sample.name), labels), reason, sample);
}

function byName(a: Label, b: Label): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Why a sample's metric name, value or timestamp is invalid; undefined when they are valid. */
function scalarProblem(sample: Sample): string | undefined {
  const { name, value, timestampMs } = sample;
  if (typeof name !== 'string' || name === '') return 'metric name is empty';
  if (!METRIC_NAME.test(name)) return `metric name "${name}" does not match [a-zA-Z_:][a-zA-Z0-9_:]*`;
  if (typeof value !== 'number') return `value ${JSON.stringify(value)} is not a number`;
  if (!Number.isSafeInteger(timestampMs))
    return `timestamp ${timestampMs} is not an integer number of milliseconds`;
  return undefined;
}

/** A validated label set (without the metric name), sorted by name. */
interface LabelSet {
  readonly labels: Label[];
  /** Identity of the set: equal sets have equal keys. */
  readonly key: string;
  /** Where `__name__` goes in the sorted labels. */
  readonly nameAt: number;
}

/** Validates a labels object; returns the sorted set, or why it is invalid. */
function labelSet(input: unknown): LabelSet | string {
  if (input === null || typeof input !== 'object') return 'labels are not an object';
  const labels: Label[] = [];
  // Object keys are unique by construction; a duplicate can only be the reserved metric name label.
  for (const labelName in input) {
    if (!Object.hasOwn(input, labelName)) continue;
    const labelValue = (input as Record<string, unknown>)[labelName];
    if (!LABEL_NAME.test(labelName)) {
      if (labelName === '') return 'label name is empty';
      return `label name "${labelName}" does not match [a-zA-Z_][a-zA-Z0-9_]*`;
    }
    if (labelName.charCodeAt(0) === 95 && labelName.charCodeAt(1) === 95) {
      if (labelName === '__name__') return 'label "__name__" duplicates the metric name; use the name field';
      return `label name "${labelName}" starts with "__", which is reserved`;
    }
    if (typeof labelValue !== 'string')
      return `label "${labelName}" has a non-string value ${JSON.stringify(labelValue)}`;
    if (labelValue === '') return `label "${labelName}" has an empty value`;
    if (ANY_SURROGATE.test(labelValue) && LONE_SURROGATE.test(labelValue))
      return `label "${labelName}" has a value that is not valid unicode`;
    labels.push({ name: labelName, value: labelValue });
  }
  // Label names are ASCII here, so UTF-16 order equals the byte order Prometheus sorts by.
  labels.sort(byName);
  // \u0000 cannot appear in a valid name and separates name from value unambiguously.
  let key = '';
  let nameAt = 0;
  for (const l of labels) {
    key += `${l.name}\u0000${l.value}\u0000`;
    if (l.name < '__name__') nameAt++;
  }
  return { labels, key, nameAt };
}

/**
 * Why a sample is invalid, in the order {@link toTimeSeries} checks: name, value, timestamp, labels.
 * @returns undefined when the sample is valid
 */
export function sampleProblem(sample: Sample): string | undefined {
  const problem = scalarProblem(sample);
  if (problem !== undefined) return problem;
  const set = labelSet(sample.labels);
  return typeof set === 'string' ? set : undefined;
}

/**
 * Why a labels object is invalid.
 * @returns the reason, or `labels are valid` when they are (callers ask only about invalid ones)
 */
export function labelsProblem(labels: unknown): string {
  const set = labelSet(labels);
  return typeof set === 'string' ? set : 'labels are valid';
}

function withName(set: LabelSet, name: string): Label[] {
  const labels = set.labels.slice();
  labels.splice(set.nameAt, 0, { name: '__name__', value: name });
  return labels;
}

/**
 * Validates one sample and returns its labels sorted by name with `__name__` in place.
 * @throws InvalidSampleError naming the series and the bad label or field
 */
export function sortedLabels(sample: Sample): Label[] {
  const problem = scalarProblem(sample);
  if (problem !== undefined) invalid(sample, problem);
  const set = labelSet(sample.labels);
  if (typeof set === 'string') invalid(sample, set);
  return withName(set, sample.name);
}

function sameValue(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b))
    return Number.isNaN(a) && Number.isNaN(b) && isStaleNaN(a) === isStaleNaN(b);
  return Object.is(a, b);
}

/** The result of {@link toTimeSeries}. */
export interface NormalizedInput {
  /** Series in order of first appearance, labels sorted, samples in timestamp order. */
  readonly series: TimeSeries[];
  /** Number of samples across all series. */
  readonly samples: number;
  /** Samples dropped as invalid (only with the `skip` policy). */
  readonly rejected: RejectedSample[];
}

/**
 * Validates samples and groups them into time series: labels sorted, identical series merged into one,
 * samples sorted by timestamp (stable), exact duplicates collapsed. Two different values at the same
 * timestamp of one series are invalid: Prometheus would reject the whole request for it.
 * @param samples samples in any order
 * @param policy what to do with an invalid sample
 * @default policy `throw`
 */
export function toTimeSeries(
  samples: Iterable<Sample>,
  policy: InvalidInputPolicy = 'throw',
): NormalizedInput {
  interface Group {
    labels: Label[];
    /** The input samples themselves: no copy is made until the series is built. */
    samples: Sample[];
    sorted: boolean;
  }
  // Callers reuse one labels object for many samples (every point of a series, every metric of a
  // probe outcome): it is validated and sorted once per call, and looked up by identity after that.
  // A labels object must therefore not change while its samples are being read.
  const sets = new Map<object, LabelSet | string>();
  // Label set key -> metric name -> group; `groups` keeps the order of first appearance.
  const index = new Map<string, Map<string, Group>>();
  const groups: Group[] = [];
  const rejected: RejectedSample[] = [];
  for (const sample of samples) {
    let problem = scalarProblem(sample);
    let set: LabelSet | string | undefined;
    if (problem === undefined) {
      const input = sample.labels;
      set = input !== null && typeof input === 'object' ? sets.get(input) : undefined;
      if (set === undefined) {
        set = labelSet(input);
        if (input !== null && typeof input === 'object') sets.set(input, set);
      }
      if (typeof set === 'string') problem = set;
    }
    if (problem !== undefined) {
      const labels = sample.labels !== null && typeof sample.labels === 'object' ? sample.labels : {};
      const err = new InvalidSampleError(seriesString(String(sample.name), labels), problem, sample);
      if (policy === 'throw') throw err;
      rejected.push({ sample, reason: err.message });
      continue;
    }
    const labelSetOk = set as LabelSet;
    let byName = index.get(labelSetOk.key);
    if (!byName) {
      byName = new Map();
      index.set(labelSetOk.key, byName);
    }
    let group = byName.get(sample.name);
    if (!group) {
      group = { labels: withName(labelSetOk, sample.name), samples: [], sorted: true };
      byName.set(sample.name, group);
      groups.push(group);
    }
    const last = group.samples[group.samples.length - 1];
    if (last && last.timestampMs > sample.timestampMs) group.sorted = false;
    group.samples.push(sample);
  }
  const series: TimeSeries[] = [];
  let count = 0;
  for (const group of groups) {
    // Array.prototype.sort is stable, so equal timestamps keep their input order.
    if (!group.sorted) group.samples.sort((a, b) => a.timestampMs - b.timestampMs);
    const out: SeriesSample[] = [];
    for (const s of group.samples) {
      const prev = out[out.length - 1];
      if (prev && prev.timestampMs === s.timestampMs) {
        if (sameValue(prev.value, s.value)) continue;
        const reason = `timestamp ${s.timestampMs} has two values, ${prev.value} and ${s.value}`;
        if (policy === 'throw') {
          throw new InvalidSampleError(seriesString(s.name, s.labels), reason, s);
        }
        rejected.push({
          sample: s,
          reason: `invalid sample for series ${seriesString(s.name, s.labels)}: ${reason}`,
        });
        continue;
      }
      out.push({ value: s.value, timestampMs: s.timestampMs });
    }
    count += out.length;
    series.push({ labels: group.labels, samples: out });
  }
  return { series, samples: count, rejected };
}

/**
 * Turns time series back into samples (the inverse of {@link toTimeSeries}), e.g. to report what was
 * not written.
 * @param series series with a `__name__` label
 */
export function toSamples(series: Iterable<TimeSeries>): Sample[] {
  const out: Sample[] = [];
  for (const ts of series) {
    let name = '';
    const labels: Record<string, string> = {};
    for (const l of ts.labels) {
      if (l.name === '__name__') name = l.value;
      else labels[l.name] = l.value;
    }
    for (const s of ts.samples) out.push({ name, labels, value: s.value, timestampMs: s.timestampMs });
  }
  return out;
}
