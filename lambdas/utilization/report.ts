/**
 * The under-use report: resources that the policy (`UnderUsePolicySchema` in contracts/utilization.ts)
 * says are idle, with the evidence, an estimated monthly cost, ranked by money; plus collection health
 * per shard from the batch ledger, and the gauges pushed to Prometheus.
 *
 * Statistics are computed in SQL (`percentile_cont` over `metric_rows`) and only findings leave the
 * database (the Data API answers at most 1 MiB). Per service, over the policy's `days` up to `asOf`:
 * - ec2: p95 of CPUUtilization (Average per period) below `cpuP95BelowPercent`, and network in+out per
 *   day below `networkBytesPerDayBelow`. The collector stores `Sum` rows (bytes per period, right for
 *   basic and detailed monitoring alike) and the report scales their total by the seconds they cover.
 *   Data stored before Sum was collected falls back to mean Average x 288, exact for basic
 *   monitoring's 5-minute samples and 5x low for detailed monitoring.
 * - rds: the largest DatabaseConnections datapoint below `maxConnectionsBelow` (1: no connection at all).
 * - ecs: p95 of CPUUtilization and of MemoryUtilization (Average) below their thresholds. Memory is
 *   only trusted when the resource has memory metrics (`has_agent_metrics`): a service without them is
 *   never flagged on memory, and so never flagged.
 * - msk: p95 of the busiest broker's CpuUser + CpuSystem (Maximum rows) below `cpuP95BelowPercent`,
 *   and p95 of the cluster's BytesInPerSec below `bytesInPerSecBelow`.
 * A resource is only judged when its data covers at least `minCoverage` of the window (a resource
 * created yesterday is not "idle for 14 days"), it was seen by the last collections (`liveWithinHours`)
 * and its state is not a terminal or stopped one.
 */
import { type SQL, sql } from 'drizzle-orm';
import { type AdvicePolicy, AdvicePolicySchema, type UnderUsePolicy } from '#contracts/utilization';
import { type Db, resultRows } from '#shared/db/client';
import { type CostEstimate, estimateMonthlyCost, type PricePort } from './pricing.ts';
import {
  type CapacityForecast,
  findCapacityForecasts,
  findRightsizing,
  type RightsizingEntry,
  type TrendSummary,
} from './report-advice.ts';
import {
  DEFAULT_LIVE_WITHIN_HOURS,
  DEFAULT_MIN_COVERAGE,
  inWindow,
  iso,
  type JudgedRow,
  judged,
  num,
  type ReportedResource,
  type Window,
  windowFor,
} from './report-sql.ts';
import type { Service } from './rows.ts';

export { DEFAULT_LIVE_WITHIN_HOURS, DEFAULT_MIN_COVERAGE, INACTIVE_STATES } from './report-sql.ts';

/**
 * Shards without any ledger entry for this long drop out of the health figures (an account or region
 * removed from the config stops alerting after this; a shard silent for less keeps its last success).
 */
export const HEALTH_HORIZON_DAYS = 7;
/** Bytes an EC2 basic-monitoring datapoint covers per day: 288 five-minute samples. */
const BASIC_MONITORING_SAMPLES_PER_DAY = 288;

/** One under-used resource. */
export interface Finding extends ReportedResource {
  readonly state: string;
  /** Why it is reported, in words. */
  readonly reason: string;
  /** The measured figures behind the reason (percent, bytes per day, bytes per second, counts, coverage 0-1). */
  readonly evidence: Readonly<Record<string, number>>;
  /** Days of the policy window. */
  readonly days: number;
  /** Estimated monthly on-demand cost in USD; undefined when it could not be priced. */
  readonly monthlyUsd?: number;
  readonly costBasis: string;
}

/** Collection health of one shard, from the batch ledger. */
export interface ShardHealth {
  readonly accountId: string;
  readonly region: string;
  readonly service: string;
  /** `collectedAt` of the newest stored batch (epoch seconds). */
  readonly lastSuccessSeconds?: number;
  /** End of the newest stored window (epoch seconds). */
  readonly lastWindowEndSeconds?: number;
  /** Rejected deliveries recorded in the 24 hours before the report was generated. */
  readonly rejectedLast24h: number;
}

