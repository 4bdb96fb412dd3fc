import { describe, expect, it } from 'vitest';
import {
  computeLag,
  extendBaseline,
  parseMirrorPositions,
  partitionKey,
  summarizeLag,
} from '../../lambdas/msk-rollback/lag.ts';

// Records as MM2 3.7 writes them to mm2-offsets.<source>.internal (JsonConverter, schemas off).
const rec = (topic: string, partition: number, offset: number | null, cluster = 'orders-v2') => ({
  key: JSON.stringify(['MirrorSourceConnector', { cluster, partition, topic }]),
  value: offset === null ? null : JSON.stringify({ offset }),
});

describe('MM2 positions from the Connect offsets topic', () => {
  it('keeps the latest position per partition, as next offset to replicate', () => {
    const positions = parseMirrorPositions(
      [rec('orders.created', 0, 99), rec('orders.created', 1, 10), rec('orders.created', 0, 4999)],
      'orders-v2',
    );
    expect(positions.get(partitionKey('orders.created', 0))).toBe(5000);
    expect(positions.get(partitionKey('orders.created', 1))).toBe(11);
  });

  it('ignores other connectors, other source clusters, tombstoned and malformed records', () => {
    const positions = parseMirrorPositions(
      [
        rec('a', 0, 5),
        rec('a', 0, null),
        rec('b', 0, 7, 'orders-v3'),
        {
          key: JSON.stringify([
            'MirrorCheckpointConnector',
            { cluster: 'orders-v2', partition: 0, topic: 'c' },
          ]),
          value: '{"offset":1}',
        },
        { key: 'not json', value: '{"offset":1}' },
        {
          key: JSON.stringify(['MirrorSourceConnector', { cluster: 'orders-v2', partition: 0, topic: 'd' }]),
          value: 'garbage',
        },
        { key: null, value: '{"offset":3}' },
      ],
      'orders-v2',
    );
    expect([...positions]).toEqual([]);
  });
});

describe('lag per partition', () => {
  const source = [
    { topic: 'orders.created', partition: 0, start: 0, end: 5000 },
    { topic: 'orders.created', partition: 1, start: 100, end: 3000 },
    { topic: 'orders.created', partition: 2, start: 42, end: 42 },
    // Added while MM2 was running: no position yet.
    { topic: 'orders.created', partition: 3, start: 0, end: 25 },
    // Retention deleted records MM2 never read.
    { topic: 'payments.settled', partition: 0, start: 900, end: 1000 },
  ];
  const positions = parseMirrorPositions(
    [
      rec('orders.created', 0, 4799),
      rec('orders.created', 1, 2999),
      rec('payments.settled', 0, 499),
      rec('gone.topic', 0, 5),
    ],
    'orders-v2',
  );

  it('counts records between MM2 and the log end, clamped to what the source retains', () => {
    const lags = computeLag(source, positions);
    expect(lags.map((l) => [l.topic, l.partition, l.lag, l.state])).toEqual([
      ['orders.created', 0, 200, 'replicating'],
      ['orders.created', 1, 0, 'replicating'],
      ['orders.created', 2, 0, 'empty'],
      ['orders.created', 3, 25, 'not-started'],
      ['payments.settled', 0, 100, 'replicating'],
    ]);
  });

  it('sums lag, ranks the worst partitions and counts partitions not started', () => {
    const summary = summarizeLag(computeLag(source, positions));
    expect(summary).toEqual({
      totalRecords: 325,
      maxPartitionRecords: 200,
      partitions: 5,
      partitionsBehind: 3,
      partitionsNotStarted: 1,
      topics: 2,
      worst: [
        { topic: 'orders.created', partition: 0, lag: 200 },
        { topic: 'payments.settled', partition: 0, lag: 100 },
        { topic: 'orders.created', partition: 3, lag: 25 },
      ],
    });
  });

  it('reports no lag for an empty partition MM2 never saw', () => {
    expect(computeLag([{ topic: 't', partition: 0, start: 0, end: 0 }], new Map())).toEqual([
      { topic: 't', partition: 0, start: 0, end: 0, next: null, lag: 0, state: 'empty' },
    ]);
  });
});

describe('lag counted from where MM2 starts (baseline)', () => {
  const at = (ends: number[], start = 0) =>
    ends.map((end, partition) => ({ topic: 'orders', partition, start, end }));
  // Four partitions with 3,000 records each retained when the task starts.
  const atStart = at([3000, 3000, 3000, 3000]);

  it('records the log start forward and the log end in reverse', () => {
    expect(extendBaseline({}, 'forward', at([3000, 10], 5))).toEqual({ orders: [5, 5] });
    expect(extendBaseline({}, 'reverse', at([3000, 10], 5))).toEqual({ orders: [3000, 10] });
  });

  it('reverse: idle partitions without an MM2 position have no lag', () => {
    const baseline = extendBaseline({}, 'reverse', atStart);
    const summary = summarizeLag(computeLag(atStart, new Map(), baseline));
    expect(summary.totalRecords).toBe(0);
    expect(summary.partitionsNotStarted).toBe(4);
  });

  it('reverse: with new records on 1 of 4 partitions only the new, uncopied ones count', () => {
    const baseline = extendBaseline({}, 'reverse', atStart);
    const now = at([3000, 3250, 3000, 3000]);
    // Before MM2 copied anything: the 250 new records.
    expect(summarizeLag(computeLag(now, new Map(), baseline)).totalRecords).toBe(250);
    // MM2 copied up to 3199 on partition 1: 50 left, the idle partitions still count nothing.
    const positions = parseMirrorPositions([rec('orders', 1, 3199)], 'orders-v2');
    const lags = computeLag(now, positions, baseline);
    expect(lags.map((l) => l.lag)).toEqual([0, 50, 0, 0]);
  });

  it('forward: the retained history counts until MM2 copied it, idle or not', () => {
    const baseline = extendBaseline({}, 'forward', atStart);
    const positions = parseMirrorPositions([rec('orders', 1, 2999)], 'orders-v2');
    expect(computeLag(atStart, positions, baseline).map((l) => l.lag)).toEqual([3000, 0, 3000, 3000]);
  });

  it('gives a partition added during the run its baseline when first seen, and keeps known ones', () => {
    const reverse = extendBaseline({}, 'reverse', atStart);
    const grown = [...at([3100, 3000, 3000, 3000]), { topic: 'orders', partition: 4, start: 0, end: 40 }];
    const extended = extendBaseline(reverse, 'reverse', grown);
    expect(extended).toEqual({ orders: [3000, 3000, 3000, 3000, 40] });
    expect(extendBaseline(extended, 'reverse', grown)).toBe(extended);
    const later = [...at([3100, 3000, 3000, 3000]), { topic: 'orders', partition: 4, start: 0, end: 45 }];
    expect(computeLag(later, new Map(), extended).map((l) => l.lag)).toEqual([100, 0, 0, 0, 5]);
    // Forward, the added partition's retained records all count.
    const forward = extendBaseline(extendBaseline({}, 'forward', atStart), 'forward', grown);
    expect(computeLag(later, new Map(), forward).map((l) => l.lag)).toEqual([3100, 3000, 3000, 3000, 45]);
  });

  it('still counts only retained records when retention passed the baseline', () => {
    const lags = computeLag(at([3000], 2900), new Map(), { orders: [100] });
    expect(lags[0]!.lag).toBe(100);
  });
});
