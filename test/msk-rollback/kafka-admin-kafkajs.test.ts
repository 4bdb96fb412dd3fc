import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { generateAuthTokenFromCredentialsProvider } from 'aws-msk-iam-sasl-signer-js';
import {
  type Batch,
  type ConsumerConfig,
  type ConsumerCrashEvent,
  type ConsumerEndBatchProcessEvent,
  type ConsumerRunConfig,
  type ConsumerSubscribeTopics,
  type DeleteGroupsResult,
  type GroupDescriptions,
  type GroupOverview,
  type KafkaConfig,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  type KafkaMessage,
  logLevel,
  type SeekEntry,
} from 'kafkajs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type BrokerLogDirs,
  type KafkaJsAdmin,
  type KafkaJsClient,
  type KafkaJsConsumer,
  kafkaAdminFactory,
  type LogDirsClient,
  type LogDirsClientConfig,
  platformaticLogDirsClient,
  powertoolsLogCreator,
  regionOfBrokers,
} from '../../lambdas/msk-rollback/adapters/kafka-admin.ts';
import { logger } from '../../lambdas/shared/powertools.ts';

const BROKERS =
  'b-1.orders.abc123.c2.kafka.eu-west-1.amazonaws.com:9098,b-2.orders.abc123.c2.kafka.eu-west-1.amazonaws.com:9098';
const CREDENTIALS = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'session-token',
};

/** The error kafkajs raises for a protocol error code (as `createErrorFromCode` builds it). */
function protocolError(type: string, code: number, message: string): KafkaJSProtocolError {
  return new KafkaJSProtocolError(Object.assign(new Error(message), { type, code, retriable: true }));
}

/** What admin.fetchTopicOffsets rejects with for a missing topic once its retries are spent. */
function unknownTopicAfterRetries(): Error {
  const cause = protocolError(
    'UNKNOWN_TOPIC_OR_PARTITION',
    3,
    'This server does not host this topic-partition',
  );
  return new KafkaJSNumberOfRetriesExceeded(cause, { retryCount: 3, retryTime: 1200 });
}

interface FakeRecord {
  offset: number;
  key: string | Buffer | null;
  value: string | Buffer | null;
  /** A transaction marker: fetched, never handed to eachBatch. */
  control?: boolean;
}

/** A partition's log: records from `low`, plus records that producers append once a consumer connects. */
interface FakePartition {
  low: number;
  records: FakeRecord[];
  late?: FakeRecord[];
  /** The broker stops serving this partition from this offset on (a stuck leader). */
  stallAt?: number;
}

/** A cluster as kafkajs' admin and consumer see it. */
class FakeKafka implements KafkaJsClient {
  readonly topics = new Map<string, FakePartition[]>();
  readonly groups = new Map<
    string,
    { state: 'Stable' | 'Empty'; commits: Map<string, Map<number, number>> }
  >();
  readonly configs: KafkaConfig[] = [];
  readonly consumers: FakeConsumer[] = [];
  readonly adminCalls: string[] = [];
  readonly deletedGroups: string[] = [];
  adminConnects = 0;
  adminDisconnects = 0;
  fetchTopicOffsetsError: Error | undefined;
  deleteGroupsError: Error | undefined;

  high(p: FakePartition): number {
    return p.records.length === 0 ? p.low : (p.records.at(-1)?.offset ?? p.low) + 1;
  }

