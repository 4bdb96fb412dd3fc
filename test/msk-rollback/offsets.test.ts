import { describe, expect, it } from 'vitest';
import { partitionKey } from '../../lambdas/msk-rollback/lag.ts';
import { verifyOffsets } from '../../lambdas/msk-rollback/offsets.ts';

const ends = (entries: [string, number, number][]) =>
  new Map(entries.map(([t, p, e]) => [partitionKey(t, p), e]));

describe('consumer group offset verification', () => {
  const base = {
    sourceEnds: ends([
      ['orders', 0, 1000],
      ['orders', 1, 500],
    ]),
    targetEnds: ends([
      ['orders', 0, 800],
      ['orders', 1, 500],
    ]),
  };

  it('reports a translated group and how many records its consumers will re-read', () => {
    const report = verifyOffsets({
      ...base,
      groups: ['svc'],
      source: new Map([
        [
          'svc',
          [
            { topic: 'orders', partition: 0, offset: 990 },
            { topic: 'orders', partition: 1, offset: 500 },
          ],
        ],
      ]),
      target: new Map([
        [
          'svc',
          [
            { topic: 'orders', partition: 0, offset: 780 },
            { topic: 'orders', partition: 1, offset: 500 },
          ],
        ],
      ]),
      targetStates: new Map([['svc', 'Empty']]),
    });
    expect(report.translated).toBe(1);
    expect(report.groups[0]).toMatchObject({ group: 'svc', translated: true, replayRecords: 10 });
    expect(report.groups[0]!.reason).toBe(
      'consumers will re-read 10 records on the target (translation rounds down to the last offset sync)',
    );
    expect(report.groups[0]!.partitions[0]).toEqual({
      topic: 'orders',
      partition: 0,
      sourceOffset: 990,
      sourceLag: 10,
      targetOffset: 780,
      targetLag: 20,
    });
  });

  it('says why a group was not translated', () => {
    const report = verifyOffsets({
      ...base,
      groups: ['active', 'missing', 'nothing', 'skips'],
      source: new Map([
        ['active', [{ topic: 'orders', partition: 0, offset: 1000 }]],
        [
          'missing',
          [
            { topic: 'orders', partition: 0, offset: 1000 },
            { topic: 'orders', partition: 1, offset: 10 },
          ],
        ],
        ['skips', [{ topic: 'orders', partition: 0, offset: 900 }]],
      ]),
      target: new Map([
        ['active', [{ topic: 'orders', partition: 0, offset: 800 }]],
        ['missing', [{ topic: 'orders', partition: 0, offset: 800 }]],
        ['skips', [{ topic: 'orders', partition: 0, offset: 790 }]],
      ]),
      targetStates: new Map([
        ['active', 'Stable'],
        ['missing', 'Empty'],
        ['skips', 'Empty'],
      ]),
    });
    expect(report).toMatchObject({ translated: 0, notTranslated: 4 });
    const reasons = Object.fromEntries(report.groups.map((g) => [g.group, g.reason]));
    expect(reasons.active).toMatch(
      /^group is Stable on the target: MM2 does not overwrite the offsets of a group with active members/,
    );
    expect(reasons.missing).toMatch(
      /^no offset on the target for orders-1: MM2 had no offset sync at or before the committed offset/,
    );
    expect(reasons.nothing).toBe(
      'no committed offsets on the source for the replicated topics: nothing to translate',
    );
    expect(reasons.skips).toBe(
      'target offset would skip records on orders-0 (90 records): replication did not finish for these partitions',
    );
  });
});
