/**
 * A simulated rollback world for local state machine runs: two fake clusters, a fake ECS, MM2 simulated,
 * and a local handler for every Task state that calls the real handler core with fake ports.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApprovalDecision } from '../../lambdas/msk-rollback/approval.ts';
import { discoverTopics } from '../../lambdas/msk-rollback/discover-topics-handler.ts';
import { BUILT_IN_DEFAULTS } from '../../lambdas/msk-rollback/input.ts';
import { pollReplication } from '../../lambdas/msk-rollback/poll-replication-handler.ts';
import { renderConfig } from '../../lambdas/msk-rollback/render-config-handler.ts';
import { requestApproval } from '../../lambdas/msk-rollback/request-approval-handler.ts';
import { stopReplication } from '../../lambdas/msk-rollback/stop-replication-handler.ts';
import { validateClusters } from '../../lambdas/msk-rollback/validate-clusters-handler.ts';
import { validateInput } from '../../lambdas/msk-rollback/validate-input-handler.ts';
import { verifyAndReport } from '../../lambdas/msk-rollback/verify-offsets-handler.ts';
import {
  adminFactory,
  CapturingNotifier,
  CapturingSink,
  FakeEcs,
  FakeKafkaCluster,
  fakeExecutions,
  fakeMsk,
  fakeNetwork,
  MemoryStore,
  Mm2Simulation,
} from './fakes.ts';
import { CLUSTER_ARNS, type TaskHandler } from './workflow-harness.ts';

export const EXAMPLE_INPUT = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../lambdas/msk-rollback/example-input.json'), 'utf8'),
) as Record<string, unknown>;

export const CLUSTERS = [
  { name: 'orders-v2', arn: CLUSTER_ARNS[0]! },
  { name: 'orders-v3', arn: CLUSTER_ARNS[1]! },
];
export const SOURCE_BROKERS =
  'b-1.ordersv2.abc123.c2.kafka.eu-west-1.amazonaws.com:9098,b-2.ordersv2.abc123.c2.kafka.eu-west-1.amazonaws.com:9098';
export const TARGET_BROKERS =
  'b-1.ordersv3.def456.c3.kafka.eu-west-1.amazonaws.com:9098,b-2.ordersv3.def456.c3.kafka.eu-west-1.amazonaws.com:9098';
const TASK_SG = 'sg-0a1b2c3d4e5f65001';
const VPC = 'vpc-0a1b2c3d4e5f60001';
const ECS_CLUSTER = 'arn:aws:ecs:eu-west-1:111111111111:cluster/observatory-msk-rollback';

/** How the world behaves. */
export interface WorldOptions {
  /** Records MM2 copies per partition per poll. */
  rate?: number;
  /** Poll number (1-based) at which the running task crashes. */
  crashAtPoll?: number;
  /** Failures of successive RunTask calls. */
  runFailures?: { Arn?: string; Reason: string; Detail?: string }[][];
  /** The decision, or an error to throw, or 'never' to never answer. */
  decision?: ApprovalDecision | Error | 'never';
  /** Where MM2 starts partitions it has no position for (must match the input's direction). */
  direction?: 'forward' | 'reverse';
  /** Changes the clusters before the run. */
  setup?: (source: FakeKafkaCluster, target: FakeKafkaCluster) => void;
  /** Producers and consumers on the source, before each poll (1-based), knowing the loop's phase. */
  produce?: (poll: number, phase: string, source: FakeKafkaCluster) => void;
  /** Stop states that fail (always), with this error. */
  stopFails?: Partial<Record<'StopReplication' | 'StopReplicationAfterFailure', Error>>;
}

