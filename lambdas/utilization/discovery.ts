/**
 * Resource discovery through each service's Describe/List APIs (never tags alone: untagged resources
 * count), paginated with the SDK paginators. Each resource comes with the identifiers its CloudWatch
 * metrics are keyed by.
 *
 * Capacity units: EC2 and RDS `vcpu`/`memoryMiB` per instance and RDS `storageGiB`; ECS `vcpu`/`memoryMiB`
 * reserved per task plus `desiredCount`/`runningCount`; MSK `vcpu`/`memoryMiB`/`storageGiB` per broker plus
 * `brokers`. A value that cannot be known (an RDS class with no EC2 twin) is left out, never guessed.
 */
import { type EC2Client, type Instance, paginateDescribeInstances } from '@aws-sdk/client-ec2';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  type ECSClient,
  type Service as EcsService,
  paginateListClusters,
  paginateListServices,
} from '@aws-sdk/client-ecs';
import {
  type Cluster,
  type KafkaClient,
  paginateListClustersV2,
  paginateListNodes,
} from '@aws-sdk/client-kafka';
import { paginateDescribeDBInstances, type RDSClient } from '@aws-sdk/client-rds';
import { partitionOf } from './assume-role.ts';
import { ec2TypeOf, type InstanceTypeCatalog } from './instance-types.ts';
import type { ResourceRow, Shard } from './rows.ts';

/** What a resource's CloudWatch metrics are keyed by. */
export type MetricTarget =
  | {
      readonly service: 'ec2';
      readonly instanceId: string;
      /** When a stopped or terminated instance last changed state, if EC2 says so. */
      readonly stoppedAt?: Date;
    }
  | { readonly service: 'rds'; readonly dbInstanceIdentifier: string }
  | { readonly service: 'ecs'; readonly clusterName: string; readonly serviceName: string }
  /** `brokerIds` is empty for serverless clusters, which have no per-broker metrics. */
  | { readonly service: 'msk'; readonly clusterName: string; readonly brokerIds: readonly string[] };

/** A discovered resource: its row (hasAgentMetrics is settled after the metric pass) and metric keys. */
export interface DiscoveredResource {
  readonly resource: ResourceRow;
  readonly target: MetricTarget;
}

/** SDK clients discovery needs, all for the shard's account and region. */
export interface DiscoveryClients {
  readonly ec2: EC2Client;
  readonly rds: RDSClient;
  readonly ecs: ECSClient;
  readonly kafka: KafkaClient;
}

/** Reserved CPU and memory of an ECS task definition, and the CPU architecture and OS it runs on. */
export interface TaskSize {
  readonly cpuUnits?: number;
  readonly memoryMiB?: number;
  readonly cpuArchitecture?: string;
  /** `LINUX`, `WINDOWS_SERVER_2022_CORE`, ...; absent when the task definition names none (Linux). */
  readonly operatingSystemFamily?: string;
}

/** Discovery settings. */
export interface DiscoveryOptions {
  /** ISO time stamped on every resource row. */
  readonly observedAt: string;
  /** Instance type catalog for EC2, RDS and MSK capacity. */
  readonly instanceTypes: InstanceTypeCatalog;
  /** Task definition sizes by ARN; revisions are immutable. @default - the environment's shared cache */
  readonly taskDefinitions?: Map<string, TaskSize>;
  /** Parallel requests for per-item Describe calls (ECS, MSK). @default 4 */
  readonly concurrency?: number;
  /** Receives what an operator should know (a permission missing, a fallback taken). @default - dropped */
  readonly onNote?: (note: string) => void;
}

const sharedTaskDefinitions = new Map<string, TaskSize>();

/** Errors of a ListNodes call the member role may not make. */
const LIST_NODES_DENIED = new Set(['ForbiddenException', 'AccessDeniedException', 'UnauthorizedException']);

/** Engines DescribeDBInstances also returns that publish to AWS/DocDB and AWS/Neptune, not AWS/RDS. */
const NON_RDS_ENGINES = new Set(['docdb', 'neptune']);

/**
 * Discovers every resource of the shard's service, sorted by ARN.
 * @param shard account, region and service
 * @param clients SDK clients for that account and region
 * @param options timestamps and caches
 */
export async function discover(
  shard: Shard,
  clients: DiscoveryClients,
  options: DiscoveryOptions,
): Promise<DiscoveredResource[]> {
  const found = await {
    ec2: () => discoverEc2(shard, clients.ec2, options),
    rds: () => discoverRds(shard, clients.rds, options),
    ecs: () => discoverEcs(shard, clients.ecs, options),
    msk: () => discoverMsk(shard, clients.kafka, options),
  }[shard.service]();
  return found.sort((a, b) => a.resource.resourceArn.localeCompare(b.resource.resourceArn));
}

