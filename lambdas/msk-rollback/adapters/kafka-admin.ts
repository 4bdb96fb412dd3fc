/**
 * Kafka admin adapter for MSK with IAM auth, on kafkajs 2.2.4.
 *
 * - Auth: SASL/OAUTHBEARER with an MSK IAM token from AWS's `aws-msk-iam-sasl-signer-js` (a
 *   SigV4-presigned `kafka-cluster:Connect` URL, base64url-encoded, its lifetime capped by the
 *   credentials' expiry), signed with the Lambda role's credentials; kafkajs asks for a fresh token
 *   on every broker connection.
 * - Region: taken from the broker host names (`b-1.NAME.ID.c2.kafka.REGION.amazonaws.com:9098`,
 *   serverless `boot-ID.c1.kafka-serverless.REGION.amazonaws.com:9098`) unless passed in.
 * - Port mapping: listTopics -> `admin.listTopics()`; fetchTopicOffsets -> `admin.fetchTopicOffsets`
 *   (low/high; [] on UNKNOWN_TOPIC_OR_PARTITION); listGroups/describeGroups -> `admin.listGroups()` /
 *   `admin.describeGroups(ids)` (`Dead` = no such group); fetchGroupOffsets -> `admin.fetchOffsets`
 *   on the requested topics that exist (offset -1, "no commit", skipped); readTopic -> a consumer on a
 *   throwaway group (`observatory-read-<uuid>`, no commits; readTopicBinary keeps the bytes) reading from the beginning until every
 *   partition reaches the end offsets fetched first, bounded by a timeout, then the group is deleted
 *   (best effort: it holds no offsets, so the broker drops it anyway).
 * - describeReplicaLogSizes -> DescribeLogDirs, which kafkajs 2.2.4 does not implement: a second client,
 *   `@platformatic/kafka` (pure JavaScript, negotiates DescribeLogDirs v0-v4 with each broker), opened
 *   only when a dry run asks, with the same brokers, TLS and IAM token; loaded with `import()`, so it is
 *   off every function's cold path. Kafka authorizes DescribeLogDirs as DESCRIBE on the cluster,
 *   which MSK's IAM access control grants as `kafka-cluster:DescribeCluster`.
 * - kafkajs logs go to the Powertools logger, warnings and errors only.
 * The Lambda role has the kafka-cluster actions this needs (see `lib/msk-rollback/kafka-iam.ts`).
 */
import { randomUUID } from 'node:crypto';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { generateAuthTokenFromCredentialsProvider } from 'aws-msk-iam-sasl-signer-js';
import {
  type Admin,
  type ConsumerConfig,
  type ConsumerCrashEvent,
  type ConsumerEndBatchProcessEvent,
  type ConsumerRunConfig,
  type ConsumerSubscribeTopics,
  Kafka,
  type KafkaConfig,
  type LogEntry,
  logLevel,
  type RetryOptions,
} from 'kafkajs';
import { READ_GROUP_PREFIX } from '#contracts/msk-rollback';
import { logger } from '#shared/powertools';
import type { BinaryRecord, KafkaAdmin, KafkaAdminFactory } from '../ports.ts';
import type { ReplicaLogSize } from '../retained.ts';

/** Credentials as the SDK resolves them; `expiration` caps the token's lifetime. */
export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

/** An MSK IAM auth token and when it expires. */
export interface MskIamToken {
  readonly token: string;
  readonly expiresAtMs: number;
}

/**
 * Generates an MSK IAM SASL/OAUTHBEARER token for a region with AWS's own signer library,
 * `aws-msk-iam-sasl-signer-js`: a SigV4-presigned `kafka-cluster:Connect` URL, base64url-encoded,
 * valid for 900 s or until the credentials expire, whichever comes first.
 * @param region the cluster's region
 * @param credentials static credentials or a provider (default: the SDK's default provider chain)
 */
export async function mskIamAuthToken(
  region: string,
  credentials: SigningCredentials | (() => Promise<SigningCredentials>) = defaultProvider(),
): Promise<MskIamToken> {
  const { token, expiryTime } = await generateAuthTokenFromCredentialsProvider({
    region,
    awsCredentialsProvider: typeof credentials === 'function' ? credentials : async () => credentials,
  });
  return { token, expiresAtMs: expiryTime };
}

const MSK_HOST = /\.kafka(?:-serverless)?\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(?:\.cn)?(?::\d+)?$/;

/**
 * Derives the AWS region from MSK bootstrap broker host names.
 * @param bootstrapBrokers comma-separated `host:port` list
 * @throws when a host is not an MSK broker name or the hosts disagree on the region
 */
