/**
 * SQL building blocks the report's queries share (report.ts for idle findings, report-advice.ts for
 * rightsizing and trends): the judged window of a service and the live resources joined to their
 * statistics.
 */
import { type SQL, sql } from 'drizzle-orm';
import type { Service } from './rows.ts';

/** Share of the window a resource's datapoints must cover before it is judged. */
export const DEFAULT_MIN_COVERAGE = 0.8;
/** A resource not seen by a collection for this long is treated as gone. */
export const DEFAULT_LIVE_WITHIN_HOURS = 48;
/** States in which a resource costs no compute or is going away: never reported. */
export const INACTIVE_STATES = [
  'terminated',
  'shutting-down',
  'stopping',
  'stopped',
  'deleting',
  'deleted',
  'inactive',
  'failed',
];

/** The resource a finding, recommendation or forecast is about. */
export interface ReportedResource {
  readonly service: Service;
  readonly accountId: string;
  readonly region: string;
  readonly resourceArn: string;
  readonly name: string;
  readonly resourceType: string;
}

/** A numeric column of a result row, undefined for SQL null. */
export const num = (v: unknown): number | undefined =>
  v === null || v === undefined ? undefined : Number(v);
export const iso = (d: Date) => d.toISOString();
/** The inactive states as an SQL list. */
export const inactive = sql.raw(INACTIVE_STATES.map((s) => `'${s}'`).join(', '));

/** The bounds one service's statistics are computed over. */
export interface Window {
  readonly service: Service;
  readonly since: string;
  readonly asOf: string;
  readonly liveSince: string;
  /** Seconds of datapoints a resource needs to be judged. */
  readonly coverageSeconds: number;
}

/** Bounds shared by every window of one report. */
export interface WindowBounds {
  readonly asOf: Date;
  readonly minCoverage: number;
  readonly liveWithinHours: number;
}

/**
 * The window of a service over `days` up to `asOf`.
 * @param service the service
 * @param days the policy's days
 * @param b asOf, coverage and liveness
 */
export function windowFor(service: Service, days: number, b: WindowBounds): Window {
  return {
    service,
    since: iso(new Date(b.asOf.getTime() - days * 86_400_000)),
    asOf: iso(b.asOf),
    liveSince: iso(new Date(b.asOf.getTime() - b.liveWithinHours * 3_600_000)),
    coverageSeconds: b.minCoverage * days * 86_400,
  };
}

/** A judged resource row: the resource's columns and its statistics. */
export interface JudgedRow {
  arn: string;
  account_id: string;
  region: string;
  name: string;
  type: string;
  state: string;
  attributes: string;
  capacity: string;
  covered_seconds: unknown;
  [stat: string]: unknown;
}

/**
 * Live resources of a service joined to their window statistics, keeping those whose statistics pass
 * `condition` and cover enough of the window. `stats` must select `resource_arn` and `covered_seconds`.
 */
export function judged(w: Window, stats: SQL, condition: SQL): SQL {
  return sql`
    select r.arn, r.account_id, r.region, r.name, r.type, r.state,
           r.attributes::text as attributes, r.capacity::text as capacity, s.*
      from resources r
      join (${stats}) s on s.resource_arn = r.arn
     where r.service = ${w.service}
       and r.last_seen >= ${w.liveSince}::timestamptz
       and lower(r.state) not in (${inactive})
       and s.covered_seconds >= ${w.coverageSeconds}::float8
       and (${condition})
     order by r.arn`;
}

/** Datapoints of one service inside the window. */
export const inWindow = (w: Window) =>
  sql`service = ${w.service} and period_start >= ${w.since}::timestamptz and period_start < ${w.asOf}::timestamptz`;
