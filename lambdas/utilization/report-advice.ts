/**
 * The report's two advice sections over stored rows: rightsizing recommendations (rightsizing.ts)
 * and capacity forecasts (capacity-trends.ts). Statistics and line fits are computed in SQL; only one
 * row per candidate resource or rising series leaves the database.
 *
 * Rightsizing, per service over the under-use policy's `days` (the same judged window as the idle
 * findings: coverage, liveness, active state), per period then over the window:
 * - CPU p95 (EC2, RDS, ECS `CPUUtilization` Average; MSK the busiest broker's CpuUser + CpuSystem
 *   Maximum) and the days holding a period at or above it;
 * - memory: EC2 agent `mem_used_percent` p95, ECS `MemoryUtilization` p95, RDS the 5th percentile of
 *   `FreeableMemory` (Average);
 * - network: EC2 the busiest period's NetworkIn + NetworkOut Sum / period; MSK the busiest
 *   BytesInPerSec / BytesOutPerSec Maximum rows.
 * A resource reported idle is not rightsized (it should go, not shrink). Resources whose CPU p95 is
 * at or above `RIGHTSIZING_PREFILTER` x the target never leave the database: no cheaper option of
 * the table has that much more CPU capacity (checked by a test over the whole table).
 *
 * Trends over `trends.days` up to asOf: per resource the daily p95 (UTC days) of CPU (as above) and
 * of storage used (EC2 agent `disk_used_percent` Average of the fullest filesystem; RDS
 * 100 x (1 - FreeStorageSpace Minimum / allocated storage), not Aurora), fitted with PostgreSQL's
 * `regr_*` least squares against x = days from asOf.
 */
import { sql } from 'drizzle-orm';
import type { AdvicePolicy } from '#contracts/utilization';
import { type Db, resultRows } from '#shared/db/client';
import { type Fit, forecast, withResidual } from './capacity-trends.ts';
import type { PricePort } from './pricing.ts';
import {
  inactive,
  inWindow,
  iso,
  type JudgedRow,
  judged,
  num,
  type ReportedResource,
  type WindowBounds,
  windowFor,
} from './report-sql.ts';
import { type Observed, optionPrices, optionsFor, type Recommendation, recommend } from './rightsizing.ts';
import type { Service } from './rows.ts';

/** Resources at or above this multiple of the CPU target are not considered for rightsizing. */
export const RIGHTSIZING_PREFILTER = 2;

/** One recommendation with the resource it is for. */
export interface RightsizingEntry extends Recommendation, ReportedResource {
  /** Days of the policy window judged. */
  readonly days: number;
}

/** Metrics forecast. */
export type TrendMetric = 'cpu' | 'storage';

/** A resource metric projected to cross its threshold. */
export interface CapacityForecast extends Omit<ReportedResource, 'resourceType'> {
  readonly metric: TrendMetric;
  /** Percent the forecast projects to. */
  readonly thresholdPercent: number;
  readonly daysToCross: number;
  readonly crossesAt: string;
  /** The newest day's p95 (percent). */
  readonly lastP95Percent: number;
  readonly fit: Fit;
}

/** How many series were fitted and why the rest have no forecast. */
export interface TrendSummary {
  /** Resource metrics with daily data in the trend window. */
  readonly series: number;
  readonly forecasts: number;
  /** Fewer days with data than `minDays`. */
  readonly tooLittleHistory: number;
  /** Enough history but not rising, a weak fit, or a crossing beyond the horizon. */
  readonly noForecast: number;
}

