/**
 * CloudWatch collection: which metrics each service gets, the period-aligned window, the query plan
 * (at most 500 queries per GetMetricData call, one StartTime/EndTime/Period per call) and the fetch.
 *
 * API calls: GetMetricData for every datapoint, plus ONE paginated ListMetrics over the CWAgent
 * namespace per EC2 shard. That ListMetrics call is the only other CloudWatch call the collector makes:
 * CWAgent dimensions are whatever the agent config appends (InstanceId alone, or with ImageId,
 * InstanceType, and path/device/fstype for disks), a MetricStat must name them exactly, and an
 * instance without the agent must be told apart from one that was idle.
 *
 * Statistics: Average and Maximum everywhere, plus Minimum for the "free" RDS metrics (the least free
 * storage or memory is the peak use), except EC2 network bytes: Sum and Maximum (bytes per period,
 * right for basic and detailed monitoring alike). No p95: with 60-300 s periods and 1-5 samples per period a
 * per-period p95 is the Maximum at the same price; the report derives window percentiles from the
 * per-period rows instead.
 *
 * Several CloudWatch series that must become one row (an instance's mounted filesystems, an MSK
 * cluster's brokers) are folded with a metric math expression whose inputs travel in the same call.
 */
import {
  type CloudWatchClient,
  type Dimension,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
  type Metric,
  type MetricDataQuery,
  paginateListMetrics,
  type StatusCode,
} from '@aws-sdk/client-cloudwatch';
import type { DiscoveredResource } from './discovery.ts';
import type { MetricRow, Service } from './rows.ts';

/** A statistic the collector requests. */
export type Statistic = MetricRow['statistic'];
/** A CloudWatch unit as stored in rows. */
export type Unit = MetricRow['unit'];

/** GetMetricData accepts at most this many MetricDataQuery structures per call. */
export const MAX_QUERIES_PER_CALL = 500;

/** One collection window: [start, end), both on the period grid. */
export interface CollectionWindow {
  readonly start: Date;
  readonly end: Date;
  readonly periodSeconds: number;
}

/**
 * The period-aligned window to collect: it ends on the period grid at or before `now - delay` (so
 * late datapoints have arrived) and spans whole periods covering at least `lookbackMinutes`.
 * @param now the instant of the run (use the workflow's start so every shard shares one window)
 * @param lookbackMinutes width to cover
 * @param periodSeconds CloudWatch period: 1, 5, 10, 30 or a multiple of 60
 * @param delayMinutes how long before `now` the window must end
 */
export function computeWindow(
  now: Date,
  lookbackMinutes: number,
  periodSeconds: number,
  delayMinutes: number,
): CollectionWindow {
  if (Number.isNaN(now.getTime())) throw new Error(`invalid now ${String(now)}`);
  if (!Number.isInteger(periodSeconds) || periodSeconds <= 0) {
    throw new Error(`periodSeconds must be a positive integer, got ${periodSeconds}`);
  }
  if (periodSeconds >= 60 ? periodSeconds % 60 !== 0 : ![1, 5, 10, 30].includes(periodSeconds)) {
    throw new Error(`periodSeconds must be 1, 5, 10, 30 or a multiple of 60, got ${periodSeconds}`);
  }
  if (!(lookbackMinutes > 0)) throw new Error(`lookbackMinutes must be positive, got ${lookbackMinutes}`);
  if (!(delayMinutes >= 0)) throw new Error(`delayMinutes must be zero or more, got ${delayMinutes}`);
  const periodMs = periodSeconds * 1000;
  const endMs = Math.floor((now.getTime() - delayMinutes * 60_000) / periodMs) * periodMs;
  const periods = Math.max(1, Math.ceil((lookbackMinutes * 60_000) / periodMs));
  return { start: new Date(endMs - periods * periodMs), end: new Date(endMs), periodSeconds };
}