export function regionOfBrokers(bootstrapBrokers: string): string {
  const regions = new Set<string>();
  for (const broker of splitBrokers(bootstrapBrokers)) {
    const region = MSK_HOST.exec(broker)?.[1];
    if (!region)
      throw new Error(`cannot derive the region from broker "${broker}": pass the region explicitly`);
    regions.add(region);
  }
  if (regions.size !== 1)
    throw new Error(
      `bootstrap brokers "${bootstrapBrokers}" span regions ${[...regions].join(', ') || 'none'}`,
    );
  return [...regions][0] as string;
}

function splitBrokers(bootstrapBrokers: string): string[] {
  return bootstrapBrokers
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
}

/** The kafkajs admin calls this adapter makes. */
export type KafkaJsAdmin = Pick<
  Admin,
  | 'connect'
  | 'disconnect'
  | 'listTopics'
  | 'fetchTopicOffsets'
  | 'listGroups'
  | 'describeGroups'
  | 'fetchOffsets'
  | 'deleteGroups'
>;

/** The kafkajs consumer calls this adapter makes (`Consumer` satisfies it). */
export interface KafkaJsConsumer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  subscribe(subscription: ConsumerSubscribeTopics): Promise<void>;
  run(config?: ConsumerRunConfig): Promise<void>;
  pause(topics: Array<{ topic: string; partitions?: number[] }>): void;
  on(
    eventName: 'consumer.end_batch_process',
    listener: (event: ConsumerEndBatchProcessEvent) => void,
  ): () => void;
  on(eventName: 'consumer.crash', listener: (event: ConsumerCrashEvent) => void): () => void;
}

/** The part of a kafkajs `Kafka` client this adapter uses. */
export interface KafkaJsClient {
  admin(): KafkaJsAdmin;
  consumer(config: ConsumerConfig): KafkaJsConsumer;
}

/** What DescribeLogDirs returns per broker, as `@platformatic/kafka`'s `Admin.describeLogDirs` gives it. */
export interface BrokerLogDirs {
  readonly broker: number;
  readonly results: readonly {
    readonly logDir: string;
    readonly topics: readonly {
      readonly name: string;
      readonly partitions: readonly {
        readonly partitionIndex: number;
        readonly partitionSize: bigint;
        readonly isFutureKey: boolean;
      }[];
    }[];
  }[];
}

/** The `@platformatic/kafka` admin calls this adapter makes. */
export interface LogDirsClient {
  describeLogDirs(options: {
    topics: { name: string; partitions: number[] }[];
  }): Promise<readonly BrokerLogDirs[]>;
  close(): Promise<void>;
}

/** How the DescribeLogDirs client connects (a subset of `@platformatic/kafka`'s client options). */
export interface LogDirsClientConfig {
  readonly clientId: string;
  readonly bootstrapBrokers: string[];
  readonly tls: Record<string, never>;
  readonly sasl: { readonly mechanism: 'OAUTHBEARER'; readonly token: () => Promise<string> };
  readonly connectTimeout: number;
  readonly requestTimeout: number;
  readonly retries: number;
}

/**
 * The default {@link LogDirsClient}: `@platformatic/kafka`'s `Admin`, loaded on first use, in strict mode
 * (the library validates its options and each call's before it touches the network).
 */
export async function platformaticLogDirsClient(config: LogDirsClientConfig): Promise<LogDirsClient> {
  const { Admin } = await import('@platformatic/kafka');
  return new Admin({
    ...config,
    strict: true,
    bootstrapBrokers: [...config.bootstrapBrokers],
    tls: {},
    sasl: { ...config.sasl },
  });
}

/** The replicas' log sizes of a DescribeLogDirs answer, bytes as safe integers. */
export function replicaLogSizes(answers: readonly BrokerLogDirs[]): ReplicaLogSize[] {
  const out: ReplicaLogSize[] = [];
  for (const { broker, results } of answers)
    for (const { logDir, topics } of results)
      for (const { name, partitions } of topics)
        for (const p of partitions) {
          const bytes = Number(p.partitionSize);
          if (!Number.isSafeInteger(bytes) || bytes < 0)
            throw new Error(
              `broker ${broker} reports ${p.partitionSize} bytes for ${name}/${p.partitionIndex}`,
            );
          out.push({
            broker,
            logDir,
            topic: name,
            partition: p.partitionIndex,
            bytes,
            future: p.isFutureKey,
          });
        }
  return out;
}

