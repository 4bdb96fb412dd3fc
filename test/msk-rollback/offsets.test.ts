import { describe, expect, it } from 'vitest';
import { latestCheckpoints } from '../../lambdas/msk-rollback/checkpoints.ts';
import { type GroupOffset, type OffsetFacts, verifyOffsets } from '../../lambdas/msk-rollback/offsets.ts';
import { type CheckpointFields, checkpointRecord } from './kafka-wire.ts';

const at = (topic: string, partition: number, offset: number): GroupOffset => ({ topic, partition, offset });

/** Facts for one group `svc` on `orders-0`, with checkpoints as MM2 wrote them (bytes, decoded). */
function facts(opts: {
  source: GroupOffset[];
  target?: GroupOffset[];
  checkpoints?: Omit<CheckpointFields, 'group'>[];
  state?: string;
  optional?: boolean;
  group?: string;
}): OffsetFacts {
  const group = opts.group ?? 'svc';
  return {
    groups: [group],
    optional: new Set(opts.optional ? [group] : []),
    source: new Map([[group, opts.source]]),
    target: new Map(opts.target ? [[group, opts.target]] : []),
    targetStates: new Map(opts.target ? [[group, opts.state ?? 'Empty']] : []),
    checkpoints: latestCheckpoints((opts.checkpoints ?? []).map((c) => checkpointRecord({ group, ...c }))),
  };
}

describe('consumer group offset verification from MM2 checkpoints', () => {
  it('passes a group whose target offset is the one MM2 translated its committed source offset to', () => {
    const report = verifyOffsets(
      facts({
        source: [at('orders', 0, 990), at('orders', 1, 500)],
        target: [at('orders', 0, 781), at('orders', 1, 420)],
        checkpoints: [
          { topic: 'orders', partition: 0, upstreamOffset: 900, downstreamOffset: 700 },
          { topic: 'orders', partition: 0, upstreamOffset: 990, downstreamOffset: 781 },
          { topic: 'orders', partition: 1, upstreamOffset: 500, downstreamOffset: 420 },
        ],
      }),
    );
    expect(report).toMatchObject({ translated: 1, notTranslated: 0, failed: [] });
    expect(report.groups[0]).toMatchObject({ group: 'svc', translated: true, reason: null });
    expect(report.groups[0]!.partitions[0]).toEqual({
      topic: 'orders',
      partition: 0,
      sourceOffset: 990,
      checkpoint: { upstreamOffset: 990, downstreamOffset: 781 },
      targetOffset: 781,
      problem: null,
    });
  });

  it('fails a stale target offset MM2 never wrote (an older run left it past the translation)', () => {
    // Log-end lags would call this translated: source lag 10, target lag 800 - 790 = 10.
    const report = verifyOffsets(
      facts({
        source: [at('orders', 0, 990)],
        target: [at('orders', 0, 790)],
        checkpoints: [{ topic: 'orders', partition: 0, upstreamOffset: 990, downstreamOffset: 781 }],
      }),
    );
    expect(report.failed).toEqual(['svc']);
    expect(report.groups[0]!.reason).toBe(
      "orders-0: target offset 790 is past MM2's translation 781: MM2 never wrote it (an older offset or consumers on the target) and does not lower offsets; consumers would skip records: reset the group on the target to 781",
    );
  });

  it('fails when producers already write to the target and MM2 never translated the committed offset', () => {
    // MM2 stopped at source offset 800; the group committed 1000. Producers added 500 records on the
    // target, so its lag (1300 - 800) looks ample while 200 records were never copied.
    const report = verifyOffsets(
      facts({
        source: [at('orders', 0, 1000)],
        target: [at('orders', 0, 800)],
        checkpoints: [{ topic: 'orders', partition: 0, upstreamOffset: 800, downstreamOffset: 800 }],
      }),
    );
    expect(report.failed).toEqual(['svc']);
    expect(report.groups[0]!.reason).toBe(
      "orders-0: MM2's latest checkpoint translates source offset 800, but the group committed 1000 (it committed after MM2's last checkpoint, or MM2 could not translate 1000)",
    );
  });

  it('passes a correct translation on a transactional source, whose control records MM2 does not copy', () => {
    // Source: data 0-49, commit marker 50, data 51-99, marker 100 (end 101). Target: the 99 data records.
    // The group committed 51; MM2 translated it from the sync 49 -> 49 to 50. Log-end lags would call it
    // a skip: source 101 - 51 = 50, target 99 - 50 = 49.
    const report = verifyOffsets(
      facts({
        source: [at('orders', 0, 51)],
        target: [at('orders', 0, 50)],
        checkpoints: [{ topic: 'orders', partition: 0, upstreamOffset: 51, downstreamOffset: 50 }],
      }),
    );
    expect(report).toMatchObject({ translated: 1, failed: [] });
  });

  it('says why a group was not translated', () => {
    const cases = {
      none: facts({ group: 'none', source: [at('orders', 0, 10)], target: [at('orders', 0, 10)] }),
      behind: facts({
        group: 'behind',
        source: [at('orders', 0, 10)],
        target: [at('orders', 0, 4)],
        checkpoints: [{ topic: 'orders', partition: 0, upstreamOffset: 10, downstreamOffset: 9 }],
      }),
      unsynced: facts({
        group: 'unsynced',
        source: [at('orders', 0, 10)],
        checkpoints: [{ topic: 'orders', partition: 0, upstreamOffset: 10, downstreamOffset: 9 }],
      }),
      active: facts({
        group: 'active',
        source: [at('orders', 0, 10)],
        target: [at('orders', 0, 9)],
        state: 'Stable',
        checkpoints: [{ topic: 'orders', partition: 0, upstreamOffset: 10, downstreamOffset: 9 }],
      }),
      nothing: facts({ group: 'nothing', source: [] }),
    };
    const reasons = Object.fromEntries(
      Object.entries(cases).map(([name, f]) => [name, verifyOffsets(f).groups[0]!.reason]),
    );
    expect(reasons).toEqual({
      none: 'orders-0: MM2 wrote no checkpoint (no offset sync at or before source offset 10: the group committed before replication reached it, or the records expired)',
      behind:
        "orders-0: target offset 4 is behind MM2's translation 9: the last group offset sync did not reach the target",
      unsynced: 'orders-0: no committed offset on the target; MM2 translated 10 to 9 but did not sync it',
      active:
        'group is Stable on the target: MM2 does not overwrite the offsets of a group with active members; stop its consumers on the target and run again',
      nothing:
        'no committed offsets on the source for the replicated topics: nothing to translate (narrow groups.include, or list it in groups.optional)',
    });
  });

  it('reports an optional group that was not translated without failing the rollback', () => {
    const report = verifyOffsets(facts({ source: [], optional: true }));
    expect(report).toMatchObject({ translated: 0, notTranslated: 1, failed: [] });
    expect(report.groups[0]).toMatchObject({ optional: true, translated: false });
  });
});
