/**
 * In-memory stand-ins of the ports, and a small simulation of MM2 replicating between two clusters, so
 * the real handler cores can run inside the local state machine runs.
 */

import type { IngressRule, RunningFlow } from '../../lambdas/msk-rollback/clusters.ts';
import type { RawRecord } from '../../lambdas/msk-rollback/lag.ts';
import type { GroupOffset } from '../../lambdas/msk-rollback/offsets.ts';
import type {
  BinaryRecord,
  ConfigStore,
  EcsApi,
  ExecutionsApi,
  KafkaAdmin,
  KafkaAdminFactory,
  MskApi,
  MskFacts,
  NetworkApi,
  Notifier,
  SampleSink,
  TaskInfo,
} from '../../lambdas/msk-rollback/ports.ts';
import type { ReplicaLogSize } from '../../lambdas/msk-rollback/retained.ts';
import type { Sample } from '../../lambdas/shared/remote-write.ts';
import { checkpointRecord } from './kafka-wire.ts';

/** A Kafka cluster: topics (per-partition start/end), groups, and records of compacted topics. */
export class FakeKafkaCluster {
  readonly topics = new Map<string, { start: number; end: number }[]>();
  readonly groups = new Map<string, { state: string; offsets: GroupOffset[] }>();
  readonly records = new Map<string, RawRecord[]>();
  readonly binary = new Map<string, BinaryRecord[]>();
  /** Replica log sizes the brokers report (DescribeLogDirs); an Error makes the call fail. */
  logSizes: ReplicaLogSize[] | Error = [];
  readonly logDirCalls: { topic: string; partitions: readonly number[] }[][] = [];
  opened = 0;
  closed = 0;

  constructor(readonly name: string) {}

  addTopic(topic: string, partitions: { start: number; end: number }[]): this {
    this.topics.set(
      topic,
      partitions.map((p) => ({ ...p })),
    );
    return this;
  }

  setGroup(group: string, state: string, offsets: GroupOffset[]): this {
    this.groups.set(group, { state, offsets });
    return this;
  }

  append(topic: string, record: RawRecord): void {
    const list = this.records.get(topic) ?? [];
    list.push(record);
    this.records.set(topic, list);
  }

  appendBinary(topic: string, record: BinaryRecord): void {
    const list = this.binary.get(topic) ?? [];
    list.push(record);
    this.binary.set(topic, list);
  }

  /** Commits offsets of a group partition by partition (as AlterConsumerGroupOffsets does). */
  commit(group: string, offsets: GroupOffset[], state = 'Empty'): void {
    const g = this.groups.get(group) ?? { state, offsets: [] };
    for (const o of offsets) {
      const i = g.offsets.findIndex((x) => x.topic === o.topic && x.partition === o.partition);
      if (i >= 0) g.offsets[i] = { ...o };
      else g.offsets.push({ ...o });
    }
    this.groups.set(group, g);
  }

  /** Producers write records to a partition. */
  produce(topic: string, partition: number, records: number): void {
    const p = this.topics.get(topic)?.[partition];
    if (!p) throw new Error(`no partition ${topic}-${partition}`);
    p.end += records;
  }

  admin(): KafkaAdmin {
    this.opened++;
    return {
      listTopics: async () => [
        ...new Set([...this.topics.keys(), ...this.records.keys(), ...this.binary.keys()]),
      ],
      fetchTopicOffsets: async (topic) =>
        (this.topics.get(topic) ?? []).map((p, partition) => ({
          topic,
          partition,
          start: p.start,
          end: p.end,
        })),
      listGroups: async () => [...this.groups.keys()],
      describeGroups: async (ids) =>
        new Map(
          ids.flatMap((id) =>
            this.groups.has(id) ? [[id, this.groups.get(id)!.state] as [string, string]] : [],
          ),
        ),
      fetchGroupOffsets: async (group, topics) =>
        (this.groups.get(group)?.offsets ?? []).filter((o) => !topics || topics.includes(o.topic)),
      readTopic: async (topic) => [...(this.records.get(topic) ?? [])],
      readTopicBinary: async (topic) => [...(this.binary.get(topic) ?? [])],
      describeReplicaLogSizes: async (partitions) => {
        this.logDirCalls.push(partitions.map((p) => ({ ...p })));
        if (this.logSizes instanceof Error) throw this.logSizes;
        return [...this.logSizes];
      },
      close: async () => {
        this.closed++;
      },
    };
  }
}