/** Options of {@link kafkaAdminFactory}. */
export interface KafkaAdminOptions {
  /**
   * Builds the kafkajs client (tests hand in a fake).
   * @default - `new Kafka(config)`
   */
  readonly kafka?: (config: KafkaConfig) => KafkaJsClient;
  /**
   * Builds the DescribeLogDirs client (tests hand in a fake).
   * @default - `@platformatic/kafka`'s `Admin`, loaded on first use
   */
  readonly logDirs?: (config: LogDirsClientConfig) => Promise<LogDirsClient>;
  /**
   * Region of the clusters.
   * @default - derived from the broker host names
   */
  readonly region?: string;
  /**
   * Credentials that sign the IAM auth token.
   * @default - the SDK's default provider chain
   */
  readonly credentials?: SigningCredentials | (() => Promise<SigningCredentials>);
  /** @default 5000 */
  readonly connectionTimeoutMs?: number;
  /** @default 15000 */
  readonly requestTimeoutMs?: number;
  /** @default - 3 retries, 300 ms initial, 5 s at most */
  readonly retry?: RetryOptions;
  /**
   * How long readTopic may take to reach the end offsets before it fails.
   * @default 60000
   */
  readonly readTimeoutMs?: number;
}

/** kafkajs log lines to the Powertools logger; kafkajs only emits WARN and ERROR at the level set. */
export function powertoolsLogCreator() {
  return ({ namespace, level, log }: LogEntry): void => {
    const { message, timestamp: _timestamp, logger: _logger, ...extra } = log;
    const fields = { kafkajs: { namespace, ...extra } };
    if (level === logLevel.ERROR) logger.error(message, fields);
    else if (level === logLevel.WARN) logger.warn(message, fields);
  };
}

/** True when a kafkajs error (or what it wraps, e.g. retries exceeded) has the given protocol type. */
function hasErrorType(e: unknown, type: string): boolean {
  for (let cur: unknown = e, depth = 0; cur instanceof Error && depth < 5; depth++) {
    if ((cur as { type?: unknown }).type === type) return true;
    cur = cur.cause;
  }
  return false;
}

function utf8(bytes: Uint8Array | null): string | null {
  return bytes === null
    ? null
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

function toOffset(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`offset "${value}" of ${what} is not a safe integer`);
  return n;
}

/**
 * Builds a {@link KafkaAdminFactory} on kafkajs.
 * @param options client factory, region, credentials and bounds
 */
