/**
 * Replication lag per topic-partition: how many records the source holds that MM2 has not yet replicated.
 *
 * MM2's position comes from its Kafka Connect source offsets, which dedicated mode stores on the target in
 * `mm2-offsets.<source>.internal`: key `["MirrorSourceConnector",{"cluster":..,"partition":..,"topic":..}]`,
 * value `{"offset":N}` where N is the last source offset replicated (MM2 resumes at N + 1).
 *
 * MM2 records a position for a partition only once it copied a record there, so a partition without one
 * is ambiguous: forward, MM2 starts at the earliest retained record (`auto.offset.reset = earliest`);
 * in reverse it starts at the log end (`latest`), and an idle partition would otherwise count its whole
 * retained history forever. So the lag counts from a {@link Baseline}, the offset MM2 starts copying
 * each partition from, recorded just before the task starts (DiscoverTopics): the log start forward,
 * the log end in reverse. A partition first seen during the run (added partitions, new topics) gets its
 * baseline when a poll first sees it, by the same rule.
 *
 * lag = sourceEnd - max(next, baseline, sourceStart), never negative, where `next` is the next offset MM2
 * will read (absent: no position yet):
 * - an empty partition (start == end) has no lag;
 * - when retention deleted records MM2 never read (start > next), only the retained ones count.
 * Positions of topics no longer selected or no longer on the source are ignored.
 */

/** Log start and end offsets of one partition (end = the offset the next record will get). */
export interface PartitionOffsets {
  readonly topic: string;
  readonly partition: number;
  /** Earliest retained offset. */
  readonly start: number;
  /** Log-end offset (high watermark). */
  readonly end: number;
}

/** Lag of one partition. */
export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  readonly start: number;
  readonly end: number;
  /** Next source offset MM2 will replicate; null when it has no position yet. */
  readonly next: number | null;
  readonly lag: number;
  readonly state: 'empty' | 'not-started' | 'replicating';
}

/** Totals over all partitions. */
export interface LagSummary {
  readonly totalRecords: number;
  readonly maxPartitionRecords: number;
  readonly partitions: number;
  readonly partitionsBehind: number;
  readonly partitionsNotStarted: number;
  readonly topics: number;
  /** The partitions furthest behind, at most 10, largest first. */
  readonly worst: readonly { topic: string; partition: number; lag: number }[];
}

/**
 * Where MM2 starts copying each partition: topic -> offset by partition number. Kept in the execution
 * state (`$.discovery.baseline`, then `$.poll.baseline`): about 6 bytes a partition.
 */
export type Baseline = Readonly<Record<string, readonly number[]>>;

/**
 * Adds a baseline for every partition that has none yet; known partitions keep theirs.
 * @param baseline what is known (a partition's baseline never moves once recorded)
 * @param direction forward starts at the log start, reverse at the log end
 * @param source start and end offsets of the selected source partitions now
 * @returns the baseline with every partition of `source` in it (a new object when something was added)
 */
export function extendBaseline(
  baseline: Baseline,
  direction: 'forward' | 'reverse',
  source: readonly PartitionOffsets[],
): Baseline {
  let out: Record<string, number[]> | undefined;
  for (const p of source) {
    if (baseline[p.topic]?.[p.partition] !== undefined || out?.[p.topic]?.[p.partition] !== undefined)
      continue;
    out ??= Object.fromEntries(Object.entries(baseline).map(([t, offsets]) => [t, [...offsets]]));
    const offsets = out[p.topic] ?? [];
    out[p.topic] = offsets;
    // Partitions are numbered 0..n-1 and only ever added at the end: the array stays dense.
    offsets[p.partition] = direction === 'forward' ? p.start : p.end;
  }
  return out ?? baseline;
}

/** A record of a compacted topic as the admin port returns it (null value = tombstone). */
export interface RawRecord {
  readonly key: string | null;
  readonly value: string | null;
}

/** Key of a topic-partition in maps. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/**
 * Reads MM2's replicated positions from the records of its Connect offsets topic, in log order.
 * @param records the topic's records, oldest first
 * @param sourceAlias the MM2 alias of the source cluster (other clusters' entries are ignored)
 * @returns next offset to replicate, by {@link partitionKey}
 */
export function parseMirrorPositions(records: Iterable<RawRecord>, sourceAlias: string): Map<string, number> {
  const next = new Map<string, number>();
  for (const { key, value } of records) {
    if (key === null) continue;
    let parsedKey: unknown;
    try {
      parsedKey = JSON.parse(key);
    } catch {
      continue;
    }
    if (!Array.isArray(parsedKey) || parsedKey[0] !== 'MirrorSourceConnector') continue;
    const p = parsedKey[1] as { cluster?: unknown; topic?: unknown; partition?: unknown } | undefined;
    if (!p || p.cluster !== sourceAlias || typeof p.topic !== 'string' || typeof p.partition !== 'number')
      continue;
    const k = partitionKey(p.topic, p.partition);
    if (value === null) {
      next.delete(k);
      continue;
    }
    let offset: unknown;
    try {
      offset = (JSON.parse(value) as { offset?: unknown }).offset;
    } catch {
      continue;
    }
    if (typeof offset === 'number' && Number.isInteger(offset) && offset >= -1) next.set(k, offset + 1);
  }
  return next;
}

/**
 * Computes lag per partition.
 * @param source start and end offsets of every selected source partition
 * @param positions next offsets MM2 will replicate ({@link parseMirrorPositions})
 * @param baseline where MM2 starts each partition ({@link extendBaseline}); a partition without one
 *   counts from its log start
 */
export function computeLag(
  source: readonly PartitionOffsets[],
  positions: ReadonlyMap<string, number>,
  baseline: Baseline = {},
): PartitionLag[] {
  return source
    .map((p): PartitionLag => {
      const next = positions.get(partitionKey(p.topic, p.partition)) ?? null;
      if (p.end <= p.start) return { ...p, next, lag: 0, state: 'empty' };
      const from = Math.max(p.start, next ?? 0, baseline[p.topic]?.[p.partition] ?? 0);
      return {
        ...p,
        next,
        lag: Math.max(0, p.end - from),
        state: next === null ? 'not-started' : 'replicating',
      };
    })
    .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
}

/** Sums a lag table. */
export function summarizeLag(lags: readonly PartitionLag[]): LagSummary {
  const behind = lags.filter((l) => l.lag > 0);
  return {
    totalRecords: lags.reduce((s, l) => s + l.lag, 0),
    maxPartitionRecords: lags.reduce((m, l) => Math.max(m, l.lag), 0),
    partitions: lags.length,
    partitionsBehind: behind.length,
    partitionsNotStarted: lags.filter((l) => l.state === 'not-started').length,
    topics: new Set(lags.map((l) => l.topic)).size,
    worst: [...behind]
      .sort(
        (a, b) =>
          b.lag - a.lag || (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition),
      )
      .slice(0, 10)
      .map(({ topic, partition, lag }) => ({ topic, partition, lag })),
  };
}
