/**
 * Ports of the MSK rollback handlers: what they need from AWS and Kafka, as interfaces. Adapters in
 * `adapters/` implement them with the AWS SDK; tests implement them in memory.
 */
import type { Sample } from '#shared/remote-write';
import type { ClusterFacts, IngressRule, RunningFlow } from './clusters.ts';
import type { PartitionOffsets, RawRecord } from './lag.ts';
import type { GroupOffset } from './offsets.ts';
import type { ReplicaLogSize } from './retained.ts';

/** A Kafka cluster seen through an admin client (and a plain reader for compacted topics). */
export interface KafkaAdmin {
  /** Topic names, internal topics included. */
  listTopics(): Promise<string[]>;
  /**
   * Start and end offsets of every partition of a topic; [] when the topic does not exist. With
   * `isolation: 'read_committed'` the end is the last stable offset (what a read_committed reader
   * can reach: a drained transactional partition reads lag 0 against it).
   */
  fetchTopicOffsets(topic: string, query?: OffsetQuery): Promise<PartitionOffsets[]>;
  /**
   * Topic configs that bear on counting records (`cleanup.policy`, `retention.ms`,
   * `retention.bytes`, `min.compaction.lag.ms`, ...), by topic; absent topics are left out.
   * Optional until the adapter implements it (issue 20).
   */
  describeTopicConfigs?(topics: readonly string[]): Promise<Map<string, Readonly<Record<string, string>>>>;
  /**
   * Committed data records (control markers and aborted records not counted) of one partition in
   * the offset range [from, to), read without a consumer group and without committing, within the
   * limits; `complete: false` when a limit stopped the count. Optional until the adapter has it.
   */
  countRecords?(range: PartitionRange, limits: ReadLimits): Promise<RecordCount>;
  /**
   * Up to `max` committed records of one partition from offset `from`, oldest first, with their
   * offsets, keys, values and headers as bytes; read-only (no group, no commit). Optional until the
   * adapter has it.
   */
  readPartition?(
    topic: string,
    partition: number,
    from: number,
    max: number,
    limits: ReadLimits,
  ): Promise<PartitionRecord[]>;
  /** Consumer group ids. */
  listGroups(): Promise<string[]>;
  /** Group states (`Empty`, `Stable`, ...), for existing groups only. */
  describeGroups(groups: readonly string[]): Promise<Map<string, string>>;
  /** Committed offsets of a group, optionally only for some topics. */
  fetchGroupOffsets(group: string, topics?: readonly string[]): Promise<GroupOffset[]>;
  /** Every record of a (compacted) topic from its start to its current end, oldest first; [] if absent. */
  readTopic(topic: string): Promise<RawRecord[]>;
  /** As {@link readTopic}, with keys and values as bytes (MM2's checkpoints are binary). */
  readTopicBinary(topic: string): Promise<BinaryRecord[]>;
  /** Log sizes of the replicas of these partitions on every broker (Kafka's DescribeLogDirs). */
  describeReplicaLogSizes(
    partitions: readonly { topic: string; partitions: readonly number[] }[],
  ): Promise<ReplicaLogSize[]>;
  /** Closes connections. */
  close(): Promise<void>;
}

/** How offsets are read: `read_committed` gives the last stable offset as the end. */
export interface OffsetQuery {
  readonly isolation?: 'read_uncommitted' | 'read_committed';
}

/** An offset range [from, to) of one partition. */
export interface PartitionRange {
  readonly topic: string;
  readonly partition: number;
  readonly from: number;
  readonly to: number;
}

/** Bounds on a read: bytes fetched and wall time. */
export interface ReadLimits {
  readonly maxBytes: number;
  readonly maxMillis: number;
}

/** What {@link KafkaAdmin.countRecords} found. */
export interface RecordCount {
  /** Committed data records seen in the range (so far, when not complete). */
  readonly records: number;
  /** Bytes of keys and values of those records. */
  readonly bytes: number;
  /** The offset the count reached (exclusive); equals the range's `to` when complete. */
  readonly reached: number;
  readonly complete: boolean;
}

/** One record of a partition, as bytes. */
export interface PartitionRecord {
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: readonly (readonly [string, Uint8Array | null])[];
}

/** A record with its key and value as bytes (null value = tombstone). */
export interface BinaryRecord {
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
}

/** Opens an admin client on a cluster's IAM bootstrap brokers. */
export type KafkaAdminFactory = (bootstrapBrokers: string) => Promise<KafkaAdmin>;

/** MSK control plane facts of one cluster (no Kafka connection). */
export interface MskFacts {
  readonly found: boolean;
  readonly state?: string;
  readonly clusterType?: 'PROVISIONED' | 'SERVERLESS';
  readonly kafkaVersion?: string;
  readonly iamEnabled: boolean;
  readonly subnetIds: readonly string[];
  readonly securityGroupIds: readonly string[];
}

/** Amazon MSK. */
export interface MskApi {
  describeCluster(arn: string): Promise<MskFacts>;
}

/** Amazon EC2 network facts. */
export interface NetworkApi {
  /** VPC and CIDR of each subnet. */
  describeSubnets(ids: readonly string[]): Promise<{ id: string; vpcId: string; cidr: string }[]>;
  /** Inbound rules of security groups. */
  describeIngress(groupIds: readonly string[]): Promise<IngressRule[]>;
}

/** AWS Step Functions: the flows other executions of this state machine replicate. */
export interface ExecutionsApi {
  runningFlows(stateMachineArn: string, exceptExecutionArn: string): Promise<RunningFlow[]>;
}

/** An ECS task as the rollback needs it. */
export interface TaskInfo {
  readonly taskArn: string;
  readonly lastStatus?: string;
  readonly desiredStatus?: string;
  readonly stoppedReason?: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** Amazon ECS. */
export interface EcsApi {
  describeTask(cluster: string, taskArn: string): Promise<TaskInfo | undefined>;
  /** Tasks of the cluster not yet stopped (desired status RUNNING), with their tags. */
  listLiveTasks(cluster: string): Promise<TaskInfo[]>;
  stopTask(cluster: string, taskArn: string, reason: string): Promise<void>;
}

/** Where the rendered MM2 config is stored for the task. */
export interface ConfigStore {
  /** Stores an object and returns its `s3://` URI. */
  put(key: string, body: string, contentType: string): Promise<string>;
}

/** The alert topic. */
export interface Notifier {
  publish(subject: string, message: string): Promise<void>;
}

/** Where lag samples go (AMP remote-write). */
export interface SampleSink {
  write(samples: Sample[]): Promise<void>;
}

/** Re-export for adapters and handlers. */
export type { ClusterFacts, RunningFlow };