/** Per-period columns of one service: cpu, mem, free_mem, net, bytes_in, bytes_out. */
const PER_PERIOD: Record<Service, ReturnType<typeof sql>> = {
  ec2: sql`max(value) filter (where metric = 'CPUUtilization' and statistic = 'Average') as cpu,
           max(value) filter (where metric = 'mem_used_percent' and statistic = 'Average') as mem,
           null::float8 as free_mem,
           sum(value) filter (where metric in ('NetworkIn', 'NetworkOut') and statistic = 'Sum') / period_seconds as net,
           null::float8 as bytes_in, null::float8 as bytes_out`,
  rds: sql`max(value) filter (where metric = 'CPUUtilization' and statistic = 'Average') as cpu,
           null::float8 as mem,
           max(value) filter (where metric = 'FreeableMemory' and statistic = 'Average') as free_mem,
           null::float8 as net, null::float8 as bytes_in, null::float8 as bytes_out`,
  ecs: sql`max(value) filter (where metric = 'CPUUtilization' and statistic = 'Average') as cpu,
           max(value) filter (where metric = 'MemoryUtilization' and statistic = 'Average') as mem,
           null::float8 as free_mem, null::float8 as net, null::float8 as bytes_in, null::float8 as bytes_out`,
  msk: sql`case when count(*) filter (where metric in ('CpuUser', 'CpuSystem') and statistic = 'Maximum') = 2
                then sum(value) filter (where metric in ('CpuUser', 'CpuSystem') and statistic = 'Maximum') end as cpu,
           null::float8 as mem, null::float8 as free_mem, null::float8 as net,
           max(value) filter (where metric = 'BytesInPerSec' and statistic = 'Maximum') as bytes_in,
           max(value) filter (where metric = 'BytesOutPerSec' and statistic = 'Maximum') as bytes_out`,
};

/** Resources per rightsizing query: one page's rows stay well inside the Data API's 1 MiB answer. */
export const RIGHTSIZING_PAGE = 500;

/** The page of a service's resources after `after` (ARN order), as SQL selecting `arn`. */
const pageOf = (service: Service, after: string, size: number) =>
  sql`select arn from resources where service = ${service} and arn > ${after} order by arn limit ${size}`;

/** Window statistics of one page of a service's resources for rightsizing. */
function sizingQuery(
  service: Service,
  days: number,
  bounds: WindowBounds,
  cpuBelow: number,
  page: ReturnType<typeof sql>,
) {
  const w = windowFor(service, days, bounds);
  const stats = sql`
    with per_period as (
      select resource_arn, period_start, period_seconds, ${PER_PERIOD[service]}
        from metric_rows where ${inWindow(w)} and resource_arn in (${page})
       group by resource_arn, period_start, period_seconds
    ), p as (
      select resource_arn,
             coalesce(sum(period_seconds) filter (where cpu is not null), 0)::float8 as covered_seconds,
             percentile_cont(0.95) within group (order by cpu) as cpu_p95,
             percentile_cont(0.95) within group (order by mem) as mem_p95,
             percentile_cont(0.05) within group (order by free_mem) as free_mem_p05,
             max(net) as net_max, max(bytes_in) as bytes_in_max, max(bytes_out) as bytes_out_max
        from per_period group by resource_arn
    )
    -- One join, not a subquery per resource: the days holding a period at or above the p95.
    select p.*, coalesce(d.cpu_peak_days, 0) as cpu_peak_days
      from p
      left join (
        select q.resource_arn, count(distinct date_trunc('day', q.period_start, 'UTC')) as cpu_peak_days
          from per_period q join p on p.resource_arn = q.resource_arn
         where q.cpu >= p.cpu_p95
         group by q.resource_arn
      ) d on d.resource_arn = p.resource_arn`;
  return judged(w, stats, sql`s.cpu_p95 < ${cpuBelow}::float8`);
}

function observedOf(r: JudgedRow): Observed {
  const opt = (key: keyof Observed, v: unknown) => (num(v) === undefined ? {} : { [key]: num(v) });
  return {
    cpuP95Percent: num(r.cpu_p95)!,
    cpuPeakDays: Number(r.cpu_peak_days),
    ...opt('memoryP95Percent', r.mem_p95),
    ...opt('freeableMemoryP05Bytes', r.free_mem_p05),
    ...opt('networkMaxBytesPerSec', r.net_max),
    ...opt('bytesInMaxPerSec', r.bytes_in_max),
    ...opt('bytesOutMaxPerSec', r.bytes_out_max),
  };
}

