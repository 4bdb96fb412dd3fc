/**
 * Verification of consumer-group offsets on the target after replication stopped: for every selected
 * group and partition, did MM2 translate the group's source position, and where will a consumer resume?
 *
 * Compared as lags (log end minus committed offset) because offsets differ between the clusters.
 * MM2 translates conservatively (to the last offset sync at or before the committed offset), so a consumer
 * may re-read a few records on the target; it must never skip any. A group is reported `translated` when
 * every partition it committed on the source has an offset on the target that does not skip records.
 */
import { partitionKey } from './lag.ts';

/** A committed offset of a group. */
export interface GroupOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** What verification compares, gathered by the adapters. */
export interface OffsetFacts {
  /** The selected groups (source groups matching the filter). */
  readonly groups: readonly string[];
  /** Committed offsets on the source, for replicated topics only. */
  readonly source: ReadonlyMap<string, readonly GroupOffset[]>;
  /** Committed offsets on the target. */
  readonly target: ReadonlyMap<string, readonly GroupOffset[]>;
  /** Group states on the target (`Empty`, `Stable`, `Dead`, ...); absent when the group does not exist. */
  readonly targetStates: ReadonlyMap<string, string>;
  /** Log-end offsets by {@link partitionKey}. */
  readonly sourceEnds: ReadonlyMap<string, number>;
  readonly targetEnds: ReadonlyMap<string, number>;
}

/** One partition of a group in the report. */
export interface PartitionReport {
  readonly topic: string;
  readonly partition: number;
  readonly sourceOffset: number;
  readonly sourceLag: number | null;
  readonly targetOffset: number | null;
  readonly targetLag: number | null;
}

/** Verdict on one group. */
export interface GroupReport {
  readonly group: string;
  readonly translated: boolean;
  /** Why not, or what to expect (records re-read); null when nothing to say. */
  readonly reason: string | null;
  /** Records consumers of this group will re-read on the target, over all partitions. */
  readonly replayRecords: number;
  readonly partitions: readonly PartitionReport[];
}

/** The report of a finished rollback. */
export interface OffsetReport {
  readonly groups: readonly GroupReport[];
  readonly translated: number;
  readonly notTranslated: number;
}

const ACTIVE_STATES = new Set([
  'Stable',
  'PreparingRebalance',
  'CompletingRebalance',
  'Assigning',
  'Reconciling',
]);

/**
 * Builds the per-group report.
 * @param facts offsets and log ends of both clusters
 */
export function verifyOffsets(facts: OffsetFacts): OffsetReport {
  const groups = [...facts.groups].sort().map((group): GroupReport => {
    const committed = [...(facts.source.get(group) ?? [])].sort((a, b) =>
      a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1,
    );
    if (committed.length === 0) {
      return {
        group,
        translated: false,
        reason: 'no committed offsets on the source for the replicated topics: nothing to translate',
        replayRecords: 0,
        partitions: [],
      };
    }
    const onTarget = new Map(
      (facts.target.get(group) ?? []).map((o) => [partitionKey(o.topic, o.partition), o.offset]),
    );
    const partitions = committed.map((c): PartitionReport => {
      const key = partitionKey(c.topic, c.partition);
      const sourceEnd = facts.sourceEnds.get(key);
      const targetEnd = facts.targetEnds.get(key);
      const targetOffset = onTarget.get(key) ?? null;
      return {
        topic: c.topic,
        partition: c.partition,
        sourceOffset: c.offset,
        sourceLag: sourceEnd === undefined ? null : Math.max(0, sourceEnd - c.offset),
        targetOffset,
        targetLag:
          targetOffset === null || targetEnd === undefined ? null : Math.max(0, targetEnd - targetOffset),
      };
    });
    const state = facts.targetStates.get(group);
    if (state && ACTIVE_STATES.has(state)) {
      return {
        group,
        translated: false,
        reason: `group is ${state} on the target: MM2 does not overwrite the offsets of a group with active members; stop its consumers on the target and run again`,
        replayRecords: 0,
        partitions,
      };
    }
    const missing = partitions.filter((p) => p.targetOffset === null);
    if (missing.length > 0) {
      return {
        group,
        translated: false,
        reason: `no offset on the target for ${missing.map((p) => `${p.topic}-${p.partition}`).join(', ')}: MM2 had no offset sync at or before the committed offset (the group committed before replication reached it, or the records expired); consumers will start there at their auto.offset.reset`,
        replayRecords: 0,
        partitions,
      };
    }
    const skipping = partitions.filter(
      (p) => p.sourceLag !== null && p.targetLag !== null && p.targetLag < p.sourceLag,
    );
    if (skipping.length > 0) {
      return {
        group,
        translated: false,
        reason: `target offset would skip records on ${skipping.map((p) => `${p.topic}-${p.partition} (${p.sourceLag! - p.targetLag!} records)`).join(', ')}: replication did not finish for these partitions`,
        replayRecords: 0,
        partitions,
      };
    }
    const replayRecords = partitions.reduce(
      (s, p) => s + (p.sourceLag !== null && p.targetLag !== null ? p.targetLag - p.sourceLag : 0),
      0,
    );
    return {
      group,
      translated: true,
      reason:
        replayRecords > 0
          ? `consumers will re-read ${replayRecords} records on the target (translation rounds down to the last offset sync)`
          : null,
      replayRecords,
      partitions,
    };
  });
  const translated = groups.filter((g) => g.translated).length;
  return { groups, translated, notTranslated: groups.length - translated };
}
