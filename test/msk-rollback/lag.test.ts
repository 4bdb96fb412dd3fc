import { describe, expect, it } from 'vitest';
import {
  computeLag,
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