/** Totals of findings for one service and account. */
export interface ReportTotal {
  readonly service: string;
  readonly accountId: string;
  readonly findings: number;
  readonly monthlyUsd: number;
  readonly unpriced: number;
}

/** A whole report. */
export interface UtilizationReport {
  readonly generatedAt: string;
  readonly asOf: string;
  readonly policy: UnderUsePolicy;
  /** Ranked: priced findings by cost (highest first), then unpriced ones. */
  readonly findings: Finding[];
  /** One entry per service and account that has findings or collected shards. */
  readonly totals: ReportTotal[];
  readonly shards: ShardHealth[];
  /** The rightsizing and trend settings the advice sections were made with. */
  readonly advice: AdvicePolicy;
  /** Rightsizing recommendations, ranked by monthly saving (highest first). */
  readonly rightsizing: RightsizingEntry[];
  /** Resource metrics projected to cross their threshold, soonest first. */
  readonly forecasts: CapacityForecast[];
  /** How many series were fitted and why the others have no forecast. */
  readonly trends: TrendSummary;
}

/** Options of `buildReport` and `findUnderused`. */
export interface ReportOptions {
  /** End of the judged windows. @default now */
  readonly asOf?: Date;
  /** @default DEFAULT_MIN_COVERAGE */
  readonly minCoverage?: number;
  /** @default DEFAULT_LIVE_WITHIN_HOURS */
  readonly liveWithinHours?: number;
  /** Clock for `generatedAt` and for the ledger health figures (arrival times). @default () => new Date() */
  readonly now?: () => Date;
  /** Rightsizing and trend settings (buildReport). @default AdvicePolicySchema defaults */
  readonly advice?: AdvicePolicy;
}

/** A finding before pricing. */
export type UnpricedFinding = Omit<Finding, 'monthlyUsd' | 'costBasis'> & {
  readonly attributes: Record<string, string>;
  readonly capacity: Record<string, number>;
};

function ec2Query(w: Window, p: UnderUsePolicy['ec2']): SQL {
  const stats = sql`
    select resource_arn, covered_seconds, cpu_p95, cpu_max,
           case when net_sum_seconds > 0 then net_sum_bytes * 86400.0 / net_sum_seconds
                else (coalesce(net_in_avg, 0) + coalesce(net_out_avg, 0)) * ${BASIC_MONITORING_SAMPLES_PER_DAY}::float8
           end as network_bytes_per_day,
           (net_sum_seconds > 0 or net_in_avg is not null or net_out_avg is not null) as has_network
      from (
        select resource_arn,
               coalesce(sum(period_seconds) filter (where metric = 'CPUUtilization' and statistic = 'Average'), 0)::float8 as covered_seconds,
               percentile_cont(0.95) within group (order by value) filter (where metric = 'CPUUtilization' and statistic = 'Average') as cpu_p95,
               max(value) filter (where metric = 'CPUUtilization' and statistic = 'Maximum') as cpu_max,
               sum(value) filter (where metric in ('NetworkIn', 'NetworkOut') and statistic = 'Sum') as net_sum_bytes,
               sum(period_seconds) filter (where metric = 'NetworkIn' and statistic = 'Sum') as net_sum_seconds,
               avg(value) filter (where metric = 'NetworkIn' and statistic = 'Average') as net_in_avg,
               avg(value) filter (where metric = 'NetworkOut' and statistic = 'Average') as net_out_avg
          from metric_rows where ${inWindow(w)}
         group by resource_arn
      ) a`;
  return judged(
    w,
    stats,
    sql`s.cpu_p95 < ${p.cpuP95BelowPercent}::float8 and s.has_network and s.network_bytes_per_day < ${p.networkBytesPerDayBelow}::float8`,
  );
}