/**
 * Rightsizing recommendations, ranked by monthly saving (highest first; ties by service and ARN).
 * @param db the utilization database
 * @param prices the Price List port (catalog prices where it has none)
 * @param windows days per service (the under-use policy's)
 * @param policy CPU target and memory headroom
 * @param bounds asOf, coverage, liveness
 * @param skip ARNs not to rightsize (the idle findings)
 * @param pageSize resources per query @default RIGHTSIZING_PAGE
 */
export async function findRightsizing(
  db: Db,
  prices: PricePort,
  windows: Readonly<Record<Service, number>>,
  policy: AdvicePolicy['rightsizing'],
  bounds: WindowBounds,
  skip: ReadonlySet<string> = new Set(),
  pageSize = RIGHTSIZING_PAGE,
): Promise<RightsizingEntry[]> {
  const out: RightsizingEntry[] = [];
  const rows: { service: Service; row: JudgedRow }[] = [];
  for (const service of Object.keys(PER_PERIOD) as Service[]) {
    for (let after = ''; ; ) {
      const page = pageOf(service, after, pageSize);
      const [last] = resultRows<{ arn: string | null }>(
        await db.execute(sql`select max(arn) as arn from (${page}) p`),
      );
      if (!last?.arn) break;
      const query = sizingQuery(
        service,
        windows[service],
        bounds,
        policy.cpuTargetPercent * RIGHTSIZING_PREFILTER,
        page,
      );
      for (const row of resultRows<JudgedRow>(await db.execute(query))) rows.push({ service, row });
      after = last.arn;
    }
  }
  for (const { service, row } of rows) {
    const days = windows[service];
    if (skip.has(row.arn)) continue;
    const resource = {
      service,
      region: row.region,
      attributes: JSON.parse(row.attributes) as Record<string, string>,
      capacity: JSON.parse(row.capacity) as Record<string, number>,
    };
    const options = optionsFor(resource);
    if ('skip' in options) continue;
    const price = await optionPrices(resource, options, prices);
    const rec = recommend(resource, options, observedOf(row), policy, price);
    if ('none' in rec) continue;
    out.push({
      service,
      accountId: row.account_id,
      region: row.region,
      resourceArn: row.arn,
      name: row.name,
      resourceType: row.type,
      days,
      ...rec,
      evidence: {
        ...rec.evidence,
        coverage: Math.min(1, Number(row.covered_seconds) / (days * 86_400)),
      },
    });
  }
  return out.sort(
    (a, b) =>
      b.monthlySavingUsd - a.monthlySavingUsd ||
      a.service.localeCompare(b.service) ||
      a.resourceArn.localeCompare(b.resourceArn),
  );
}

/**
 * Capacity forecasts ranked by crossing date (soonest first), and what the other series lacked.
 * @param db the utilization database
 * @param policy the trend policy
 * @param bounds asOf and liveness
 */