  admin(): KafkaJsAdmin {
    return {
      connect: async () => {
        this.adminConnects++;
      },
      disconnect: async () => {
        this.adminDisconnects++;
      },
      listTopics: async () => [...this.topics.keys()],
      fetchTopicOffsets: async (topic): Promise<Array<SeekEntry & { high: string; low: string }>> => {
        this.adminCalls.push(`fetchTopicOffsets ${topic}`);
        if (this.fetchTopicOffsetsError) throw this.fetchTopicOffsetsError;
        const partitions = this.topics.get(topic);
        if (!partitions) throw unknownTopicAfterRetries();
        // kafkajs lists partitions in metadata order, not necessarily sorted.
        return partitions
          .map((p, partition) => ({
            partition,
            offset: String(this.high(p)),
            high: String(this.high(p)),
            low: String(p.low),
          }))
          .reverse();
      },
      listGroups: async (): Promise<{ groups: GroupOverview[] }> => ({
        groups: [...this.groups.keys()].map((groupId) => ({ groupId, protocolType: 'consumer' })),
      }),
      describeGroups: async (ids): Promise<GroupDescriptions> => ({
        groups: ids.map((groupId) => {
          const g = this.groups.get(groupId);
          return g
            ? {
                groupId,
                members: [],
                protocol: 'RoundRobinAssigner',
                protocolType: 'consumer',
                state: g.state,
              }
            : { groupId, members: [], protocol: '', protocolType: '', state: 'Dead' };
        }),
      }),
      fetchOffsets: async ({ groupId, topics }) => {
        this.adminCalls.push(`fetchOffsets ${groupId} ${(topics ?? []).join(',')}`);
        const commits = this.groups.get(groupId)?.commits;
        return (topics ?? []).map((topic) => {
          const partitions = this.topics.get(topic);
          if (!partitions) throw unknownTopicAfterRetries();
          return {
            topic,
            partitions: partitions.map((_, partition) => ({
              partition,
              offset: String(commits?.get(topic)?.get(partition) ?? -1),
              metadata: null,
            })),
          };
        });
      },
      deleteGroups: async (ids): Promise<DeleteGroupsResult[]> => {
        if (this.deleteGroupsError) throw this.deleteGroupsError;
        this.deletedGroups.push(...ids);
        return ids.map((groupId) => ({ groupId, errorCode: 0 }));
      },
    };
  }

  consumer(config: ConsumerConfig): KafkaJsConsumer {
    const c = new FakeConsumer(this, config);
    this.consumers.push(c);
    return c;
  }
}

/** A kafkajs consumer: fetches batches of two records per partition, emits batch events. */
class FakeConsumer implements KafkaJsConsumer {
  subscription: ConsumerSubscribeTopics | undefined;
  runConfig: ConsumerRunConfig | undefined;
  readonly paused = new Set<number>();
  connected = false;
  disconnects = 0;
  private readonly endBatch: ((e: ConsumerEndBatchProcessEvent) => void)[] = [];
  private readonly crash: ((e: ConsumerCrashEvent) => void)[] = [];

  constructor(
    private readonly kafka: FakeKafka,
    readonly config: ConsumerConfig,
  ) {}

  async connect() {
    this.connected = true;
    for (const partitions of this.kafka.topics.values())
      for (const p of partitions) p.records.push(...(p.late ?? []));
  }

  async disconnect() {
    this.connected = false;
    this.disconnects++;
  }

  async subscribe(subscription: ConsumerSubscribeTopics) {
    this.subscription = subscription;
  }

  pause(topics: Array<{ topic: string; partitions?: number[] }>) {
    for (const t of topics) for (const p of t.partitions ?? []) this.paused.add(p);
  }

  on(
    eventName: 'consumer.end_batch_process',
    listener: (event: ConsumerEndBatchProcessEvent) => void,
  ): () => void;
  on(eventName: 'consumer.crash', listener: (event: ConsumerCrashEvent) => void): () => void;
  on(
    eventName: string,
    listener: ((event: ConsumerEndBatchProcessEvent) => void) | ((event: ConsumerCrashEvent) => void),
  ): () => void {
    if (eventName === 'consumer.end_batch_process')
      this.endBatch.push(listener as (event: ConsumerEndBatchProcessEvent) => void);
    else this.crash.push(listener as (event: ConsumerCrashEvent) => void);
    return () => undefined;
  }

  async run(config?: ConsumerRunConfig) {
    this.runConfig = config;
    setImmediate(() => void this.fetchLoop());
  }

