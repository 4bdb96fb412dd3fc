/**
 * Replication lag per topic-partition: how many records the source holds that MM2 has not yet replicated.
 *
 * MM2's position comes from its Kafka Connect source offsets, which dedicated mode stores on the target in
 * `mm2-offsets.<source>.internal`: key `["MirrorSourceConnector",{"cluster":..,"partition":..,"topic":..}]`,
 * value `{"offset":N}` where N is the last source offset replicated (MM2 resumes at N + 1).
 *
 * lag = sourceEnd - max(next, sourceStart), never negative, where `next` is the next offset MM2 will read:
 * - an empty partition (start == end) has no lag;
 * - a partition MM2 has no position for yet (new topic, or partitions added during replication, picked up
 *   at the next topic refresh) lags by every record it retains;
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
 */
export function computeLag(
  source: readonly PartitionOffsets[],
  positions: ReadonlyMap<string, number>,
): PartitionLag[] {
  return source
    .map((p): PartitionLag => {
      const next = positions.get(partitionKey(p.topic, p.partition)) ?? null;
      if (p.end <= p.start) return { ...p, next, lag: 0, state: 'empty' };
      if (next === null) return { ...p, next, lag: p.end - p.start, state: 'not-started' };
      return { ...p, next, lag: Math.max(0, p.end - Math.max(next, p.start)), state: 'replicating' };
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
