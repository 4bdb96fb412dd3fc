/**
 * MirrorMaker 2 checkpoint records encoded byte for byte as Kafka's own serializer writes them, for tests
 * of the decoder: `Checkpoint.serializeKey()` / `serializeValue(0)` write `Schema.write` of
 * `KEY_SCHEMA` (group STRING, topic STRING, partition INT32) and of `HEADER_SCHEMA` (version INT16) then
 * `VALUE_SCHEMA_V0` (upstreamOffset INT64, offset INT64, metadata STRING) into a `ByteBuffer`, whose
 * default order is big-endian; `Type.STRING.write` is `putShort(utf8 length)` then the UTF-8 bytes,
 * `INT16/INT32/INT64` are `putShort/putInt/putLong` (apache/kafka, clients `protocol/types/Type.java`).
 * Written independently of the decoder under test, from the Java sources.
 */

/** A checkpoint as MM2 constructs it. */
export interface CheckpointFields {
  group: string;
  topic: string;
  partition: number;
  upstreamOffset: number;
  downstreamOffset: number;
  metadata?: string;
}

function string(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeInt16BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

function int16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(v);
  return b;
}

function int32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
}

function int64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(v));
  return b;
}

/** `Checkpoint.recordKey()`. */
export function checkpointKeyBytes(c: CheckpointFields): Buffer {
  return Buffer.concat([string(c.group), string(c.topic), int32(c.partition)]);
}

/** `Checkpoint.recordValue()` (version 0). */
export function checkpointValueBytes(c: CheckpointFields, version = 0): Buffer {
  return Buffer.concat([
    int16(version),
    int64(c.upstreamOffset),
    int64(c.downstreamOffset),
    string(c.metadata ?? ''),
  ]);
}

/** A checkpoint as a record of the checkpoints topic. */
export function checkpointRecord(c: CheckpointFields): { key: Buffer; value: Buffer } {
  return { key: checkpointKeyBytes(c), value: checkpointValueBytes(c) };
}