export function kafkaAdminFactory(options: KafkaAdminOptions = {}): KafkaAdminFactory {
  const makeKafka = options.kafka ?? ((config: KafkaConfig) => new Kafka(config));
  const readTimeoutMs = options.readTimeoutMs ?? 60_000;
  return async (bootstrapBrokers) => {
    const brokers = splitBrokers(bootstrapBrokers);
    if (brokers.length === 0) throw new Error(`bootstrap brokers "${bootstrapBrokers}" list no broker`);
    const region = options.region ?? regionOfBrokers(bootstrapBrokers);
    const credentials = options.credentials ?? defaultProvider();
    const kafka = makeKafka({
      clientId: 'infra-observatory-mm2',
      brokers,
      ssl: true,
      sasl: {
        mechanism: 'oauthbearer',
        oauthBearerProvider: async () => ({ value: (await mskIamAuthToken(region, credentials)).token }),
      },
      connectionTimeout: options.connectionTimeoutMs ?? 5_000,
      requestTimeout: options.requestTimeoutMs ?? 15_000,
      retry: options.retry ?? { retries: 3, initialRetryTime: 300, maxRetryTime: 5_000 },
      logLevel: logLevel.WARN,
      logCreator: powertoolsLogCreator,
    });
    const admin = kafka.admin();
    await admin.connect();
    const consumers = new Set<KafkaJsConsumer>();
    let logDirs: Promise<LogDirsClient> | undefined;

    const fetchTopicOffsets = async (topic: string) => {
      try {
        const offsets = await admin.fetchTopicOffsets(topic);
        return offsets
          .map((p) => ({
            topic,
            partition: p.partition,
            start: toOffset(p.low, `${topic}/${p.partition}`),
            end: toOffset(p.high, `${topic}/${p.partition}`),
          }))
          .sort((a, b) => a.partition - b.partition);
      } catch (e) {
        if (hasErrorType(e, 'UNKNOWN_TOPIC_OR_PARTITION')) return [];
        throw e;
      }
    };

    const readTopicBinary = async (topic: string): Promise<BinaryRecord[]> => {
      const pending = new Map<number, number>();
      for (const p of await fetchTopicOffsets(topic)) if (p.end > p.start) pending.set(p.partition, p.end);
      if (pending.size === 0) return [];
      const ends = new Map(pending);
      const byPartition = new Map<number, BinaryRecord[]>([...pending.keys()].map((p) => [p, []]));
      const groupId = `${READ_GROUP_PREFIX}${randomUUID()}`;
      const consumer = kafka.consumer({ groupId });
      consumers.add(consumer);
      let timer: NodeJS.Timeout | undefined;
      try {
        const done = new Promise<void>((resolve, reject) => {
          // Progress comes from batch events, not messages: a batch of only control records or
          // aborted messages reaches no handler but still moves the partition forward.
          consumer.on('consumer.end_batch_process', ({ payload }) => {
            const end = pending.get(payload.partition);
            if (payload.topic !== topic || end === undefined) return;
            if (Number(payload.lastOffset) + 1 >= end) {
              pending.delete(payload.partition);
              consumer.pause([{ topic, partitions: [payload.partition] }]);
              if (pending.size === 0) resolve();
            }
          });
          consumer.on('consumer.crash', ({ payload }) => reject(payload.error));
          timer = setTimeout(
            () =>
              reject(
                new Error(
                  `reading topic ${topic} timed out after ${readTimeoutMs} ms: partitions ${[...pending.keys()].join(', ')} short of their end offsets`,
                ),
              ),
            readTimeoutMs,
          );
        });
        // Handled here so a timeout during connect is not an unhandled rejection; awaited below.
        done.catch(() => undefined);
        await consumer.connect();
        await consumer.subscribe({ topics: [topic], fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const end = ends.get(batch.partition);
            const out = byPartition.get(batch.partition);
            if (batch.topic !== topic || end === undefined || out === undefined) return;
            for (const m of batch.messages) {
              if (Number(m.offset) >= end) break;
              out.push({ key: m.key ?? null, value: m.value ?? null });
            }
          },
        });
        await done;
      } finally {
        clearTimeout(timer);
        await consumer.disconnect();
        consumers.delete(consumer);
        await admin.deleteGroups([groupId]).catch((e: unknown) =>
          logger.warn('could not delete the throwaway consumer group', {
            groupId,
            error: e instanceof Error ? e.message : String(e),
          }),
        );
      }
      return [...byPartition.keys()].sort((a, b) => a - b).flatMap((p) => byPartition.get(p) ?? []);
    };

    return {
      listTopics: () => admin.listTopics(),
      fetchTopicOffsets,
      listGroups: async () => (await admin.listGroups()).groups.map((g) => g.groupId),
      describeGroups: async (groups) => {
        if (groups.length === 0) return new Map();
        const { groups: described } = await admin.describeGroups([...groups]);
        // The broker answers `Dead` (no error) for a group it does not know.
        return new Map(described.filter((g) => g.state !== 'Dead').map((g) => [g.groupId, g.state]));
      },
      fetchGroupOffsets: async (group, topics) => {
        // kafkajs resolves each topic's partitions first and fails on a missing one: ask only for topics
        // that exist (all of them when none are named).
        const existing = await admin.listTopics();
        const wanted = topics ? topics.filter((t) => existing.includes(t)) : existing;
        if (wanted.length === 0) return [];
        const offsets = await admin.fetchOffsets({ groupId: group, topics: [...wanted] });
        return offsets.flatMap(({ topic, partitions }) =>
          partitions
            .filter((p) => p.offset !== '-1')
            .map((p) => ({
              topic,
              partition: p.partition,
              offset: toOffset(p.offset, `${group} on ${topic}/${p.partition}`),
            })),
        );
      },
      readTopic: async (topic) =>
        (await readTopicBinary(topic)).map(({ key, value }) => ({ key: utf8(key), value: utf8(value) })),
      readTopicBinary,
      describeReplicaLogSizes: async (partitions) => {
        if (partitions.length === 0) return [];
        logDirs ??= (options.logDirs ?? platformaticLogDirsClient)({
          clientId: 'infra-observatory-mm2',
          bootstrapBrokers: brokers,
          tls: {},
          sasl: {
            mechanism: 'OAUTHBEARER',
            token: async () => (await mskIamAuthToken(region, credentials)).token,
          },
          connectTimeout: options.connectionTimeoutMs ?? 5_000,
          requestTimeout: options.requestTimeoutMs ?? 15_000,
          retries: 3,
        });
        const answers = await (await logDirs).describeLogDirs({
          topics: partitions.map((p) => ({ name: p.topic, partitions: [...p.partitions] })),
        });
        return replicaLogSizes(answers);
      },
      close: async () => {
        await Promise.allSettled([...consumers].map((c) => c.disconnect()));
        consumers.clear();
        const dirs = logDirs;
        logDirs = undefined;
        await Promise.allSettled([dirs?.then((c) => c.close())]);
        await admin.disconnect();
      },
    } satisfies KafkaAdmin;
  };
}

/** Opens a kafkajs admin client on MSK IAM bootstrap brokers (region from the host names). */
export const createKafkaAdmin: KafkaAdminFactory = kafkaAdminFactory();