function baseRow(shard: Shard, options: DiscoveryOptions) {
  return {
    accountId: shard.accountId,
    region: shard.region,
    service: shard.service,
    hasAgentMetrics: false,
    observedAt: options.observedAt,
  };
}

function tagRecord(tags: readonly { Key?: string; Value?: string }[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags ?? []) if (t.Key !== undefined) out[t.Key] = t.Value ?? '';
  return out;
}

function defined(values: Record<string, number | undefined>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(values)) if (v !== undefined && Number.isFinite(v)) out[k] = v;
  return out;
}

/** Keeps the string values that are set (pricing attributes). */
function strings(values: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) if (v) out[k] = v;
  return out;
}

/** FARGATE or EC2; a service on capacity providers has no launch type, its providers tell. */
function launchTypeOf(s: EcsService): string | undefined {
  if (s.launchType) return s.launchType;
  const providers = s.capacityProviderStrategy ?? [];
  if (providers.length === 0) return undefined;
  return providers.some((p) => p.capacityProvider?.startsWith('FARGATE')) ? 'FARGATE' : 'EC2';
}

/**
 * When a stopped or terminated instance changed state, from `StateTransitionReason`
 * ("User initiated (2024-05-01 10:23:11 GMT)"); undefined when EC2 gives no time.
 */
export function stateChangedAt(instance: Pick<Instance, 'StateTransitionReason'>): Date | undefined {
  const m = /\((\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) GMT\)/.exec(instance.StateTransitionReason ?? '');
  if (!m) return undefined;
  const at = new Date(`${m[1]}T${m[2]}Z`);
  return Number.isNaN(at.getTime()) ? undefined : at;
}

/**
 * EC2 instances in every state (DescribeInstances without a state filter), with vCPU and memory from
 * DescribeInstanceTypes.
 */
export async function discoverEc2(
  shard: Shard,
  ec2: EC2Client,
  options: DiscoveryOptions,
): Promise<DiscoveredResource[]> {
  const instances: Instance[] = [];
  for await (const page of paginateDescribeInstances({ client: ec2, pageSize: 1000 }, {})) {
    for (const r of page.Reservations ?? []) instances.push(...(r.Instances ?? []));
  }
  const specs = await options.instanceTypes.resolve(
    instances.map((i) => i.InstanceType).filter((t): t is NonNullable<typeof t> => t !== undefined),
  );
  const partition = partitionOf(shard.region);
  return instances
    .filter((i) => i.InstanceId)
    .map((i) => {
      const tags = tagRecord(i.Tags);
      const spec = i.InstanceType ? specs.get(i.InstanceType) : undefined;
      const state = i.State?.Name ?? 'unknown';
      const stoppedAt = state === 'stopped' || state === 'terminated' ? stateChangedAt(i) : undefined;
      return {
        resource: {
          ...baseRow(shard, options),
          resourceArn: `arn:${partition}:ec2:${shard.region}:${shard.accountId}:instance/${i.InstanceId}`,
          resourceType: 'instance',
          name: tags.Name ?? i.InstanceId!,
          state,
          tags,
          capacity: defined({ vcpu: spec?.vcpu, memoryMiB: spec?.memoryMiB }),
          attributes: strings({
            instanceType: i.InstanceType,
            // `Platform` is only ever set for Windows.
            platform: i.PlatformDetails ?? (i.Platform ? 'Windows' : 'Linux/UNIX'),
            tenancy: i.Placement?.Tenancy ?? 'default',
          }),
        },
        target: { service: 'ec2', instanceId: i.InstanceId!, ...(stoppedAt ? { stoppedAt } : {}) },
      };
    });
}