/** Opens admins on fake clusters by bootstrap string. */
export function adminFactory(byBootstrap: Record<string, FakeKafkaCluster>): KafkaAdminFactory {
  return async (bootstrap) => {
    const cluster = byBootstrap[bootstrap];
    if (!cluster) throw new Error(`no fake cluster at ${bootstrap}`);
    return cluster.admin();
  };
}

/** A fake ECS cluster: tasks with status and tags; RunTask may be scripted to fail. */
export class FakeEcs {
  readonly tasks = new Map<
    string,
    { lastStatus: string; desiredStatus: string; stoppedReason?: string; tags: Record<string, string> }
  >();
  readonly stopCalls: { taskArn: string; reason: string }[] = [];
  readonly runCalls: Record<string, unknown>[] = [];
  /** Failures RunTask returns on its next calls (one entry per call; [] = success). */
  runFailures: { Arn?: string; Reason: string; Detail?: string }[][] = [];
  private seq = 0;

  /** The aws-sdk:ecs:runTask integration, as the local state machine calls it. */
  runTask = (params: Record<string, unknown>) => {
    this.runCalls.push(params);
    const failures = this.runFailures.shift() ?? [];
    if (failures.length > 0) return { Tasks: [], Failures: failures };
    const taskArn = `arn:aws:ecs:eu-west-1:111111111111:task/observatory-msk-rollback/task${++this.seq}`;
    const tags = Object.fromEntries(
      ((params.Tags as { Key: string; Value: string }[]) ?? []).map((t) => [t.Key, t.Value]),
    );
    this.tasks.set(taskArn, { lastStatus: 'PROVISIONING', desiredStatus: 'RUNNING', tags });
    return {
      Tasks: [{ TaskArn: taskArn, LastStatus: 'PROVISIONING', DesiredStatus: 'RUNNING', Tags: params.Tags }],
      Failures: [],
    };
  };

  /** Moves starting tasks to RUNNING. */
  advance(): void {
    for (const t of this.tasks.values())
      if (t.desiredStatus === 'RUNNING' && t.lastStatus !== 'RUNNING') t.lastStatus = 'RUNNING';
  }

  /** Makes a running task exit by itself. */
  crash(taskArn: string, reason: string): void {
    const t = this.tasks.get(taskArn);
    if (t) Object.assign(t, { lastStatus: 'STOPPED', desiredStatus: 'STOPPED', stoppedReason: reason });
  }

  live(): string[] {
    return [...this.tasks.entries()].filter(([, t]) => t.desiredStatus === 'RUNNING').map(([arn]) => arn);
  }

  api(): EcsApi {
    const info = (taskArn: string): TaskInfo => {
      const t = this.tasks.get(taskArn)!;
      return {
        taskArn,
        lastStatus: t.lastStatus,
        desiredStatus: t.desiredStatus,
        stoppedReason: t.stoppedReason,
        tags: t.tags,
      };
    };
    return {
      describeTask: async (_cluster, taskArn) => (this.tasks.has(taskArn) ? info(taskArn) : undefined),
      listLiveTasks: async () => this.live().map(info),
      stopTask: async (_cluster, taskArn, reason) => {
        this.stopCalls.push({ taskArn, reason });
        const t = this.tasks.get(taskArn);
        if (t) Object.assign(t, { lastStatus: 'STOPPED', desiredStatus: 'STOPPED', stoppedReason: reason });
      },
    };
  }
}

/** Captures published messages. */
export class CapturingNotifier implements Notifier {
  readonly messages: { subject: string; message: string }[] = [];
  async publish(subject: string, message: string) {
    this.messages.push({ subject, message });
  }
}

/** Captures written samples. */
export class CapturingSink implements SampleSink {
  readonly samples: Sample[] = [];
  async write(samples: Sample[]) {
    this.samples.push(...samples);
  }
}

/** Keeps stored objects. */
export class MemoryStore implements ConfigStore {
  readonly objects = new Map<string, string>();
  async put(key: string, body: string) {
    this.objects.set(key, body);
    return `s3://observatory-msk-rollback-configs/${key}`;
  }
}

/** MSK control-plane facts by cluster ARN. */
export function fakeMsk(facts: Record<string, MskFacts>): MskApi {
  return {
    describeCluster: async (arn) =>
      facts[arn] ?? { found: false, iamEnabled: false, subnetIds: [], securityGroupIds: [] },
  };
}

