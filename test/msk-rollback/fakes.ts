/**
 * In-memory stand-ins of the ports, and a small simulation of MM2 replicating between two clusters, so
 * the real handler cores can run inside the local state machine runs.
 */

import type { IngressRule, RunningFlow } from '../../lambdas/msk-rollback/clusters.ts';
import type { RawRecord } from '../../lambdas/msk-rollback/lag.ts';
import type { GroupOffset } from '../../lambdas/msk-rollback/offsets.ts';
import type {
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
import type { Sample } from '../../lambdas/shared/remote-write.ts';

/** A Kafka cluster: topics (per-partition start/end), groups, and records of compacted topics. */
export class FakeKafkaCluster {
  readonly topics = new Map<string, { start: number; end: number }[]>();
  readonly groups = new Map<string, { state: string; offsets: GroupOffset[] }>();
  readonly records = new Map<string, RawRecord[]>();
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

  admin(): KafkaAdmin {
    this.opened++;
    return {
      listTopics: async () => [...this.topics.keys(), ...this.records.keys()],
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
 * source to target, records its position in the Connect offsets topic on the target, and syncs group offsets.
 */
export class Mm2Simulation {
  rate = 1_000_000;
  private readonly position = new Map<string, number>();

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
      const copies = this.target.topics.get(topic) ?? partitions.map(() => ({ start: 0, end: 0 }));
      partitions.forEach((p, partition) => {
        const key = `${topic}:${partition}`;
        const next = this.position.get(key) ?? p.start;
        const upTo = Math.min(p.end, next + this.rate);
        if (upTo > next) {
          copies[partition] = {
            start: copies[partition]?.start ?? 0,
            end: (copies[partition]?.end ?? 0) + (upTo - next),
          };
          this.position.set(key, upTo);
          this.target.append(`mm2-offsets.${this.sourceAlias}.internal`, {
            key: JSON.stringify(['MirrorSourceConnector', { cluster: this.sourceAlias, partition, topic }]),
            value: JSON.stringify({ offset: upTo - 1 }),
          });
        }
      });
      this.target.topics.set(topic, copies);
    }
    // Group offset sync: a group's committed offset is translated once replication passed it.
    for (const [group, g] of this.source.groups) {
      const translated = g.offsets.filter(
        (o) => (this.position.get(`${o.topic}:${o.partition}`) ?? -1) >= o.offset,
      );
      if (translated.length > 0 && !(this.target.groups.get(group)?.state === 'Stable')) {
        this.target.setGroup(
          group,
          'Empty',
          translated.map((o) => ({ ...o })),
        );
      }
    }
  }
}