  private async fetchLoop() {
    const topic = String(this.subscription?.topics[0]);
    const partitions = this.kafka.topics.get(topic) ?? [];
    const positions = partitions.map((p) => p.low);
    let progressed = true;
    while (this.connected && progressed) {
      progressed = false;
      for (const [partition, p] of partitions.entries()) {
        if (this.paused.has(partition)) continue;
        const position = positions[partition] ?? p.low;
        const raw = p.records
          .filter((r) => r.offset >= position && (p.stallAt === undefined || r.offset < p.stallAt))
          .slice(0, 2);
        if (raw.length === 0) continue;
        progressed = true;
        const high = String(this.kafka.high(p));
        const last = String(raw.at(-1)?.offset);
        positions[partition] = Number(last) + 1;
        const messages: KafkaMessage[] = raw
          .filter((r) => !r.control)
          .map((r) => ({
            key: r.key === null ? null : Buffer.from(r.key),
            value: r.value === null ? null : Buffer.from(r.value),
            timestamp: '1772442000000',
            attributes: 0,
            offset: String(r.offset),
            headers: {},
          }));
        const lag = String(this.kafka.high(p) - 1 - Number(last));
        if (messages.length > 0) {
          const batch: Batch = {
            topic,
            partition,
            highWatermark: high,
            messages,
            isEmpty: () => false,
            firstOffset: () => messages[0]?.offset ?? null,
            lastOffset: () => last,
            offsetLag: () => lag,
            offsetLagLow: () => lag,
          };
          await this.runConfig?.eachBatch?.({
            batch,
            resolveOffset: () => undefined,
            heartbeat: async () => undefined,
            pause: () => () => this.paused.delete(partition),
            commitOffsetsIfNecessary: async () => undefined,
            uncommittedOffsets: () => ({ topics: [] }),
            isRunning: () => this.connected,
            isStale: () => false,
          });
        }
        const event: ConsumerEndBatchProcessEvent = {
          id: String(partition),
          type: 'consumer.end_batch_process',
          timestamp: Date.now(),
          payload: {
            topic,
            partition,
            highWatermark: high,
            offsetLag: lag,
            offsetLagLow: lag,
            batchSize: messages.length,
            firstOffset: String(raw[0]?.offset),
            lastOffset: last,
            duration: 1,
          },
        };
        for (const l of this.endBatch) l(event);
      }
      await new Promise((r) => setImmediate(r));
    }
  }
}

function records(from: number, values: string[]): FakeRecord[] {
  return values.map((v, i) => ({ offset: from + i, key: `k${from + i}`, value: v }));
}

