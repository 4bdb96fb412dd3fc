/**
 * MirrorMaker 2's checkpoints: MM2's own record of how it translated each consumer group's committed
 * source offset to the target. MirrorCheckpointTask writes them to `<source alias>.checkpoints.internal`
 * on the target (the replication policy's `checkpointsTopic`, the same for Default and Identity policies).
 *
 * Wire format (Apache Kafka `connect/mirror-client/.../Checkpoint.java`, written with the
 * `org.apache.kafka.common.protocol.types` schemas, all big-endian):
 * - key: `group` STRING, `topic` STRING, `partition` INT32;
 * - value: header `version` INT16 (only 0 exists), then `upstreamOffset` INT64, `offset` INT64 (the
 *   downstream offset), `metadata` STRING;
 * - STRING is an INT16 byte length followed by that many UTF-8 bytes (never null in these schemas).
 *
 * Semantics (MirrorCheckpointTask, OffsetSyncStore): a checkpoint is emitted only when MM2 could
 * translate the group's committed source offset from an offset sync at or before it (never a negative
 * downstream offset), and only when it is more recent than the previous one; the latest record per key
 * is the one that counts (the topic is compacted). Group offset sync then commits `offset` to the target
 * group, unless the group has active members there or already holds an offset at or past it.
 *
 * Hand-written because no npm library reads MM2's internal topics; the format is three fixed schemas.
 */
import type { BinaryRecord } from './ports.ts';

/** One checkpoint: a group's committed source offset and MM2's translation of it on the target. */
export interface Checkpoint {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  /** The group's committed offset on the source that MM2 translated. */
  readonly upstreamOffset: number;
  /** The offset MM2 translated it to on the target (what group offset sync commits there). */
  readonly downstreamOffset: number;
  readonly metadata: string;
}

/** The only checkpoint value version Kafka has written so far. */
export const CHECKPOINT_VERSION = 0;

/** The checkpoints topic MM2 writes on the target for a source cluster alias. */
export function checkpointsTopic(sourceAlias: string): string {
  return `${sourceAlias}.checkpoints.internal`;
}

/** Key of a group's partition in maps of checkpoints. */
export function checkpointKey(group: string, topic: string, partition: number): string {
  return `${group}\u0000${topic}\u0000${partition}`;
}

/** Reads Kafka protocol types from a buffer, failing with the field that did not fit. */
class StructReader {
  private pos = 0;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private need(n: number, field: string): void {
    if (this.pos + n > this.bytes.byteLength)
      throw new Error(
        `${this.what}: ${field} needs ${n} bytes at ${this.pos}, only ${this.bytes.byteLength - this.pos} left`,
      );
  }

  int16(field: string): number {
    this.need(2, field);
    const v = this.view.getInt16(this.pos);
    this.pos += 2;
    return v;
  }

  int32(field: string): number {
    this.need(4, field);
    const v = this.view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }

  int64(field: string): number {
    this.need(8, field);
    const v = this.view.getBigInt64(this.pos);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
      throw new Error(`${this.what}: ${field} ${v} is beyond the integers this reader represents exactly`);
    return Number(v);
  }

  string(field: string): string {
    const length = this.int16(`${field} length`);
    if (length < 0) throw new Error(`${this.what}: ${field} length ${length} is negative`);
    this.need(length, field);
    const s = new TextDecoder('utf-8', { fatal: true }).decode(
      this.bytes.subarray(this.pos, this.pos + length),
    );
    this.pos += length;
    return s;
  }
}

/**
 * Decodes one record of the checkpoints topic.
 * @param key the record key
 * @param value the record value
 * @throws when the bytes are not a checkpoint of a known version
 */
export function decodeCheckpoint(key: Uint8Array, value: Uint8Array): Checkpoint {
  const k = new StructReader(key, 'checkpoint key');
  const group = k.string('group');
  const topic = k.string('topic');
  const partition = k.int32('partition');
  const v = new StructReader(value, `checkpoint value of ${group} on ${topic}-${partition}`);
  const version = v.int16('version');
  if (version !== CHECKPOINT_VERSION)
    throw new Error(
      `checkpoint value of ${group} on ${topic}-${partition} has version ${version}; this reader knows ${CHECKPOINT_VERSION}`,
    );
  const upstreamOffset = v.int64('upstreamOffset');
  const downstreamOffset = v.int64('offset');
  const metadata = v.string('metadata');
  return { group, topic, partition, upstreamOffset, downstreamOffset, metadata };
}

/**
 * The latest checkpoint per group partition, from the topic's records in log order (a tombstone removes
 * the key, as compaction would).
 * @param records the checkpoints topic, oldest first
 * @returns checkpoints by {@link checkpointKey}
 */
export function latestCheckpoints(records: Iterable<BinaryRecord>): Map<string, Checkpoint> {
  const latest = new Map<string, Checkpoint>();
  for (const { key, value } of records) {
    if (key === null) continue;
    if (value === null) {
      const k = new StructReader(key, 'checkpoint key');
      latest.delete(checkpointKey(k.string('group'), k.string('topic'), k.int32('partition')));
      continue;
    }
    const c = decodeCheckpoint(key, value);
    latest.set(checkpointKey(c.group, c.topic, c.partition), c);
  }
  return latest;
}