/** RDS DB instances (not DocumentDB or Neptune), with allocated storage and class capacity if known. */
export async function discoverRds(
  shard: Shard,
  rds: RDSClient,
  options: DiscoveryOptions,
): Promise<DiscoveredResource[]> {
  const dbs = [];
  for await (const page of paginateDescribeDBInstances({ client: rds, pageSize: 100 }, {})) {
    for (const db of page.DBInstances ?? []) {
      if (db.DBInstanceArn && db.DBInstanceIdentifier && !NON_RDS_ENGINES.has(db.Engine ?? '')) dbs.push(db);
    }
  }
  const typeOf = (cls: string | undefined) => (cls ? ec2TypeOf(cls) : undefined);
  const specs = await options.instanceTypes.resolve(
    dbs.map((db) => typeOf(db.DBInstanceClass)).filter((t): t is string => t !== undefined),
  );
  return dbs.map((db) => {
    const type = typeOf(db.DBInstanceClass);
    const spec = type ? specs.get(type) : undefined;
    // Aurora storage is a cluster volume: AllocatedStorage is a placeholder (1) there, not a capacity.
    const storageGiB = db.Engine?.startsWith('aurora') ? undefined : db.AllocatedStorage;
    return {
      resource: {
        ...baseRow(shard, options),
        resourceArn: db.DBInstanceArn!,
        resourceType: 'db-instance',
        name: db.DBInstanceIdentifier!,
        state: db.DBInstanceStatus ?? 'unknown',
        tags: tagRecord(db.TagList),
        capacity: defined({ vcpu: spec?.vcpu, memoryMiB: spec?.memoryMiB, storageGiB }),
        attributes: strings({
          instanceClass: db.DBInstanceClass,
          engine: db.Engine,
          multiAz: String(db.MultiAZ ?? false),
        }),
      },
      target: { service: 'rds', dbInstanceIdentifier: db.DBInstanceIdentifier! },
    };
  });
}

/** Runs `fn` over `items` with at most `limit` in flight, keeping the input order in the output. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function toNumber(value: string | number | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

async function taskSize(ecs: ECSClient, arn: string, cache: Map<string, TaskSize>): Promise<TaskSize> {
  const hit = cache.get(arn);
  if (hit) return hit;
  const { taskDefinition: td } = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn }));
  const containers = td?.containerDefinitions ?? [];
  // EC2-launch-type task definitions may size only their containers; the task reserves their sum.
  const sum = (pick: (c: (typeof containers)[number]) => number | undefined) => {
    const values = containers.map(pick).filter((v): v is number => v !== undefined && v > 0);
    return values.length ? values.reduce((a, b) => a + b, 0) : undefined;
  };
  const size: TaskSize = {
    cpuUnits: toNumber(td?.cpu) ?? sum((c) => c.cpu),
    memoryMiB: toNumber(td?.memory) ?? sum((c) => c.memory ?? c.memoryReservation),
    // Fargate and ECS default to X86_64 when the task definition names no runtime platform.
    cpuArchitecture: td?.runtimePlatform?.cpuArchitecture ?? 'X86_64',
    // Rightsizing offers ARM64 only to Linux tasks.
    ...(td?.runtimePlatform?.operatingSystemFamily
      ? { operatingSystemFamily: td.runtimePlatform.operatingSystemFamily }
      : {}),
  };
  cache.set(arn, size);
  return size;
}

/** The resource name at the end of an ARN (`.../cluster/prod` -> `prod`). */
function arnName(arn: string): string {
  return arn.slice(arn.lastIndexOf('/') + 1);
}

/**
 * ECS services of every cluster (ListClusters, ListServices, DescribeServices with tags), sized by their
 * task definition (DescribeTaskDefinition, cached per revision).
 */
export async function discoverEcs(
  shard: Shard,
  ecs: ECSClient,
  options: DiscoveryOptions,
): Promise<DiscoveredResource[]> {
  const cache = options.taskDefinitions ?? sharedTaskDefinitions;
  const concurrency = options.concurrency ?? 4;
  const clusters: string[] = [];
  for await (const page of paginateListClusters({ client: ecs, pageSize: 100 }, {})) {
    clusters.push(...(page.clusterArns ?? []));
  }
  const services: EcsService[] = [];
  for (const cluster of clusters) {
    const arns: string[] = [];
    for await (const page of paginateListServices({ client: ecs, pageSize: 100 }, { cluster })) {
      arns.push(...(page.serviceArns ?? []));
    }
    const chunks: string[][] = [];
    // DescribeServices takes at most 10 services per request.
    for (let i = 0; i < arns.length; i += 10) chunks.push(arns.slice(i, i + 10));
    const described = await mapLimit(chunks, concurrency, async (chunk) => {
      const out = await ecs.send(
        new DescribeServicesCommand({ cluster, services: chunk, include: ['TAGS'] }),
      );
      for (const f of out.failures ?? []) {
        options.onNote?.(`ecs:DescribeServices failed for ${f.arn ?? 'a service'}: ${f.reason ?? 'unknown'}`);
      }
      return out.services ?? [];
    });
    services.push(...described.flat());
  }
  // Services sharing a revision wait for one DescribeTaskDefinition.
  const inFlight = new Map<string, Promise<TaskSize>>();
  const sizeOf = (arn: string) => {
    let pending = inFlight.get(arn);
    if (!pending) {
      pending = taskSize(ecs, arn, cache);
      inFlight.set(arn, pending);
    }
    return pending;
  };
  const sizes = await mapLimit(services, concurrency, (s) =>
    s.taskDefinition ? sizeOf(s.taskDefinition) : Promise.resolve<TaskSize>({}),
  );
  return services
    .map((s, i) => ({ s, size: sizes[i]! }))
    .filter(({ s }) => s.serviceArn && s.serviceName && s.clusterArn)
    .map(({ s, size }) => ({
      resource: {
        ...baseRow(shard, options),
        resourceArn: s.serviceArn!,
        resourceType: 'service',
        name: s.serviceName!,
        state: s.status ?? 'unknown',
        tags: tagRecord(s.tags?.map((t) => ({ Key: t.key, Value: t.value }))),
        capacity: defined({
          vcpu: size.cpuUnits !== undefined ? size.cpuUnits / 1024 : undefined,
          memoryMiB: size.memoryMiB,
          desiredCount: s.desiredCount,
          runningCount: s.runningCount,
        }),
        attributes: strings({
          launchType: launchTypeOf(s),
          cpuArchitecture: size.cpuArchitecture,
          operatingSystemFamily: size.operatingSystemFamily,
        }),
      },
      target: { service: 'ecs', clusterName: arnName(s.clusterArn!), serviceName: s.serviceName! },
    }));
}

