import { describe, expect, it } from 'vitest';
import {
  checkpointKey,
  checkpointsTopic,
  decodeCheckpoint,
  latestCheckpoints,
} from '../../lambdas/msk-rollback/checkpoints.ts';
import { checkpointKeyBytes, checkpointRecord, checkpointValueBytes } from './kafka-wire.ts';

describe('MM2 checkpoint records', () => {
  it('decodes the bytes Kafka writes for a checkpoint, field by field', () => {
    // new Checkpoint("billing", new TopicPartition("payments", 3), 2000, 1875, "").recordKey()/recordValue()
    const key = Buffer.from(
      '0007' +
        Buffer.from('billing').toString('hex') +
        '0008' +
        Buffer.from('payments').toString('hex') +
        '00000003',
      'hex',
    );
    const value = Buffer.from('0000' + '00000000000007d0' + '0000000000000753' + '0000', 'hex');
    expect(key).toEqual(
      checkpointKeyBytes({
        group: 'billing',
        topic: 'payments',
        partition: 3,
        upstreamOffset: 0,
        downstreamOffset: 0,
      }),
    );
    expect(decodeCheckpoint(key, value)).toEqual({
      group: 'billing',
      topic: 'payments',
      partition: 3,
      upstreamOffset: 2000,
      downstreamOffset: 1875,
      metadata: '',
    });
  });

  it('reads UTF-8 names, metadata and offsets beyond 32 bits', () => {
    const c = {
      group: 'grüppe-ü',
      topic: 'orders.created',
      partition: 11,
      upstreamOffset: 2 ** 40 + 7,
      downstreamOffset: 2 ** 33,
      metadata: 'committed by svc-1',
    };
    const { key, value } = checkpointRecord(c);
    expect(decodeCheckpoint(key, value)).toEqual(c);
  });

  it('refuses a value version it does not know and truncated records', () => {
    const c = { group: 'g', topic: 't', partition: 0, upstreamOffset: 1, downstreamOffset: 1 };
    expect(() => decodeCheckpoint(checkpointKeyBytes(c), checkpointValueBytes(c, 1))).toThrow(
      'checkpoint value of g on t-0 has version 1; this reader knows 0',
    );
    expect(() => decodeCheckpoint(checkpointKeyBytes(c), checkpointValueBytes(c).subarray(0, 12))).toThrow(
      'checkpoint value of g on t-0: offset needs 8 bytes at 10, only 2 left',
    );
    expect(() => decodeCheckpoint(checkpointKeyBytes(c).subarray(0, 8), checkpointValueBytes(c))).toThrow(
      'checkpoint key: partition needs 4 bytes at 6, only 2 left',
    );
  });

  it('keeps the latest checkpoint per group partition and honours tombstones', () => {
    const a = { group: 'g', topic: 't', partition: 0, upstreamOffset: 10, downstreamOffset: 9 };
    const latest = latestCheckpoints([
      checkpointRecord(a),
      checkpointRecord({ ...a, upstreamOffset: 20, downstreamOffset: 18 }),
      checkpointRecord({ ...a, partition: 1 }),
      { key: checkpointKeyBytes({ ...a, partition: 1 }), value: null },
      { key: null, value: checkpointValueBytes(a) },
    ]);
    expect([...latest.keys()]).toEqual([checkpointKey('g', 't', 0)]);
    expect(latest.get(checkpointKey('g', 't', 0))).toMatchObject({
      upstreamOffset: 20,
      downstreamOffset: 18,
    });
  });

  it('names the topic after the source alias, as MM2 replication policies do', () => {
    expect(checkpointsTopic('orders-v2')).toBe('orders-v2.checkpoints.internal');
  });
});