/** How an expression folds several series (brokers, filesystems) into the resource's one row. */
type Fold = 'AVG' | 'MAX' | 'SUM';

/** A metric the collector requests for every resource of a service. */
export interface MetricSpec {
  readonly namespace: string;
  readonly metricName: string;
  readonly unit: Unit;
  readonly statistics: readonly Statistic[];
  /** For MSK: how each statistic folds across brokers. */
  readonly brokerFold?: Partial<Record<Statistic, Fold>>;
}

const AVG_MAX: readonly Statistic[] = ['Average', 'Maximum'];
const FREE: readonly Statistic[] = ['Average', 'Minimum', 'Maximum'];
/**
 * EC2 network bytes: `Sum` is the bytes moved in the period whatever the monitoring interval, where an
 * `Average` is bytes per sample (5 minutes basic, 1 minute detailed) and undercounts detailed monitoring
 * 5x when read as 5-minute bytes. `Maximum` keeps the busiest sample.
 */
const BYTES_SUM_MAX: readonly Statistic[] = ['Sum', 'Maximum'];
/** Broker CPU: the cluster mean and the hottest broker. */
const CPU_FOLD = { Average: 'AVG', Maximum: 'MAX' } as const;
/** Broker throughput adds up; the Maximum row is the sum of broker peaks, an upper bound of the cluster peak. */
const BYTES_FOLD = { Average: 'SUM', Maximum: 'SUM' } as const;

/** The metrics collected per service, with their CloudWatch units. */
export const METRIC_CATALOG: Readonly<Record<Service, readonly MetricSpec[]>> = {
  ec2: [
    { namespace: 'AWS/EC2', metricName: 'CPUUtilization', unit: 'Percent', statistics: AVG_MAX },
    { namespace: 'AWS/EC2', metricName: 'NetworkIn', unit: 'Bytes', statistics: BYTES_SUM_MAX },
    { namespace: 'AWS/EC2', metricName: 'NetworkOut', unit: 'Bytes', statistics: BYTES_SUM_MAX },
  ],
  rds: [
    { namespace: 'AWS/RDS', metricName: 'CPUUtilization', unit: 'Percent', statistics: AVG_MAX },
    { namespace: 'AWS/RDS', metricName: 'DatabaseConnections', unit: 'Count', statistics: AVG_MAX },
    { namespace: 'AWS/RDS', metricName: 'FreeStorageSpace', unit: 'Bytes', statistics: FREE },
    { namespace: 'AWS/RDS', metricName: 'FreeableMemory', unit: 'Bytes', statistics: FREE },
  ],
  ecs: [
    { namespace: 'AWS/ECS', metricName: 'CPUUtilization', unit: 'Percent', statistics: AVG_MAX },
    { namespace: 'AWS/ECS', metricName: 'MemoryUtilization', unit: 'Percent', statistics: AVG_MAX },
  ],
  msk: [
    // AWS guidance sizes brokers on CpuUser + CpuSystem, so both are collected.
    {
      namespace: 'AWS/Kafka',
      metricName: 'CpuUser',
      unit: 'Percent',
      statistics: AVG_MAX,
      brokerFold: CPU_FOLD,
    },
    {
      namespace: 'AWS/Kafka',
      metricName: 'CpuSystem',
      unit: 'Percent',
      statistics: AVG_MAX,
      brokerFold: CPU_FOLD,
    },
    {
      namespace: 'AWS/Kafka',
      metricName: 'BytesInPerSec',
      unit: 'Bytes/Second',
      statistics: AVG_MAX,
      brokerFold: BYTES_FOLD,
    },
    {
      namespace: 'AWS/Kafka',
      metricName: 'BytesOutPerSec',
      unit: 'Bytes/Second',
      statistics: AVG_MAX,
      brokerFold: BYTES_FOLD,
    },
  ],
};

