/**
 * Verification of consumer-group offsets on the target after replication stopped, from MM2's own evidence:
 * for every selected group and partition, the group's committed offset on the target must be exactly the
 * offset MM2 translated its committed source offset to (the {@link Checkpoint} whose upstream offset is
 * the committed source offset).
 *
 * Why not compare log-end lags on both sides: offsets differ between the clusters, producers may already
 * write to the target (its lag then hides skipped records), transactional sources hold control records MM2
 * does not copy (a correct translation then looks like a skip), and an old offset already on the target
 * would pass. A checkpoint is what MM2 wrote; an offset MM2 never wrote is never "translated".
 *
 * A group passes when every partition it committed on the source passes and it has no active members
 * on the target (MM2 does not sync the offsets of a group in use there). Groups listed as optional are
 * reported the same way but do not fail the rollback.
 */
import { type Checkpoint, checkpointKey } from './checkpoints.ts';

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
  /** Selected groups that may end untranslated without failing the rollback (`groups.optional`). */
  readonly optional: ReadonlySet<string>;
  /** Committed offsets on the source, for replicated topics only. */
  readonly source: ReadonlyMap<string, readonly GroupOffset[]>;
  /** Committed offsets on the target. */
  readonly target: ReadonlyMap<string, readonly GroupOffset[]>;
  /** Group states on the target (`Empty`, `Stable`, `Dead`, ...); absent when the group does not exist. */
  readonly targetStates: ReadonlyMap<string, string>;
  /** The latest checkpoint MM2 wrote per group partition, by {@link checkpointKey}. */
  readonly checkpoints: ReadonlyMap<string, Checkpoint>;
}

/** One partition of a group in the report. */
export interface PartitionReport {
  readonly topic: string;
  readonly partition: number;
  /** The group's committed offset on the source. */
  readonly sourceOffset: number;
  /** MM2's latest checkpoint for the partition: the source offset it translated, and to what. */
  readonly checkpoint: { readonly upstreamOffset: number; readonly downstreamOffset: number } | null;
  /** The group's committed offset on the target. */
  readonly targetOffset: number | null;
  /** Why the partition is not translated; null when it is. */
  readonly problem: string | null;
}

/** Verdict on one group. */
export interface GroupReport {
  readonly group: string;
  readonly translated: boolean;
  /** Listed in `groups.optional`: reported, but does not fail the rollback. */
  readonly optional: boolean;
  /** Why not; null when translated. */
  readonly reason: string | null;
  readonly partitions: readonly PartitionReport[];
}

/** The report of a finished rollback. */
export interface OffsetReport {
  readonly groups: readonly GroupReport[];
  readonly translated: number;
  readonly notTranslated: number;
  /** Groups not translated and not optional: any makes the rollback fail with `OffsetsNotTranslated`. */
  readonly failed: readonly string[];
}

const ACTIVE_STATES = new Set([
  'Stable',
  'PreparingRebalance',
  'CompletingRebalance',
  'Assigning',
  'Reconciling',
]);

function judgePartition(
  committed: GroupOffset,
  targetOffset: number | null,
  checkpoint: Checkpoint | undefined,
): PartitionReport {
  const { topic, partition, offset: sourceOffset } = committed;
  const base = {
    topic,
    partition,
    sourceOffset,
    targetOffset,
    checkpoint: checkpoint
      ? { upstreamOffset: checkpoint.upstreamOffset, downstreamOffset: checkpoint.downstreamOffset }
      : null,
  };
  const at = `${topic}-${partition}`;
  if (!checkpoint) {
    return {
      ...base,
      problem: `${at}: MM2 wrote no checkpoint (no offset sync at or before source offset ${sourceOffset}: the group committed before replication reached it, or the records expired)`,
    };
  }
  const d = checkpoint.downstreamOffset;
  if (checkpoint.upstreamOffset !== sourceOffset) {
    return {
      ...base,
      problem: `${at}: MM2's latest checkpoint translates source offset ${checkpoint.upstreamOffset}, but the group committed ${sourceOffset} (it committed after MM2's last checkpoint, or MM2 could not translate ${sourceOffset})`,
    };
  }
  if (targetOffset === null) {
    return {
      ...base,
      problem: `${at}: no committed offset on the target; MM2 translated ${sourceOffset} to ${d} but did not sync it`,
    };
  }
  if (targetOffset > d) {
    return {
      ...base,
      problem: `${at}: target offset ${targetOffset} is past MM2's translation ${d}: MM2 never wrote it (an older offset or consumers on the target) and does not lower offsets; consumers would skip records: reset the group on the target to ${d}`,
    };
  }
  if (targetOffset < d) {
    return {
      ...base,
      problem: `${at}: target offset ${targetOffset} is behind MM2's translation ${d}: the last group offset sync did not reach the target`,
    };
  }
  return { ...base, problem: null };
}

function judgeGroup(facts: OffsetFacts, group: string): GroupReport {
  const optional = facts.optional.has(group);
  const committed = [...(facts.source.get(group) ?? [])].sort((a, b) =>
    a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1,
  );
  if (committed.length === 0) {
    return {
      group,
      translated: false,
      optional,
      reason:
        'no committed offsets on the source for the replicated topics: nothing to translate (narrow groups.include, or list it in groups.optional)',
      partitions: [],
    };
  }
  const onTarget = new Map(
    (facts.target.get(group) ?? []).map((o) => [`${o.topic}\u0000${o.partition}`, o.offset]),
  );
  const partitions = committed.map((c) =>
    judgePartition(
      c,
      onTarget.get(`${c.topic}\u0000${c.partition}`) ?? null,
      facts.checkpoints.get(checkpointKey(group, c.topic, c.partition)),
    ),
  );
  const state = facts.targetStates.get(group);
  if (state && ACTIVE_STATES.has(state)) {
    return {
      group,
      translated: false,
      optional,
      reason: `group is ${state} on the target: MM2 does not overwrite the offsets of a group with active members; stop its consumers on the target and run again`,
      partitions,
    };
  }
  const problems = partitions.flatMap((p) => (p.problem ? [p.problem] : []));
  return {
    group,
    translated: problems.length === 0,
    optional,
    reason: problems.join('; ') || null,
    partitions,
  };
}

/**
 * Builds the per-group report.
 * @param facts committed offsets of both clusters, target group states and MM2's checkpoints
 */
export function verifyOffsets(facts: OffsetFacts): OffsetReport {
  const groups = [...facts.groups].sort().map((g) => judgeGroup(facts, g));
  const translated = groups.filter((g) => g.translated).length;
  return {
    groups,
    translated,
    notTranslated: groups.length - translated,
    failed: groups.filter((g) => !g.translated && !g.optional).map((g) => g.group),
  };
}