/** Builds a world and the local handlers of every Task state. */
export function makeWorld(opts: WorldOptions = {}) {
  const source = new FakeKafkaCluster('orders-v2')
    .addTopic('orders.created', [
      { start: 0, end: 5000 },
      { start: 0, end: 3000 },
      { start: 0, end: 0 },
    ])
    .addTopic('orders.tmp.scratch', [{ start: 0, end: 10 }])
    .addTopic('payments.settled', [{ start: 0, end: 2000 }])
    .addTopic('audit', [{ start: 0, end: 99 }])
    .addTopic('__consumer_offsets', [{ start: 0, end: 42 }])
    .setGroup('orders-service', 'Empty', [
      { topic: 'orders.created', partition: 0, offset: 4500 },
      { topic: 'orders.created', partition: 1, offset: 3000 },
    ])
    .setGroup('billing', 'Empty', [{ topic: 'payments.settled', partition: 0, offset: 2000 }])
    .setGroup('orders-debug-1', 'Empty', [{ topic: 'orders.created', partition: 0, offset: 1 }]);
  // What DescribeLogDirs reports: 3 replicas of every partition, 200 bytes a record, followers a record behind.
  source.logSizes = [...source.topics].flatMap(([topic, partitions]) =>
    partitions.flatMap((p, partition) =>
      [1, 2, 3].map((broker) => ({
        broker,
        logDir: '/kafka/datalogs',
        topic,
        partition,
        bytes: 200 * Math.max(0, p.end - p.start - (broker === 1 ? 0 : 1)),
        future: false,
      })),
    ),
  );
  const target = new FakeKafkaCluster('orders-v3');
  const ecs = new FakeEcs();
  ecs.runFailures = opts.runFailures ?? [];
  opts.setup?.(source, target);
  // Reverse runs go back from orders-v3 to orders-v2: the fake `source` then stands at orders-v3's ARN.
  const reverse = opts.direction === 'reverse';
  const sim = new Mm2Simulation(source, target, reverse ? 'orders-v3' : 'orders-v2', ecs);
  sim.rate = opts.rate ?? 2000;
  sim.direction = opts.direction ?? 'forward';
  const open = adminFactory(
    reverse
      ? { [SOURCE_BROKERS]: target, [TARGET_BROKERS]: source }
      : { [SOURCE_BROKERS]: source, [TARGET_BROKERS]: target },
  );
  const notifier = new CapturingNotifier();
  const sink = new CapturingSink();
  const store = new MemoryStore();
  let clock = Date.parse('2026-03-02T09:00:00Z');
  let polls = 0;
  const ingress = [{ protocol: 'tcp', fromPort: 9098, toPort: 9098, cidrs: [], groupIds: [TASK_SG] }];

  const handlers: Record<string, TaskHandler> = {
    ValidateInput: (input) => validateInput(input, { clusters: CLUSTERS, defaults: BUILT_IN_DEFAULTS }),
    ValidateClusters: (input) =>
      validateClusters(input, {
        msk: fakeMsk({
          [CLUSTER_ARNS[0]!]: {
            found: true,
            state: 'ACTIVE',
            clusterType: 'PROVISIONED',
            kafkaVersion: '2.8.1',
            iamEnabled: true,
            subnetIds: ['subnet-0a1b2c3d4e5f61001'],
            securityGroupIds: ['sg-0000000000000a001'],
          },
          [CLUSTER_ARNS[1]!]: {
            found: true,
            state: 'ACTIVE',
            clusterType: 'PROVISIONED',
            kafkaVersion: '3.6.0',
            iamEnabled: true,
            subnetIds: ['subnet-0a1b2c3d4e5f61002'],
            securityGroupIds: ['sg-0000000000000a002'],
          },
        }),
        network: fakeNetwork(
          {
            'subnet-0a1b2c3d4e5f61001': { vpcId: VPC, cidr: '10.10.1.0/24' },
            'subnet-0a1b2c3d4e5f61002': { vpcId: VPC, cidr: '10.10.2.0/24' },
          },
          { 'sg-0000000000000a001': ingress, 'sg-0000000000000a002': ingress },
        ),
        executions: fakeExecutions([]),
        task: {
          vpcId: VPC,
          subnetIds: ['subnet-0a1b2c3d4e5f61001', 'subnet-0a1b2c3d4e5f61002'],
          securityGroupIds: [TASK_SG],
        },
      }),
    GetSourceBootstrapBrokers: (input) => ({
      BootstrapBrokerStringSaslIam: brokersOf(String(input.ClusterArn)),
    }),
    GetTargetBootstrapBrokers: (input) => ({
      BootstrapBrokerStringSaslIam: brokersOf(String(input.ClusterArn)),
    }),
    DiscoverTopics: (input) => discoverTopics(input, open),
    RenderConfig: (input) => renderConfig(input, store),
    StartReplication: (input) => ecs.runTask(input),
    RestartReplication: (input) => ecs.runTask(input),
    PollReplication: (input) => {
      polls++;
      opts.produce?.(polls, String((input.poll as { phase?: string } | undefined)?.phase), source);
      sim.tick();
      if (polls === opts.crashAtPoll)
        for (const arn of ecs.live()) ecs.crash(arn, 'Essential container in task exited');
      clock += 60_000;
      return pollReplication(input, {
        ecs: ecs.api(),
        ecsCluster: ECS_CLUSTER,
        openAdmin: open,
        sink,
        now: () => new Date(clock),
      });
    },
    RequestApproval: async (input) => {
      await requestApproval(input.Payload, notifier);
      const decision = opts.decision ?? {
        approved: true,
        by: 'alice@example.com',
        comment: 'producers stopped',
      };
      if (decision === 'never') return new Promise(() => {});
      if (decision instanceof Error) throw decision;
      return decision;
    },
    StopReplication: (input) => {
      if (opts.stopFails?.StopReplication) throw opts.stopFails.StopReplication;
      return stopReplication(input, ecs.api(), ECS_CLUSTER);
    },
    StopReplicationAfterFailure: (input) => {
      if (opts.stopFails?.StopReplicationAfterFailure) throw opts.stopFails.StopReplicationAfterFailure;
      return stopReplication(input, ecs.api(), ECS_CLUSTER);
    },
    VerifyOffsets: (input) => verifyAndReport(input, open, notifier),
  };
  return { source, target, ecs, sim, notifier, sink, store, handlers, polls: () => polls };
}

function brokersOf(arn: string): string {
  if (arn === CLUSTER_ARNS[0]) return SOURCE_BROKERS;
  if (arn === CLUSTER_ARNS[1]) return TARGET_BROKERS;
  throw new Error(`unknown cluster ${arn}`);
}