/** The CloudWatch agent namespace and the two metrics read from it. */
export const AGENT_NAMESPACE = 'CWAgent';
/** Memory used by an instance, from the CloudWatch agent. */
export const AGENT_MEMORY = { metricName: 'mem_used_percent', unit: 'Percent', statistics: AVG_MAX } as const;
/** Disk used, from the CloudWatch agent; the row is the fullest real filesystem of the instance. */
export const AGENT_DISK = { metricName: 'disk_used_percent', unit: 'Percent', statistics: AVG_MAX } as const;

/** Pseudo filesystems that are always full or always empty (snap squashfs is 100% used by design). */
const IGNORED_FS_TYPES = new Set(['tmpfs', 'devtmpfs', 'overlay', 'squashfs', 'ramfs', 'nsfs', 'autofs']);

/** What the CloudWatch agent publishes, per EC2 instance ID. */
export interface AgentInventory {
  /** The dimension set of `mem_used_percent` per instance. */
  readonly memory: ReadonlyMap<string, Dimension[]>;
  /** One dimension set of `disk_used_percent` per real filesystem path, per instance. */
  readonly disks: ReadonlyMap<string, Dimension[][]>;
}

/** An empty inventory: no instance has the agent. */
export const NO_AGENT: AgentInventory = { memory: new Map(), disks: new Map() };

function dimensionKey(dims: readonly Dimension[]): string {
  return JSON.stringify([...dims].sort((a, b) => (a.Name ?? '').localeCompare(b.Name ?? '')));
}

/** Prefers the richest dimension set, then a stable order, so the choice does not flap between runs. */
function better(a: Dimension[], b: Dimension[] | undefined): boolean {
  if (!b) return true;
  if (a.length !== b.length) return a.length > b.length;
  return dimensionKey(a) < dimensionKey(b);
}

/**
 * Builds the agent inventory from ListMetrics results (pure).
 * @param metrics CWAgent metrics as ListMetrics returns them
 */
export function agentInventoryFrom(metrics: readonly Metric[]): AgentInventory {
  const memory = new Map<string, Dimension[]>();
  const disks = new Map<string, Map<string, Dimension[]>>();
  for (const m of metrics) {
    const dims = m.Dimensions ?? [];
    const get = (name: string) => dims.find((d) => d.Name === name)?.Value;
    const instanceId = get('InstanceId');
    if (!instanceId) continue;
    if (m.MetricName === AGENT_MEMORY.metricName) {
      if (better(dims, memory.get(instanceId))) memory.set(instanceId, dims);
    } else if (m.MetricName === AGENT_DISK.metricName) {
      const path = get('path');
      if (!path || IGNORED_FS_TYPES.has(get('fstype') ?? '')) continue;
      const byPath = disks.get(instanceId) ?? new Map<string, Dimension[]>();
      if (better(dims, byPath.get(path))) byPath.set(path, dims);
      disks.set(instanceId, byPath);
    }
  }
  const diskSets = new Map<string, Dimension[][]>();
  for (const [id, byPath] of disks) {
    diskSets.set(
      id,
      [...byPath.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, d]) => d),
    );
  }
  return { memory, disks: diskSets };
}

/**
 * Lists what the CloudWatch agent publishes in the shard (one paginated ListMetrics over CWAgent).
 * @param cw CloudWatch client of the shard
 * @param recentlyActive limit to metrics with data in the last three hours (right for a current window)
 * @returns the inventory and the number of ListMetrics calls made
 */
export async function listAgentMetrics(
  cw: CloudWatchClient,
  recentlyActive: boolean,
): Promise<{ inventory: AgentInventory; listMetricsCalls: number }> {
  const metrics: Metric[] = [];
  let listMetricsCalls = 0;
  for await (const page of paginateListMetrics(
    { client: cw },
    { Namespace: AGENT_NAMESPACE, ...(recentlyActive ? { RecentlyActive: 'PT3H' as const } : {}) },
  )) {
    listMetricsCalls++;
    metrics.push(...(page.Metrics ?? []));
  }
  return { inventory: agentInventoryFrom(metrics), listMetricsCalls };
}