export async function findCapacityForecasts(
  db: Db,
  policy: AdvicePolicy['trends'],
  bounds: Pick<WindowBounds, 'asOf' | 'liveWithinHours'>,
): Promise<{ forecasts: CapacityForecast[]; summary: TrendSummary }> {
  const asOf = iso(bounds.asOf);
  const since = iso(new Date(bounds.asOf.getTime() - policy.days * 86_400_000));
  const liveSince = iso(new Date(bounds.asOf.getTime() - bounds.liveWithinHours * 3_600_000));
  const inTrend = sql`period_start >= ${since}::timestamptz and period_start < ${asOf}::timestamptz`;
  const day = sql`date_trunc('day', period_start, 'UTC')`;
  const rows = resultRows<{
    arn: string;
    account_id: string;
    region: string;
    service: Service;
    name: string;
    metric: TrendMetric;
    n: unknown;
    slope: unknown;
    intercept: unknown;
    r2: unknown;
    syy: unknown;
    last_p95: unknown;
    series: unknown;
    too_little: unknown;
  }>(
    await db.execute(sql`
      with samples as (
        select resource_arn, 'cpu' as metric, ${day} as day, value as v
          from metric_rows
         where service in ('ec2', 'rds', 'ecs') and metric = 'CPUUtilization' and statistic = 'Average' and ${inTrend}
        union all
        select resource_arn, 'cpu', ${day}, sum(value)
          from metric_rows
         where service = 'msk' and metric in ('CpuUser', 'CpuSystem') and statistic = 'Maximum' and ${inTrend}
         group by resource_arn, period_start
        having count(*) = 2
        union all
        select resource_arn, 'storage', ${day}, value
          from metric_rows
         where service = 'ec2' and metric = 'disk_used_percent' and statistic = 'Average' and ${inTrend}
        union all
        select m.resource_arn, 'storage', date_trunc('day', m.period_start, 'UTC'),
               100 * (1 - m.value / ((r.capacity->>'storageGiB')::float8 * 1073741824))
          from metric_rows m join resources r on r.arn = m.resource_arn
         where m.service = 'rds' and m.metric = 'FreeStorageSpace' and m.statistic = 'Minimum'
           and (r.capacity->>'storageGiB')::float8 > 0
           and m.period_start >= ${since}::timestamptz and m.period_start < ${asOf}::timestamptz
      ), daily as (
        select resource_arn, metric, extract(epoch from (day - ${asOf}::timestamptz)) / 86400.0 as x,
               percentile_cont(0.95) within group (order by v) as p95, day
          from samples group by resource_arn, metric, day
      ), fits as (
        select resource_arn, metric, regr_count(p95, x) as n, regr_slope(p95, x) as slope,
               regr_intercept(p95, x) as intercept, regr_r2(p95, x) as r2, regr_syy(p95, x) as syy,
               (array_agg(p95 order by day desc))[1] as last_p95
          from daily group by resource_arn, metric
      ), live as (
        select f.*, r.account_id, r.region, r.service, r.name, r.arn
          from fits f join resources r on r.arn = f.resource_arn
         where r.last_seen >= ${liveSince}::timestamptz and lower(r.state) not in (${inactive})
      )
      select l.arn, l.account_id, l.region, l.service, l.name, l.metric, l.n, l.slope, l.intercept,
             l.r2, l.syy, l.last_p95,
             (select count(*) from live) as series,
             (select count(*) from live where n < ${policy.minDays}) as too_little
        from live l
       where l.n >= ${policy.minDays} and l.slope > 0
      union all
      -- The counts alone when no series is rising.
      select null, null, null, null, null, null, null, null, null, null, null, null,
             (select count(*) from live), (select count(*) from live where n < ${policy.minDays})
       where not exists (select 1 from live where n >= ${policy.minDays} and slope > 0)
      order by arn nulls last, metric`),
  );
  const forecasts: CapacityForecast[] = [];
  for (const r of rows) {
    if (r.arn === null) continue;
    const thresholdPercent = r.metric === 'cpu' ? policy.cpuPercent : policy.storagePercent;
    const fit = withResidual(
      { n: Number(r.n), slope: num(r.slope)!, intercept: num(r.intercept)!, r2: num(r.r2) ?? 0 },
      num(r.syy) ?? 0,
    );
    const f = forecast(fit, thresholdPercent, bounds.asOf, policy);
    if (f.kind !== 'forecast') continue;
    forecasts.push({
      service: r.service,
      accountId: r.account_id,
      region: r.region,
      resourceArn: r.arn,
      name: r.name,
      metric: r.metric,
      thresholdPercent,
      daysToCross: f.daysToCross,
      crossesAt: f.crossesAt,
      lastP95Percent: num(r.last_p95)!,
      fit,
    });
  }
  const series = Number(rows[0]?.series ?? 0);
  const tooLittleHistory = Number(rows[0]?.too_little ?? 0);
  forecasts.sort((a, b) => a.daysToCross - b.daysToCross || a.resourceArn.localeCompare(b.resourceArn));
  return {
    forecasts,
    summary: {
      series,
      forecasts: forecasts.length,
      tooLittleHistory,
      noForecast: series - tooLittleHistory - forecasts.length,
    },
  };
}
