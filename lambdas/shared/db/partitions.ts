/**
 * Monthly partitions of `metric_rows`: created ahead of the data that needs them and dropped whole when
 * older than the retention. Both are SQL functions defined by migration 0002 (one implementation for
 * the migration, the store and the migrate function): `observatory_ensure_metric_partitions(from, to)`
 * and `observatory_drop_metric_partitions(cutoff)`. Partitions are named `metric_rows_pYYYYMM` (UTC months).
 */
import { sql } from 'drizzle-orm';
import { type Db, resultRows } from './client.ts';

/** Default days of metric rows kept (`utilization.retentionDays`): a year and a month of history. */
export const DEFAULT_RETENTION_DAYS = 400;
/** Months after the current one whose partitions maintenance creates ahead. */
export const MONTHS_AHEAD = 2;

/**
 * Creates the monthly partitions that cover [from, to] and do not exist yet.
 * @returns how many partitions were created
 */
export async function ensureMetricPartitions(db: Db, from: Date, to: Date): Promise<number> {
  const ensure = async () =>
    resultRows<{ created: unknown }>(
      await db.execute(
        sql`select observatory_ensure_metric_partitions(${from.toISOString()}::timestamptz, ${to.toISOString()}::timestamptz) as created`,
      ),
    )[0];
  let row: { created: unknown } | undefined;
  try {
    row = await ensure();
  } catch (err) {
    // A concurrent caller created the partition while this one waited for the lock, and the function's
    // second look still read the catalog as it was before the wait: a new statement sees it.
    if (!isDuplicateTable(err)) throw err;
    row = await ensure();
  }
  return Number(row?.created ?? 0);
}

/** PostgreSQL's duplicate_table (SQLSTATE 42P07), from node-postgres (`code`) or the Data API (message). */
function isDuplicateTable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === '42P07') return true;
    if (
      /SQLState: 42P07|relation "[^"]+" already exists/.test(String((e as { message?: unknown }).message))
    ) {
      return true;
    }
  }
  return false;
}

/** The first instant of the month, in UTC, that holds `at`. */
export function monthStart(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
}

/**
 * The cutoff of the retention: every partition whose month ends at or before it holds only rows older
 * than `retentionDays` and is dropped.
 */
export function retentionCutoff(now: Date, retentionDays: number): Date {
  if (!(Number.isInteger(retentionDays) && retentionDays >= 1)) {
    throw new Error(`retention must be a whole number of days of at least 1, got ${retentionDays}`);
  }
  return new Date(now.getTime() - retentionDays * 86_400_000);
}

/** What `maintainMetricPartitions` did. */
export interface PartitionMaintenance {
  readonly created: number;
  /** Names of the partitions dropped. */
  readonly dropped: string[];
}

/**
 * Creates the partitions of this month and `MONTHS_AHEAD` months ahead, and drops those past retention.
 * @param now the current time
 * @param retentionDays days of rows to keep
 */
export async function maintainMetricPartitions(
  db: Db,
  now: Date,
  retentionDays: number = DEFAULT_RETENTION_DAYS,
): Promise<PartitionMaintenance> {
  const cutoff = retentionCutoff(now, retentionDays);
  const start = monthStart(now);
  const ahead = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + MONTHS_AHEAD, 1));
  const created = await ensureMetricPartitions(db, start, ahead);
  const dropped = resultRows<{ name: string }>(
    await db.execute(
      sql`select observatory_drop_metric_partitions(${cutoff.toISOString()}::timestamptz) as name`,
    ),
  ).map((r) => r.name);
  return { created, dropped };
}

/**
 * Reads `RETENTION_DAYS` (a whole number of days, at least 1; set from `utilization.retentionDays`).
 * @param env the environment
 * @returns the days, or undefined when unset
 */
export function retentionDaysFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.RETENTION_DAYS;
  if (raw === undefined || raw === '') return undefined;
  const days = Number(raw);
  if (!Number.isInteger(days) || days < 1) {
    throw new Error(`RETENTION_DAYS must be a whole number of days of at least 1, got ${raw}`);
  }
  return days;
}