/** What one returned series is: the resource, metric, statistic and unit of its rows. */
export interface SeriesRef {
  readonly id: string;
  readonly resourceArn: string;
  readonly resourceType: string;
  readonly service: Service;
  readonly metric: string;
  readonly statistic: Statistic;
  readonly unit: Unit;
  /** True for CWAgent series: data here means the instance has the agent. */
  readonly agent: boolean;
}

/**
 * The smallest set of queries that must travel in one call: a returned series and, for an expression,
 * its inputs.
 */
export interface QueryUnit {
  readonly ref: SeriesRef;
  readonly queries: readonly MetricDataQuery[];
  /** MetricStat queries in the unit (what CloudWatch bills as metrics requested). */
  readonly metricStats: number;
  readonly window: CollectionWindow;
}

/** Queries for a shard, and the resources that needed none. */
export interface QuerySet {
  readonly units: QueryUnit[];
  /** ARNs left out: instances stopped or terminated before the window began. */
  readonly skipped: string[];
}

type Dims = Dimension[];

/**
 * Builds the query units of a shard (pure). IDs are `q<n>` for returned series and `q<n>_<k>` for
 * expression inputs, which satisfies `^[a-z][a-zA-Z0-9_]*$` and stays unique across every call.
 * Instances without agent metrics get no memory or disk query at all.
 * @param resources discovered resources with their metric keys
 * @param window the collection window
 * @param agent what the CloudWatch agent publishes (EC2 only)
 */
export function buildQueries(
  resources: readonly DiscoveredResource[],
  window: CollectionWindow,
  agent: AgentInventory = NO_AGENT,
): QuerySet {
  const units: QueryUnit[] = [];
  const skipped: string[] = [];
  let n = 0;
  const period = window.periodSeconds;
  const stat = (
    id: string,
    namespace: string,
    metricName: string,
    dims: Dims,
    s: Statistic,
    returnData: boolean,
  ) =>
    ({
      Id: id,
      MetricStat: {
        Metric: { Namespace: namespace, MetricName: metricName, Dimensions: dims },
        Period: period,
        Stat: s,
      },
      ReturnData: returnData,
    }) satisfies MetricDataQuery;

  /** One row stream: a single series, or an expression folding several. */
  const add = (
    r: DiscoveredResource,
    namespace: string,
    metric: { metricName: string; unit: Unit },
    s: Statistic,
    series: readonly Dims[],
    fold: Fold,
    isAgent = false,
  ) => {
    if (series.length === 0) return;
    const id = `q${n++}`;
    const ref: SeriesRef = {
      id,
      resourceArn: r.resource.resourceArn,
      resourceType: r.resource.resourceType,
      service: r.resource.service,
      metric: metric.metricName,
      statistic: s,
      unit: metric.unit,
      agent: isAgent,
    };
    if (series.length === 1) {
      units.push({
        ref,
        queries: [stat(id, namespace, metric.metricName, series[0]!, s, true)],
        metricStats: 1,
        window,
      });
      return;
    }
    const inputs = series.map((dims, k) => stat(`${id}_${k}`, namespace, metric.metricName, dims, s, false));
    const expression: MetricDataQuery = {
      Id: id,
      Expression: `${fold}([${inputs.map((q) => q.Id).join(', ')}])`,
      ReturnData: true,
    };
    units.push({ ref, queries: [...inputs, expression], metricStats: inputs.length, window });
  };

  for (const r of resources) {
    const t = r.target;
    switch (t.service) {
      case 'ec2': {
        if (t.stoppedAt && t.stoppedAt.getTime() <= window.start.getTime()) {
          skipped.push(r.resource.resourceArn);
          break;
        }
        const dims = [{ Name: 'InstanceId', Value: t.instanceId }];
        for (const m of METRIC_CATALOG.ec2)
          for (const s of m.statistics) add(r, m.namespace, m, s, [dims], 'MAX');
        const memory = agent.memory.get(t.instanceId);
        if (memory)
          for (const s of AGENT_MEMORY.statistics)
            add(r, AGENT_NAMESPACE, AGENT_MEMORY, s, [memory], 'MAX', true);
        const disks = agent.disks.get(t.instanceId) ?? [];
        for (const s of AGENT_DISK.statistics) add(r, AGENT_NAMESPACE, AGENT_DISK, s, disks, 'MAX', true);
        break;
      }
      case 'rds': {
        const dims = [{ Name: 'DBInstanceIdentifier', Value: t.dbInstanceIdentifier }];
        for (const m of METRIC_CATALOG.rds)
          for (const s of m.statistics) add(r, m.namespace, m, s, [dims], 'MAX');
        break;
      }
      case 'ecs': {
        const dims = [
          { Name: 'ClusterName', Value: t.clusterName },
          { Name: 'ServiceName', Value: t.serviceName },
        ];
        for (const m of METRIC_CATALOG.ecs)
          for (const s of m.statistics) add(r, m.namespace, m, s, [dims], 'MAX');
        break;
      }
      case 'msk': {
        const brokers = t.brokerIds.map((b) => [
          { Name: 'Cluster Name', Value: t.clusterName },
          { Name: 'Broker ID', Value: b },
        ]);
        for (const m of METRIC_CATALOG.msk) {
          for (const s of m.statistics) add(r, m.namespace, m, s, brokers, m.brokerFold?.[s] ?? 'AVG');
        }
        break;
      }
    }
  }
  return { units, skipped };
}

