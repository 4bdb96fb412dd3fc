import { describe, expect, it } from 'vitest';
import { discoverTopics } from '../../lambdas/msk-rollback/discover-topics-handler.ts';
import {
  compileFilter,
  REQUIRED_TOPIC_EXCLUDES,
  selectNames,
  withRequiredExcludes,
} from '../../lambdas/msk-rollback/filters.ts';
import { heapMiB } from '../../lambdas/msk-rollback/input.ts';
import { renderConfig } from '../../lambdas/msk-rollback/render-config-handler.ts';
import { requestApproval } from '../../lambdas/msk-rollback/request-approval-handler.ts';
import { adminFactory, CapturingNotifier, FakeKafkaCluster, MemoryStore } from './fakes.ts';
import { planOf } from './plans.ts';
import { SOURCE_BROKERS, TARGET_BROKERS } from './world.ts';

const brokers = { source: SOURCE_BROKERS, target: TARGET_BROKERS };

describe('topic and group filters', () => {
  it('match whole names like MM2 and always exclude internal and heartbeat topics', () => {
    const filter = withRequiredExcludes(
      { include: ['orders\\..*', 'heartbeats', '.*'], exclude: [] },
      REQUIRED_TOPIC_EXCLUDES,
    );
    expect(
      selectNames(
        [
          'orders.created',
          'xorders.created',
          'heartbeats',
          '__consumer_offsets',
          'mm2-offsets.a.internal',
          'a.replica',
        ],
        filter,
      ),
    ).toEqual(['orders.created', 'xorders.created']);
    expect(compileFilter({ include: ['orders'], exclude: [] })('orders.created')).toBe(false);
  });
});

describe('DiscoverTopics', () => {
  it('fails with NoMatchingTopics naming the patterns when nothing is selected', async () => {
    const source = new FakeKafkaCluster('orders-v2').addTopic('audit', [{ start: 0, end: 1 }]);
    const open = adminFactory({ [SOURCE_BROKERS]: source });
    const err = await discoverTopics({ plan: planOf(), brokers }, open).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('NoMatchingTopics');
    expect((err as Error).message).toMatch(
      /^the topic patterns select nothing to replicate \(1 problem\): no topic of orders-v2 \(1 topics\) matches include \[orders\\\.\.\*, payments\\\.settled\]/,
    );
    expect(source.closed).toBe(source.opened);
  });

  const sized = () => {
    const source = new FakeKafkaCluster('orders-v2')
      .addTopic('orders.created', [
        { start: 0, end: 100 },
        { start: 5, end: 50 },
      ])
      .addTopic('audit', [{ start: 0, end: 1 }]);
    const r = (broker: number, topic: string, partition: number, bytes: number) => ({
      broker,
      logDir: '/kafka/datalogs',
      topic,
      partition,
      bytes,
      future: false,
    });
    source.logSizes = [
      r(1, 'orders.created', 0, 64_000),
      r(2, 'orders.created', 0, 63_000),
      r(2, 'orders.created', 1, 30_000),
      r(1, 'audit', 0, 1_000_000),
    ];
    return source;
  };

  it('reports, on a dry run, the bytes the source retains for the selected partitions', async () => {
    const source = sized();
    const open = adminFactory({ [SOURCE_BROKERS]: source });
    const discovery = await discoverTopics({ plan: planOf({ dryRun: true }), brokers }, open);
    expect(discovery.topics).toEqual(['orders.created']);
    expect(source.logDirCalls).toEqual([[{ topic: 'orders.created', partitions: [0, 1] }]]);
    expect(discovery.retainedRecords).toBe(145);
    expect(discovery.retainedBytes).toEqual({
      bytes: 94_000,
      replicaBytes: 157_000,
      partitionsWithoutSize: 0,
    });
    expect(source.closed).toBe(source.opened);
  });

  it('does not ask for log directories on a real run', async () => {
    const source = sized();
    const discovery = await discoverTopics(
      { plan: planOf(), brokers },
      adminFactory({ [SOURCE_BROKERS]: source }),
    );
    expect(source.logDirCalls).toEqual([]);
    expect(discovery).not.toHaveProperty('retainedBytes');
  });

  it('still succeeds on a dry run when the log directories cannot be read, and says why', async () => {
    const source = sized();
    source.logSizes = new Error('Cluster authorization failed.');
    const discovery = await discoverTopics(
      { plan: planOf({ dryRun: true }), brokers },
      adminFactory({ [SOURCE_BROKERS]: source }),
    );
    expect(discovery.retainedBytes).toEqual({
      unavailable: 'DescribeLogDirs failed: Cluster authorization failed.',
    });
    expect(discovery.retainedRecords).toBe(145);
  });
});

describe('RenderConfig', () => {
  it('stores the properties and returns the task size and container environment for RunTask', async () => {
    const store = new MemoryStore();
    const plan = planOf({ mm2: { tasks: 2, cpu: 2048, memoryMiB: 8192 } });
    const rendered = await renderConfig({ plan, brokers }, store);
    expect(rendered.s3Uri).toBe(
      's3://observatory-msk-rollback-configs/executions/orders-to-v3-run-1/mm2.properties',
    );
    expect(store.objects.get('executions/orders-to-v3-run-1/mm2.properties')).toContain('tasks.max = 2');
    expect(rendered.cpu).toBe('2048');
    expect(rendered.memory).toBe('8192');
    expect(rendered.mm2Environment).toContainEqual({
      Name: 'KAFKA_HEAP_OPTS',
      Value: `-Xms${heapMiB(8192)}m -Xmx${heapMiB(8192)}m`,
    });
    expect(rendered.mm2Environment.find((e) => e.Name === 'MM2_CONFIG_SHA256')?.Value).toBe(rendered.sha256);
    expect(rendered.collectorEnvironment).toContainEqual({
      Name: 'MM2_EXECUTION',
      Value: 'orders-to-v3-run-1',
    });
    expect(heapMiB(4096)).toBe(2662);
  });
});

describe('RequestApproval', () => {
  it('publishes the lag figures and both decisions with the token', async () => {
    const notifier = new CapturingNotifier();
    const lag = {
      totalRecords: 12,
      maxPartitionRecords: 9,
      partitions: 4,
      partitionsBehind: 2,
      partitionsNotStarted: 0,
      topics: 2,
      worst: [
        { topic: 'orders.created', partition: 1, lag: 9 },
        { topic: 'payments.settled', partition: 0, lag: 3 },
      ],
    };
    const poll = {
      phase: 'converge',
      restarts: 0,
      polls: 12,
      startedAt: null,
      deadline: null,
      underGateSince: null,
      lag,
    };
    await requestApproval({ token: "tok'en", plan: planOf(), poll }, notifier);
    const { subject, message } = notifier.messages[0]!;
    expect(subject).toBe('MSK rollback orders-to-v3: approve cutover to orders-v3?');
    expect(message).toContain('Lag: 12 records behind over 4 partitions of 2 topics');
    expect(message).toContain('    orders.created-1: 9');
    expect(message).toContain(`npx observatory rollback approve --region eu-west-1 --token 'tok'\\''en'`);
    expect(message).toContain(
      `aws stepfunctions send-task-success --region eu-west-1 --task-token 'tok'\\''en' --task-output '{"approved":true}'`,
    );
    expect(message).toContain(
      'https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/arn:aws:states:eu-west-1:111111111111:execution:ObservatoryMskRollback:orders-to-v3-run-1',
    );
  });
});