/** EC2 facts. */
export function fakeNetwork(
  subnets: Record<string, { vpcId: string; cidr: string }>,
  ingress: Record<string, IngressRule[]>,
): NetworkApi {
  return {
    describeSubnets: async (ids) =>
      ids.map((id) => ({ id, ...(subnets[id] ?? { vpcId: 'vpc-unknown', cidr: '0.0.0.0/32' }) })),
    describeIngress: async (ids) => ids.flatMap((id) => ingress[id] ?? []),
  };
}

/** Running flows of other executions. */
export function fakeExecutions(flows: RunningFlow[]): ExecutionsApi {
  return { runningFlows: async (_sm, except) => flows.filter((f) => f.executionArn !== except) };
}

/**
 * MM2 simulated: while a task of the flow runs, every tick copies up to `rate` records per partition from
 * source to target, as MM2 does:
 * - a partition without a position starts at the log start forward, at the log end in reverse
 *   (`auto.offset.reset`), evaluated when the task first sees it; a position is recorded in the Connect
 *   offsets topic only once a record was copied;
 * - an offset sync (upstream, downstream) is kept at the start of every copied batch;
 * - checkpoints: each group's committed source offset is translated from the latest sync at or before it
 *   (`downstream + (upstream == sync.upstream ? 0 : 1)`, OffsetSyncStore) and written, binary, to
 *   `<source>.checkpoints.internal` when it changed;
 * - group offset sync: the translation is committed on the target unless the group has active members
 *   there or already holds an offset at or past it (MirrorCheckpointTask.syncGroupOffset).
 */
export class Mm2Simulation {
  rate = 1_000_000;
  direction: 'forward' | 'reverse' = 'forward';
  private readonly position = new Map<string, number>();
  private readonly syncs = new Map<string, { upstream: number; downstream: number }[]>();
  private readonly checkpointed = new Map<string, string>();

  constructor(
    readonly source: FakeKafkaCluster,
    readonly target: FakeKafkaCluster,
    readonly sourceAlias: string,
    readonly ecs: FakeEcs,
  ) {}

  tick(): void {
    this.ecs.advance();
    const running = [...this.ecs.tasks.values()].some((t) => t.lastStatus === 'RUNNING');
    if (!running) return;
    for (const [topic, partitions] of this.source.topics) {
      const copies = this.target.topics.get(topic) ?? [];
      partitions.forEach((p, partition) => {
        const key = `${topic}:${partition}`;
        copies[partition] ??= { start: 0, end: 0 };
        if (!this.position.has(key)) this.position.set(key, this.direction === 'forward' ? p.start : p.end);
        const next = Math.max(this.position.get(key)!, p.start);
        const upTo = Math.min(p.end, next + this.rate);
        if (upTo <= next) return;
        const copy = copies[partition]!;
        const syncs = this.syncs.get(key) ?? [];
        syncs.push({ upstream: next, downstream: copy.end });
        this.syncs.set(key, syncs);
        copy.end += upTo - next;
        this.position.set(key, upTo);
        this.target.append(`mm2-offsets.${this.sourceAlias}.internal`, {
          key: JSON.stringify(['MirrorSourceConnector', { cluster: this.sourceAlias, partition, topic }]),
          value: JSON.stringify({ offset: upTo - 1 }),
        });
      });
      this.target.topics.set(topic, copies);
    }
    this.checkpointGroups();
  }

  private checkpointGroups(): void {
    for (const [group, g] of this.source.groups) {
      const translations: GroupOffset[] = [];
      for (const o of g.offsets) {
        const sync = (this.syncs.get(`${o.topic}:${o.partition}`) ?? [])
          .filter((s) => s.upstream <= o.offset)
          .at(-1);
        if (!sync) continue;
        const downstream = sync.downstream + (o.offset === sync.upstream ? 0 : 1);
        translations.push({ topic: o.topic, partition: o.partition, offset: downstream });
        const fields = {
          group,
          topic: o.topic,
          partition: o.partition,
          upstreamOffset: o.offset,
          downstreamOffset: downstream,
        };
        const id = `${group}:${o.topic}:${o.partition}`;
        if (this.checkpointed.get(id) !== JSON.stringify(fields)) {
          this.checkpointed.set(id, JSON.stringify(fields));
          this.target.appendBinary(`${this.sourceAlias}.checkpoints.internal`, checkpointRecord(fields));
        }
      }
      const onTarget = this.target.groups.get(group);
      if (onTarget && onTarget.state !== 'Empty') continue;
      const toSync = translations.filter((t) => {
        const current = onTarget?.offsets.find((o) => o.topic === t.topic && o.partition === t.partition);
        return !current || current.offset < t.offset;
      });
      if (toSync.length > 0) this.target.commit(group, toSync);
    }
  }
}