/** One GetMetricData request (before pagination): one window and period, at most 500 queries. */
export interface CallPlan {
  readonly window: CollectionWindow;
  readonly units: readonly QueryUnit[];
  readonly queries: readonly MetricDataQuery[];
  readonly metricStats: number;
}

/**
 * Packs query units into calls (pure): grouped by window and period, each group packed first-fit
 * decreasing into calls of at most `maxQueries`, keeping every expression with its inputs. With
 * single-query units this is exactly ceil(Q / 500) calls per group.
 * @param units query units
 * @param maxQueries queries per call @default 500
 */
export function planCalls(units: readonly QueryUnit[], maxQueries = MAX_QUERIES_PER_CALL): CallPlan[] {
  const groups = new Map<string, QueryUnit[]>();
  for (const u of units) {
    if (u.queries.length > maxQueries) {
      throw new Error(
        `query unit ${u.ref.id} has ${u.queries.length} queries, more than ${maxQueries} per call`,
      );
    }
    const key = `${u.window.start.toISOString()}|${u.window.end.toISOString()}|${u.window.periodSeconds}`;
    const group = groups.get(key) ?? [];
    group.push(u);
    groups.set(key, group);
  }
  const plans: CallPlan[] = [];
  for (const group of groups.values()) {
    const bins: { units: QueryUnit[]; size: number }[] = [];
    const bySize = group
      .map((u, i) => ({ u, i }))
      .sort((a, b) => b.u.queries.length - a.u.queries.length || a.i - b.i);
    for (const { u } of bySize) {
      const bin = bins.find((b) => b.size + u.queries.length <= maxQueries);
      if (bin) {
        bin.units.push(u);
        bin.size += u.queries.length;
      } else bins.push({ units: [u], size: u.queries.length });
    }
    for (const bin of bins) {
      plans.push({
        window: group[0]!.window,
        units: bin.units,
        queries: bin.units.flatMap((u) => u.queries),
        metricStats: bin.units.reduce((a, u) => a + u.metricStats, 0),
      });
    }
  }
  return plans;
}

/** The datapoints of one returned series, merged over every page. */
export interface SeriesData {
  readonly timestamps: Date[];
  readonly values: number[];
  status: StatusCode | undefined;
}

