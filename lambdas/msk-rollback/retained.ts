/**
 * What a source retains in bytes, from the brokers' log directories (Kafka's DescribeLogDirs): the
 * figure a dry run reports beside the retained record count, so an operator can tell a 2 GiB copy
 * from a 2 TiB one before starting MM2.
 *
 * A partition's size is the largest of its current replicas (the leader's log is the longest; a
 * follower may trail it by a few batches); `replicaBytes` adds up every replica, i.e. the disk the
 * selection takes on the source. Future replicas (a reassignment copying a log to another directory)
 * are left out of both. A selected partition no broker reported (a broker or a log directory that did
 * not answer) is counted in `partitionsWithoutSize`, so a partial figure never reads as a whole one.
 */

/** One replica's log as a broker reports it. */
export interface ReplicaLogSize {
  readonly broker: number;
  readonly logDir: string;
  readonly topic: string;
  readonly partition: number;
  readonly bytes: number;
  /** A future replica (being moved between log directories): not yet the partition's data. */
  readonly future: boolean;
}

/** The source's retained bytes for the selected partitions. */
export interface RetainedBytes {
  /** Sum over partitions of their largest current replica: the data MM2 would copy forward. */
  readonly bytes: number;
  /** Sum of every current replica: what the selection takes on the source's disks. */
  readonly replicaBytes: number;
  /** Selected partitions that no broker reported a size for. */
  readonly partitionsWithoutSize: number;
}

/**
 * Sizes the selected partitions.
 * @param selected the partitions the rollback replicates
 * @param replicas what the brokers reported (any topics; others are ignored)
 */
export function retainedBytes(
  selected: readonly { topic: string; partition: number }[],
  replicas: readonly ReplicaLogSize[],
): RetainedBytes {
  const key = (topic: string, partition: number) => `${partition}\u0000${topic}`;
  const largest = new Map<string, number>();
  for (const s of selected) largest.set(key(s.topic, s.partition), -1);
  let replicaBytes = 0;
  for (const r of replicas) {
    const k = key(r.topic, r.partition);
    const current = largest.get(k);
    if (current === undefined || r.future) continue;
    replicaBytes += r.bytes;
    if (r.bytes > current) largest.set(k, r.bytes);
  }
  let bytes = 0;
  let partitionsWithoutSize = 0;
  for (const size of largest.values()) {
    if (size < 0) partitionsWithoutSize++;
    else bytes += size;
  }
  return { bytes, replicaBytes, partitionsWithoutSize };
}
