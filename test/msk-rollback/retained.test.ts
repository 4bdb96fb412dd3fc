import { describe, expect, it } from 'vitest';
import { type ReplicaLogSize, retainedBytes } from '../../lambdas/msk-rollback/retained.ts';

const replica = (
  broker: number,
  topic: string,
  partition: number,
  bytes: number,
  future = false,
): ReplicaLogSize => ({ broker, logDir: `/kafka/datalogs-${broker}`, topic, partition, bytes, future });

describe('retainedBytes', () => {
  const selected = [
    { topic: 'orders', partition: 0 },
    { topic: 'orders', partition: 1 },
  ];

  it('counts each partition once, at its largest current replica, and every replica for the disk', () => {
    // Leader on broker 1, followers trailing by a batch.
    const sizes = [
      replica(1, 'orders', 0, 1_000),
      replica(2, 'orders', 0, 990),
      replica(3, 'orders', 0, 1_000),
      replica(2, 'orders', 1, 500),
      replica(3, 'orders', 1, 480),
    ];
    expect(retainedBytes(selected, sizes)).toEqual({
      bytes: 1_500,
      replicaBytes: 3_970,
      partitionsWithoutSize: 0,
    });
  });

  it('leaves out future replicas and partitions that were not selected', () => {
    const sizes = [
      replica(1, 'orders', 0, 1_000),
      replica(1, 'orders', 0, 4_000, true),
      replica(1, 'orders', 1, 10),
      replica(1, 'orders', 2, 7_000),
      replica(1, 'audit', 0, 9_000),
    ];
    expect(retainedBytes(selected, sizes)).toEqual({
      bytes: 1_010,
      replicaBytes: 1_010,
      partitionsWithoutSize: 0,
    });
  });

  it('says how many selected partitions no broker reported, and counts an empty log as sized', () => {
    expect(retainedBytes(selected, [replica(1, 'orders', 1, 0)])).toEqual({
      bytes: 0,
      replicaBytes: 0,
      partitionsWithoutSize: 1,
    });
    expect(retainedBytes(selected, [])).toEqual({ bytes: 0, replicaBytes: 0, partitionsWithoutSize: 2 });
  });

  it('keeps topics apart whose names could run together with a partition number', () => {
    const sel = [
      { topic: 'a1', partition: 2 },
      { topic: 'a', partition: 12 },
    ];
    expect(retainedBytes(sel, [replica(1, 'a1', 2, 5), replica(1, 'a', 12, 7)]).bytes).toBe(12);
    expect(retainedBytes(sel, [replica(1, 'a1', 2, 5)]).partitionsWithoutSize).toBe(1);
  });
});