function rdsQuery(w: Window, p: UnderUsePolicy['rds']): SQL {
  const stats = sql`
    select resource_arn,
           coalesce(sum(period_seconds) filter (where metric = 'DatabaseConnections' and statistic = 'Maximum'), 0)::float8 as covered_seconds,
           max(value) filter (where metric = 'DatabaseConnections') as connections_max,
           percentile_cont(0.95) within group (order by value) filter (where metric = 'CPUUtilization' and statistic = 'Average') as cpu_p95
      from metric_rows where ${inWindow(w)}
     group by resource_arn`;
  return judged(w, stats, sql`s.connections_max < ${p.maxConnectionsBelow}::float8`);
}

function ecsQuery(w: Window, p: UnderUsePolicy['ecs']): SQL {
  const stats = sql`
    select resource_arn,
           coalesce(sum(period_seconds) filter (where metric = 'CPUUtilization' and statistic = 'Average'), 0)::float8 as covered_seconds,
           percentile_cont(0.95) within group (order by value) filter (where metric = 'CPUUtilization' and statistic = 'Average') as cpu_p95,
           percentile_cont(0.95) within group (order by value) filter (where metric = 'MemoryUtilization' and statistic = 'Average') as memory_p95
      from metric_rows where ${inWindow(w)}
     group by resource_arn`;
  // Memory evidence counts only where memory is measured; without it the resource is not judged idle.
  return judged(
    w,
    stats,
    sql`s.cpu_p95 < ${p.cpuP95BelowPercent}::float8 and r.has_agent_metrics and s.memory_p95 < ${p.memoryP95BelowPercent}::float8`,
  );
}

function mskQuery(w: Window, p: UnderUsePolicy['msk']): SQL {
  const stats = sql`
    select resource_arn,
           coalesce(sum(period_seconds) filter (where cpu_parts = 2), 0)::float8 as covered_seconds,
           percentile_cont(0.95) within group (order by cpu) filter (where cpu_parts = 2) as cpu_p95,
           percentile_cont(0.95) within group (order by bytes_in) filter (where bytes_in is not null) as bytes_in_p95
      from (
        select resource_arn, period_start, period_seconds,
               sum(value) filter (where metric in ('CpuUser', 'CpuSystem') and statistic = 'Maximum') as cpu,
               count(*) filter (where metric in ('CpuUser', 'CpuSystem') and statistic = 'Maximum') as cpu_parts,
               sum(value) filter (where metric = 'BytesInPerSec' and statistic = 'Average') as bytes_in
          from metric_rows where ${inWindow(w)}
         group by resource_arn, period_start, period_seconds
      ) per_period
     group by resource_arn`;
  return judged(
    w,
    stats,
    sql`s.cpu_p95 < ${p.cpuP95BelowPercent}::float8 and s.bytes_in_p95 < ${p.bytesInPerSecBelow}::float8`,
  );
}

const pct = (v: number | undefined) => (v === undefined ? 'n/a' : `${v < 10 ? v.toFixed(2) : v.toFixed(1)}%`);

/** Human units for bytes (binary prefixes). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? Math.round(v) : Number(v.toPrecision(3))} ${units[i]}`;
}

/**
 * Finds under-used resources (before pricing), per the policy.
 * @param db the utilization database
 * @param policy thresholds and windows per service
 * @param options asOf, coverage and liveness bounds
 */