/** What a fetch returned and what it cost. */
export interface FetchResult {
  /** Returned series by query ID. */
  readonly series: Map<string, SeriesData>;
  /** GetMetricData requests made, pages and retries of failed series included. */
  getMetricDataCalls: number;
  /** MetricStat queries sent, summed over requests (pages included): the billed quantity, at most. */
  metricsRequested: number;
  /** Series CloudWatch refused (StatusCode Forbidden). */
  readonly forbidden: string[];
  /** Series still incomplete after the retries (InternalError, or PartialData with no NextToken). */
  readonly incomplete: string[];
  /** CloudWatch messages (MessageData) worth logging. */
  readonly messages: string[];
}

/** Fetch settings. */
export interface FetchOptions {
  /** Extra rounds for series CloudWatch answered with InternalError. @default 2 */
  readonly internalErrorRetries?: number;
}

/**
 * Runs the call plan with GetMetricData, following NextToken until each call is complete, merging the
 * pages of every series, and retrying (in fresh calls) the series CloudWatch answered with
 * InternalError. Throttling is the client's business: build it with `retryMode: 'adaptive'`.
 * @param cw CloudWatch client of the shard
 * @param plans the call plan
 * @param options retry settings
 */
export async function fetchMetricData(
  cw: CloudWatchClient,
  plans: readonly CallPlan[],
  options: FetchOptions = {},
): Promise<FetchResult> {
  const result: FetchResult = {
    series: new Map(),
    getMetricDataCalls: 0,
    metricsRequested: 0,
    forbidden: [],
    incomplete: [],
    messages: [],
  };
  let pending = plans;
  for (let round = 0; pending.length > 0; round++) {
    const failed: QueryUnit[] = [];
    for (const plan of pending) {
      const unitsById = new Map(plan.units.map((u) => [u.ref.id, u]));
      // A retried series starts over: its earlier pages may hold a partial answer.
      for (const id of unitsById.keys())
        result.series.set(id, { timestamps: [], values: [], status: undefined });
      let nextToken: string | undefined;
      do {
        const input: GetMetricDataCommandInput = {
          MetricDataQueries: [...plan.queries],
          StartTime: plan.window.start,
          EndTime: plan.window.end,
          ScanBy: 'TimestampAscending',
          ...(nextToken ? { NextToken: nextToken } : {}),
        };
        const out = await cw.send(new GetMetricDataCommand(input));
        result.getMetricDataCalls++;
        result.metricsRequested += plan.metricStats;
        for (const m of out.Messages ?? []) result.messages.push(`${m.Code ?? 'message'}: ${m.Value ?? ''}`);
        for (const r of out.MetricDataResults ?? []) {
          const series = r.Id ? result.series.get(r.Id) : undefined;
          if (!series) continue;
          const ts = r.Timestamps ?? [];
          const vs = r.Values ?? [];
          for (let i = 0; i < Math.min(ts.length, vs.length); i++) {
            series.timestamps.push(ts[i]!);
            series.values.push(vs[i]!);
          }
          series.status = r.StatusCode;
          for (const m of r.Messages ?? [])
            result.messages.push(`${r.Id}: ${m.Code ?? 'message'}: ${m.Value ?? ''}`);
        }
        nextToken = out.NextToken;
      } while (nextToken);
      for (const [id, unit] of unitsById) {
        const status = result.series.get(id)?.status;
        if (status === 'Forbidden') result.forbidden.push(id);
        else if (status === 'InternalError') failed.push(unit);
        else if (status === 'PartialData') result.incomplete.push(id);
      }
    }
    if (failed.length > 0 && round >= (options.internalErrorRetries ?? 2)) {
      result.incomplete.push(...failed.map((u) => u.ref.id));
      break;
    }
    pending = planCalls(failed);
  }
  return result;
}