function open(fake: FakeKafka, extra: { readTimeoutMs?: number } = {}) {
  return kafkaAdminFactory({
    kafka: (config) => {
      fake.configs.push(config);
      return fake;
    },
    credentials: CREDENTIALS,
    ...extra,
  })(BROKERS);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('kafkajs Kafka admin adapter: client configuration', () => {
  it('connects over TLS with an OAUTHBEARER provider that hands out MSK IAM tokens', async () => {
    const fake = new FakeKafka();
    const admin = await open(fake);
    const config = fake.configs[0];
    expect(config).toMatchObject({
      clientId: 'infra-observatory-mm2',
      brokers: [
        'b-1.orders.abc123.c2.kafka.eu-west-1.amazonaws.com:9098',
        'b-2.orders.abc123.c2.kafka.eu-west-1.amazonaws.com:9098',
      ],
      ssl: true,
      logLevel: logLevel.WARN,
      retry: { retries: 3 },
    });
    expect(config?.connectionTimeout).toBeGreaterThan(0);
    expect(config?.requestTimeout).toBeGreaterThan(0);
    const sasl = config?.sasl;
    if (!sasl || !('oauthBearerProvider' in sasl) || sasl.mechanism !== 'oauthbearer')
      throw new Error('no oauthbearer sasl');
    // The clock is frozen so the token kafkajs gets and the library's own are signed at the same instant.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-03-02T09:00:00Z'));
    const { value } = await sasl.oauthBearerProvider();
    const reference = await generateAuthTokenFromCredentialsProvider({
      region: 'eu-west-1',
      awsCredentialsProvider: async () => CREDENTIALS,
    });
    vi.useRealTimers();
    expect(value).toBe(reference.token);
    const url = new URL(Buffer.from(value, 'base64url').toString('utf8'));
    expect(url.host).toBe('kafka.eu-west-1.amazonaws.com');
    expect(url.searchParams.get('X-Amz-Credential')).toBe(
      'AKIAIOSFODNN7EXAMPLE/20260302/eu-west-1/kafka-cluster/aws4_request',
    );
    expect(fake.adminConnects).toBe(1);
    await admin.close();
  });

  it('derives the region from MSK provisioned and serverless broker names', () => {
    expect(regionOfBrokers(BROKERS)).toBe('eu-west-1');
    expect(regionOfBrokers('boot-abcd1234.c1.kafka-serverless.us-east-2.amazonaws.com:9098')).toBe(
      'us-east-2',
    );
    expect(() => regionOfBrokers('b-1.x:9098')).toThrow('cannot derive the region from broker "b-1.x:9098"');
    expect(() =>
      regionOfBrokers(
        'b-1.a.b.c2.kafka.eu-west-1.amazonaws.com:9098,b-1.a.b.c2.kafka.us-east-1.amazonaws.com:9098',
      ),
    ).toThrow('span regions eu-west-1, us-east-1');
  });

  it('refuses brokers whose region it cannot tell before creating a client', async () => {
    const make = vi.fn();
    await expect(kafkaAdminFactory({ kafka: make, credentials: CREDENTIALS })('b-1.x:9098')).rejects.toThrow(
      'cannot derive the region',
    );
    expect(make).not.toHaveBeenCalled();
    const fake = new FakeKafka();
    const admin = await kafkaAdminFactory({
      kafka: (config) => {
        fake.configs.push(config);
        return fake;
      },
      region: 'ap-south-1',
      credentials: CREDENTIALS,
    })('b-1.x:9098');
    expect(fake.adminConnects).toBe(1);
    const sasl = fake.configs[0]?.sasl;
    if (!sasl || !('oauthBearerProvider' in sasl)) throw new Error('no oauthbearer sasl');
    const { value } = await sasl.oauthBearerProvider();
    expect(new URL(Buffer.from(value, 'base64url').toString('utf8')).host).toBe(
      'kafka.ap-south-1.amazonaws.com',
    );
    await admin.close();
  });

  it('forwards kafkajs warnings and errors to the Powertools logger and drops the rest', () => {
    const warn = vi.spyOn(logger, 'warn').mockImplementation(() => undefined);
    const error = vi.spyOn(logger, 'error').mockImplementation(() => undefined);
    const log = powertoolsLogCreator();
    const entry = (level: logLevel, message: string) => ({
      namespace: 'Connection',
      level,
      label: 'X',
      log: { timestamp: '2026-03-02T09:00:00.000Z', logger: 'kafkajs', message, broker: 'b-1:9098' },
    });
    log(entry(logLevel.WARN, 'Response timeout'));
    log(entry(logLevel.ERROR, 'Connection error'));
    log(entry(logLevel.INFO, 'Starting'));
    expect(warn).toHaveBeenCalledWith('Response timeout', {
      kafkajs: { namespace: 'Connection', broker: 'b-1:9098' },
    });
    expect(error).toHaveBeenCalledWith('Connection error', {
      kafkajs: { namespace: 'Connection', broker: 'b-1:9098' },
    });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(error).toHaveBeenCalledTimes(1);
  });
});

describe('kafkajs Kafka admin adapter: port mapping', () => {
  it('maps topics, groups, group states and partition offsets', async () => {
    const fake = new FakeKafka();
    fake.topics.set('orders', [
      { low: 0, records: records(0, ['a', 'b', 'c']) },
      { low: 2, records: records(2, ['d']) },
    ]);
    fake.topics.set('__consumer_offsets', [{ low: 0, records: [] }]);
    fake.groups.set('billing', { state: 'Stable', commits: new Map() });
    fake.groups.set('audit', { state: 'Empty', commits: new Map() });
    const admin = await open(fake);
    expect(await admin.listTopics()).toEqual(['orders', '__consumer_offsets']);
    expect(await admin.fetchTopicOffsets('orders')).toEqual([
      { topic: 'orders', partition: 0, start: 0, end: 3 },
      { topic: 'orders', partition: 1, start: 2, end: 3 },
    ]);
    expect(await admin.listGroups()).toEqual(['billing', 'audit']);
    expect(await admin.describeGroups(['billing', 'audit', 'gone'])).toEqual(
      new Map([
        ['billing', 'Stable'],
        ['audit', 'Empty'],
      ]),
    );
    await admin.close();
  });

  it('answers [] for a topic the cluster does not have and rethrows other errors', async () => {
    const fake = new FakeKafka();
    const admin = await open(fake);
    expect(await admin.fetchTopicOffsets('missing')).toEqual([]);
    fake.fetchTopicOffsetsError = new KafkaJSNumberOfRetriesExceeded(
      protocolError(
        'TOPIC_AUTHORIZATION_FAILED',
        29,
        'Not authorized to access topics: [Topic authorization failed]',
      ),
      { retryCount: 0, retryTime: 0 },
    );
    await expect(admin.fetchTopicOffsets('secret')).rejects.toThrow('Not authorized to access topics');
    await admin.close();
  });

  it('skips partitions without a commit and asks only for topics that exist', async () => {
    const fake = new FakeKafka();
    fake.topics.set('orders', [
      { low: 0, records: records(0, ['a', 'b']) },
      { low: 0, records: records(0, ['c']) },
    ]);
    fake.topics.set('payments', [{ low: 0, records: records(0, ['p']) }]);
    fake.groups.set('billing', {
      state: 'Empty',
      commits: new Map([
        ['orders', new Map([[1, 1]])],
        ['payments', new Map([[0, 1]])],
      ]),
    });
    const admin = await open(fake);
    expect(await admin.fetchGroupOffsets('billing', ['orders', 'not-yet-mirrored'])).toEqual([
      { topic: 'orders', partition: 1, offset: 1 },
    ]);
    expect(fake.adminCalls).toContain('fetchOffsets billing orders');
    expect(await admin.fetchGroupOffsets('billing')).toEqual([
      { topic: 'orders', partition: 1, offset: 1 },
      { topic: 'payments', partition: 0, offset: 1 },
    ]);
    expect(await admin.fetchGroupOffsets('billing', ['not-yet-mirrored'])).toEqual([]);
    await admin.close();
  });
});

describe('kafkajs Kafka admin adapter: readTopic', () => {
  it('reads every partition from the start up to the end offsets fetched first, then leaves', async () => {
    const fake = new FakeKafka();
    fake.topics.set('mm2-offsets.source.internal', [
      { low: 0, records: records(0, ['a', 'b', 'c']), late: records(3, ['late-0']) },
      { low: 5, records: [...records(5, ['d', 'e']), { offset: 7, key: null, value: null, control: true }] },
      { low: 0, records: [], late: records(0, ['late-2']) },
    ]);
    const admin = await open(fake);
    const read = await admin.readTopic('mm2-offsets.source.internal');
    expect(read).toEqual([
      { key: 'k0', value: 'a' },
      { key: 'k1', value: 'b' },
      { key: 'k2', value: 'c' },
      { key: 'k5', value: 'd' },
      { key: 'k6', value: 'e' },
    ]);
    const consumer = fake.consumers[0];
    expect(consumer?.config.groupId).toMatch(/^observatory-read-[0-9a-f-]{36}$/);
    expect(consumer?.subscription).toEqual({ topics: ['mm2-offsets.source.internal'], fromBeginning: true });
    expect(consumer?.runConfig?.autoCommit).toBe(false);
    expect(consumer?.paused).toEqual(new Set([0, 1]));
    expect(consumer?.disconnects).toBe(1);
    expect(fake.deletedGroups).toEqual([consumer?.config.groupId]);
    await admin.close();
  });

  it('keeps keys and values as bytes for binary topics (bytes that are not UTF-8 survive)', async () => {
    const fake = new FakeKafka();
    const key = Buffer.from([0x00, 0x03, 0x61, 0x62, 0x63, 0xff]);
    const value = Buffer.from([0x00, 0x00, 0x80, 0xfe]);
    fake.topics.set('orders-v2.checkpoints.internal', [
      {
        low: 0,
        records: [
          { offset: 0, key, value },
          { offset: 1, key, value: null },
        ],
      },
    ]);
    const admin = await open(fake);
    const read = await admin.readTopicBinary('orders-v2.checkpoints.internal');
    expect(read.map((r) => [Buffer.from(r.key!), r.value && Buffer.from(r.value)])).toEqual([
      [key, value],
      [key, null],
    ]);
    await admin.close();
  });

  it('answers [] for an empty or missing topic without joining a group', async () => {
    const fake = new FakeKafka();
    fake.topics.set('empty', [{ low: 4, records: [] }]);
    const admin = await open(fake);
    expect(await admin.readTopic('empty')).toEqual([]);
    expect(await admin.readTopic('missing')).toEqual([]);
    expect(fake.consumers).toHaveLength(0);
    await admin.close();
  });

  it('fails after its timeout when a partition never reaches its end offset', async () => {
    const fake = new FakeKafka();
    fake.topics.set('stuck', [
      { low: 0, records: records(0, ['a']) },
      { low: 0, records: records(0, ['b', 'c', 'd']), stallAt: 2 },
    ]);
    const admin = await open(fake, { readTimeoutMs: 200 });
    await expect(admin.readTopic('stuck')).rejects.toThrow(
      'reading topic stuck timed out after 200 ms: partitions 1 short of their end offsets',
    );
    expect(fake.consumers[0]?.disconnects).toBe(1);
    await admin.close();
  });

  it('still answers when the throwaway group cannot be deleted, with a warning', async () => {
    const warn = vi.spyOn(logger, 'warn').mockImplementation(() => undefined);
    const fake = new FakeKafka();
    fake.topics.set('t', [{ low: 0, records: records(0, ['a']) }]);
    fake.deleteGroupsError = protocolError(
      'GROUP_AUTHORIZATION_FAILED',
      30,
      'Not authorized to access group',
    );
    const admin = await open(fake);
    expect(await admin.readTopic('t')).toEqual([{ key: 'k0', value: 'a' }]);
    expect(warn).toHaveBeenCalledWith('could not delete the throwaway consumer group', {
      groupId: fake.consumers[0]?.config.groupId,
      error: 'Not authorized to access group',
    });
    await admin.close();
  });
});

describe('kafkajs Kafka admin adapter: close', () => {
  it('disconnects the admin client and any consumer still reading', async () => {
    const fake = new FakeKafka();
    fake.topics.set('stuck', [{ low: 0, records: records(0, ['a', 'b']), stallAt: 1 }]);
    const admin = await open(fake, { readTimeoutMs: 300 });
    const reading = admin.readTopic('stuck');
    await vi.waitFor(() => expect(fake.consumers[0]?.connected).toBe(true));
    await admin.close();
    expect(fake.adminDisconnects).toBe(1);
    expect(fake.consumers[0]?.disconnects).toBeGreaterThanOrEqual(1);
    await expect(reading).rejects.toThrow('timed out');
  });
});

describe('Kafka admin adapter: log directory sizes (DescribeLogDirs on @platformatic/kafka)', () => {
  /** A DescribeLogDirs client that records how it was built and what it was asked. */
  function fakeLogDirs(answers: BrokerLogDirs[]) {
    const made: LogDirsClientConfig[] = [];
    const asked: unknown[] = [];
    let closes = 0;
    const logDirs = async (config: LogDirsClientConfig): Promise<LogDirsClient> => {
      made.push(config);
      return {
        describeLogDirs: async (options) => {
          asked.push(options);
          return answers;
        },
        close: async () => {
          closes++;
        },
      };
    };
    return { logDirs, made, asked, closes: () => closes };
  }

  const partition = (partitionIndex: number, size: bigint, isFutureKey = false) => ({
    partitionIndex,
    partitionSize: size,
    offsetLag: 0n,
    isFutureKey,
  });

  it('opens the second client only when asked, over TLS with the MSK IAM token, and closes it', async () => {
    const dirs = fakeLogDirs([
      {
        broker: 1,
        results: [
          {
            logDir: '/kafka/datalogs',
            topics: [
              { name: 'orders', partitions: [partition(0, 123_456_789_012n), partition(1, 0n, true)] },
            ],
          },
        ],
      },
      {
        broker: 2,
        results: [
          { logDir: '/kafka/datalogs', topics: [{ name: 'orders', partitions: [partition(0, 5n)] }] },
        ],
      },
    ]);
    const fake = new FakeKafka();
    const admin = await kafkaAdminFactory({
      kafka: () => fake,
      credentials: CREDENTIALS,
      logDirs: dirs.logDirs,
    })(BROKERS);
    await admin.listTopics();
    expect(dirs.made).toHaveLength(0);

    const sizes = await admin.describeReplicaLogSizes([{ topic: 'orders', partitions: [0, 1] }]);
    expect(sizes).toEqual([
      {
        broker: 1,
        logDir: '/kafka/datalogs',
        topic: 'orders',
        partition: 0,
        bytes: 123_456_789_012,
        future: false,
      },
      { broker: 1, logDir: '/kafka/datalogs', topic: 'orders', partition: 1, bytes: 0, future: true },
      { broker: 2, logDir: '/kafka/datalogs', topic: 'orders', partition: 0, bytes: 5, future: false },
    ]);
    expect(dirs.asked).toEqual([{ topics: [{ name: 'orders', partitions: [0, 1] }] }]);
    await admin.describeReplicaLogSizes([{ topic: 'orders', partitions: [0] }]);
    expect(dirs.made).toHaveLength(1);
    const config = dirs.made[0]!;
    expect(config).toMatchObject({
      clientId: 'infra-observatory-mm2',
      bootstrapBrokers: [
        'b-1.orders.abc123.c2.kafka.eu-west-1.amazonaws.com:9098',
        'b-2.orders.abc123.c2.kafka.eu-west-1.amazonaws.com:9098',
      ],
      tls: {},
      sasl: { mechanism: 'OAUTHBEARER' },
    });
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-03-02T09:00:00Z'));
    const token = await config.sasl.token();
    const reference = await generateAuthTokenFromCredentialsProvider({
      region: 'eu-west-1',
      awsCredentialsProvider: async () => CREDENTIALS,
    });
    vi.useRealTimers();
    expect(token).toBe(reference.token);

    await admin.close();
    expect(dirs.closes()).toBe(1);
    expect(fake.adminDisconnects).toBe(1);
  });

  it('refuses a size that is not a safe integer rather than rounding it', async () => {
    const dirs = fakeLogDirs([
      {
        broker: 3,
        results: [{ logDir: '/d', topics: [{ name: 't', partitions: [partition(0, 2n ** 60n)] }] }],
      },
    ]);
    const admin = await kafkaAdminFactory({
      kafka: () => new FakeKafka(),
      credentials: CREDENTIALS,
      logDirs: dirs.logDirs,
    })(BROKERS);
    await expect(admin.describeReplicaLogSizes([{ topic: 't', partitions: [0] }])).rejects.toThrow(
      'broker 3 reports 1152921504606846976 bytes for t/0',
    );
    await admin.close();
  });

  it('builds a real @platformatic/kafka Admin from that configuration, which sends the request', async () => {
    // In strict mode the library validates its constructor options and each call's options before it
    // connects: a loopback port that hangs up then fails the call on the connection, not on the options.
    const server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const client = await platformaticLogDirsClient({
      clientId: 'infra-observatory-mm2',
      bootstrapBrokers: [`127.0.0.1:${port}`],
      tls: {},
      sasl: { mechanism: 'OAUTHBEARER', token: async () => 'token' },
      connectTimeout: 1_000,
      requestTimeout: 1_000,
      retries: 0,
    });
    try {
      const err = await client
        .describeLogDirs({ topics: [{ name: 'orders', partitions: [0, 1] }] })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(JSON.stringify(err, Object.getOwnPropertyNames(err))).not.toMatch(/validat|must (be|have|NOT)/i);
      expect(JSON.stringify(err, Object.getOwnPropertyNames(err))).toMatch(
        /connect|socket|ECONNRESET|closed/i,
      );
    } finally {
      await client.close();
      server.close();
    }
  });
});