export async function findUnderused(
  db: Db,
  policy: UnderUsePolicy,
  options: ReportOptions = {},
): Promise<UnpricedFinding[]> {
  const asOf = options.asOf ?? new Date();
  const minCoverage = options.minCoverage ?? DEFAULT_MIN_COVERAGE;
  const liveWithinHours = options.liveWithinHours ?? DEFAULT_LIVE_WITHIN_HOURS;
  const bounds = { asOf, minCoverage, liveWithinHours };
  const window = (service: Service, days: number): Window => windowFor(service, days, bounds);
  const plans: {
    service: Service;
    days: number;
    query: SQL;
    describe: (r: JudgedRow) => { reason: string; evidence: Record<string, number> };
  }[] = [
    {
      service: 'ec2',
      days: policy.ec2.days,
      query: ec2Query(window('ec2', policy.ec2.days), policy.ec2),
      describe: (r) => {
        const cpu = num(r.cpu_p95)!;
        const net = num(r.network_bytes_per_day)!;
        return {
          reason: `CPU p95 ${pct(cpu)} < ${policy.ec2.cpuP95BelowPercent}% and network ${formatBytes(net)}/day < ${formatBytes(policy.ec2.networkBytesPerDayBelow)}/day over ${policy.ec2.days} days`,
          evidence: { cpuP95Percent: cpu, ...opt('cpuMaxPercent', num(r.cpu_max)), networkBytesPerDay: net },
        };
      },
    },
    {
      service: 'rds',
      days: policy.rds.days,
      query: rdsQuery(window('rds', policy.rds.days), policy.rds),
      describe: (r) => {
        const max = num(r.connections_max)!;
        const cpu = num(r.cpu_p95);
        return {
          reason:
            max === 0
              ? `no database connections in ${policy.rds.days} days`
              : `at most ${max} database connections (< ${policy.rds.maxConnectionsBelow}) in ${policy.rds.days} days`,
          evidence: { maxConnections: max, ...opt('cpuP95Percent', cpu) },
        };
      },
    },
    {
      service: 'ecs',
      days: policy.ecs.days,
      query: ecsQuery(window('ecs', policy.ecs.days), policy.ecs),
      describe: (r) => {
        const cpu = num(r.cpu_p95)!;
        const mem = num(r.memory_p95)!;
        return {
          reason: `CPU p95 ${pct(cpu)} < ${policy.ecs.cpuP95BelowPercent}% and memory p95 ${pct(mem)} < ${policy.ecs.memoryP95BelowPercent}% over ${policy.ecs.days} days`,
          evidence: { cpuP95Percent: cpu, memoryP95Percent: mem },
        };
      },
    },
    {
      service: 'msk',
      days: policy.msk.days,
      query: mskQuery(window('msk', policy.msk.days), policy.msk),
      describe: (r) => {
        const cpu = num(r.cpu_p95)!;
        const bytesIn = num(r.bytes_in_p95)!;
        return {
          reason: `busiest broker CPU (user+system) p95 ${pct(cpu)} < ${policy.msk.cpuP95BelowPercent}% and bytes in p95 ${formatBytes(bytesIn)}/s < ${formatBytes(policy.msk.bytesInPerSecBelow)}/s over ${policy.msk.days} days`,
          evidence: { cpuP95Percent: cpu, bytesInPerSecP95: bytesIn },
        };
      },
    },
  ];

  const findings: UnpricedFinding[] = [];
  for (const plan of plans) {
    const rows = resultRows<JudgedRow>(await db.execute(plan.query));
    for (const r of rows) {
      const { reason, evidence } = plan.describe(r);
      findings.push({
        service: plan.service,
        accountId: r.account_id,
        region: r.region,
        resourceArn: r.arn,
        name: r.name,
        resourceType: r.type,
        state: r.state,
        reason,
        evidence: { ...evidence, coverage: Math.min(1, Number(r.covered_seconds) / (plan.days * 86_400)) },
        days: plan.days,
        attributes: JSON.parse(r.attributes) as Record<string, string>,
        capacity: JSON.parse(r.capacity) as Record<string, number>,
      });
    }
  }
  return findings;
}

function opt(key: string, value: number | undefined): Record<string, number> {
  return value === undefined ? {} : { [key]: value };
}

/**
 * Collection health per shard from the batch ledger, as of the wall clock (ledger times are arrival
 * times, not data times).
 * @param db the utilization database
 * @param now the end of the 24 hours over which rejections are counted
 */
export async function shardHealth(db: Db, now: Date = new Date()): Promise<ShardHealth[]> {
  const asOf = now;
  const dayAgo = iso(new Date(asOf.getTime() - 86_400_000));
  const horizon = iso(new Date(asOf.getTime() - HEALTH_HORIZON_DAYS * 86_400_000));
  const rows = resultRows<{
    account_id: string;
    region: string;
    service: string;
    last_success: unknown;
    last_window_end: unknown;
    rejected: unknown;
  }>(
    await db.execute(sql`
      select account_id, region, service,
             extract(epoch from max(collected_at) filter (where status = 'stored'))::float8 as last_success,
             extract(epoch from max(window_end) filter (where status = 'stored'))::float8 as last_window_end,
             count(*) filter (where status = 'rejected' and updated_at >= ${dayAgo}::timestamptz) as rejected
        from batch_ledger
       where account_id is not null and region is not null and service is not null
       group by account_id, region, service
      having max(updated_at) >= ${horizon}::timestamptz
       order by account_id, region, service`),
  );
  return rows.map((r) => ({
    accountId: r.account_id,
    region: r.region,
    service: r.service,
    ...opt('lastSuccessSeconds', num(r.last_success)),
    ...opt('lastWindowEndSeconds', num(r.last_window_end)),
    rejectedLast24h: Number(r.rejected),
  }));
}