/**
 * MSK clusters (ListClustersV2, provisioned and serverless), with broker count and type; broker IDs
 * come from ListNodes because they need not be 1..N once brokers have been removed.
 */
export async function discoverMsk(
  shard: Shard,
  kafka: KafkaClient,
  options: DiscoveryOptions,
): Promise<DiscoveredResource[]> {
  const clusters: Cluster[] = [];
  for await (const page of paginateListClustersV2({ client: kafka, pageSize: 100 }, {})) {
    for (const c of page.ClusterInfoList ?? []) if (c.ClusterArn && c.ClusterName) clusters.push(c);
  }
  const brokerType = (c: Cluster) => c.Provisioned?.BrokerNodeGroupInfo?.InstanceType;
  const specs = await options.instanceTypes.resolve(
    clusters.map((c) => ec2TypeOf(brokerType(c) ?? '')).filter((t): t is string => t !== undefined),
  );
  const brokerIds = await mapLimit(clusters, options.concurrency ?? 4, async (c) => {
    if (c.ClusterType !== 'PROVISIONED') return [];
    const ids: string[] = [];
    try {
      for await (const page of paginateListNodes(
        { client: kafka, pageSize: 100 },
        { ClusterArn: c.ClusterArn! },
      )) {
        for (const n of page.NodeInfoList ?? []) {
          const id = n.BrokerNodeInfo?.BrokerId;
          if (id !== undefined) ids.push(String(Math.trunc(id)));
        }
      }
    } catch (error) {
      if (!LIST_NODES_DENIED.has((error as Error).name)) throw error;
      // A member role from before kafka:ListNodes was required: the IDs of a cluster that never lost a broker.
      const count = c.Provisioned?.NumberOfBrokerNodes ?? 0;
      options.onNote?.(
        `kafka:ListNodes denied for cluster ${c.ClusterName}; assuming broker IDs 1..${count}`,
      );
      return Array.from({ length: count }, (_, i) => String(i + 1));
    }
    return ids.sort((a, b) => Number(a) - Number(b));
  });
  return clusters.map((c, i) => {
    const type = ec2TypeOf(brokerType(c) ?? '');
    const spec = type ? specs.get(type) : undefined;
    const ids = brokerIds[i]!;
    return {
      resource: {
        ...baseRow(shard, options),
        resourceArn: c.ClusterArn!,
        resourceType: c.ClusterType === 'SERVERLESS' ? 'serverless-cluster' : 'cluster',
        name: c.ClusterName!,
        state: c.State ?? 'unknown',
        tags: { ...(c.Tags ?? {}) },
        capacity: defined({
          brokers: c.Provisioned?.NumberOfBrokerNodes,
          vcpu: spec?.vcpu,
          memoryMiB: spec?.memoryMiB,
          storageGiB: c.Provisioned?.BrokerNodeGroupInfo?.StorageInfo?.EbsStorageInfo?.VolumeSize,
        }),
        attributes: strings({ brokerType: brokerType(c) }),
      },
      target: { service: 'msk', clusterName: c.ClusterName!, brokerIds: ids },
    };
  });
}