/** Orders findings: priced ones by cost, highest first, then unpriced ones; ties by service and ARN. */
export function rankFindings(findings: Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) =>
      (b.monthlyUsd ?? -1) - (a.monthlyUsd ?? -1) ||
      a.service.localeCompare(b.service) ||
      a.resourceArn.localeCompare(b.resourceArn),
  );
}

/**
 * Builds the whole report: findings priced and ranked, totals, and shard health.
 * @param db the utilization database
 * @param prices where prices come from (wrap in `CachedPrices`)
 * @param policy the under-use policy
 * @param options asOf, coverage and liveness bounds, clock
 */
export async function buildReport(
  db: Db,
  prices: PricePort,
  policy: UnderUsePolicy,
  options: ReportOptions = {},
): Promise<UtilizationReport> {
  const asOf = options.asOf ?? new Date();
  const raw = await findUnderused(db, policy, { ...options, asOf });
  const findings: Finding[] = [];
  for (const { attributes, capacity, ...f } of raw) {
    let cost: CostEstimate;
    try {
      cost = await estimateMonthlyCost(
        { service: f.service, region: f.region, attributes, capacity },
        prices,
      );
    } catch (err) {
      cost = { basis: `price lookup failed: ${(err as Error).message}` };
    }
    findings.push({
      ...f,
      ...(cost.monthlyUsd === undefined ? {} : { monthlyUsd: cost.monthlyUsd }),
      costBasis: cost.basis,
    });
  }
  const advice = options.advice ?? AdvicePolicySchema.parse({});
  const bounds = {
    asOf,
    minCoverage: options.minCoverage ?? DEFAULT_MIN_COVERAGE,
    liveWithinHours: options.liveWithinHours ?? DEFAULT_LIVE_WITHIN_HOURS,
  };
  const rightsizing = await findRightsizing(
    db,
    prices,
    { ec2: policy.ec2.days, rds: policy.rds.days, ecs: policy.ecs.days, msk: policy.msk.days },
    advice.rightsizing,
    bounds,
    new Set(findings.map((f) => f.resourceArn)),
  );
  const { forecasts, summary } = await findCapacityForecasts(db, advice.trends, bounds);
  const generatedAt = (options.now ?? (() => new Date()))();
  const shards = await shardHealth(db, generatedAt);
  const totals = new Map<
    string,
    { service: string; accountId: string; findings: number; monthlyUsd: number; unpriced: number }
  >();
  const total = (service: string, accountId: string) => {
    const key = `${service}\u0000${accountId}`;
    let t = totals.get(key);
    if (!t) {
      t = { service, accountId, findings: 0, monthlyUsd: 0, unpriced: 0 };
      totals.set(key, t);
    }
    return t;
  };
  for (const s of shards) total(s.service, s.accountId);
  for (const f of findings) {
    const t = total(f.service, f.accountId);
    t.findings++;
    if (f.monthlyUsd === undefined) t.unpriced++;
    else t.monthlyUsd = Math.round((t.monthlyUsd + f.monthlyUsd) * 100) / 100;
  }
  return {
    generatedAt: iso(generatedAt),
    asOf: iso(asOf),
    policy,
    findings: rankFindings(findings),
    totals: [...totals.values()].sort(
      (a, b) => a.service.localeCompare(b.service) || a.accountId.localeCompare(b.accountId),
    ),
    shards,
    advice,
    rightsizing,
    forecasts,
    trends: summary,
  };
}
