/**
 * Utilization database schema (drizzle pg-core): the one definition from which migrations are generated
 * (`npx drizzle-kit generate`, see drizzle.config.ts) and against which every query is typed.
 *
 * Three tables:
 * - `metric_rows`: one CloudWatch datapoint per natural key (resource, metric, statistic, period start,
 *   period length). Upserted; the row from the batch with the later `collected_at` wins.
 * - `resources`: the latest known state of each discovered resource, with first/last seen times.
 * - `batch_ledger`: one row per delivery of a batch ID at one collection time (`collected_at`): stored or
 *   rejected, with a checksum of its canonical content and a hash of its raw bytes. The ledger row and the
 *   data rows commit in one transaction, which is what makes storing idempotent.
 *
 * `metric_rows` is partitioned by month of `period_start` (PostgreSQL declarative partitioning, partitions
 * `metric_rows_pYYYYMM`), which drizzle's schema cannot express: migration 0002 makes the table partitioned
 * and defines the SQL functions that create partitions ahead and drop expired ones (see partitions.ts).
 */
import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from 'drizzle-orm/pg-core';

const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** One datapoint of one metric of one resource; the primary key is the natural key of a `MetricRow`. */
export const metricRows = pgTable(
  'metric_rows',
  {
    resourceArn: text('resource_arn').notNull(),
    metric: text('metric').notNull(),
    statistic: text('statistic').notNull(),
    periodStart: tstz('period_start').notNull(),
    periodSeconds: integer('period_seconds').notNull(),
    value: doublePrecision('value').notNull(),
    unit: text('unit').notNull(),
    accountId: text('account_id').notNull(),
    region: text('region').notNull(),
    service: text('service').notNull(),
    resourceType: text('resource_type').notNull(),
    /** The batch that last wrote this row. */
    batchId: text('batch_id').notNull(),
    /** `collectedAt` of that batch: a later collection overwrites an earlier one, never the reverse. */
    collectedAt: tstz('collected_at').notNull(),
    updatedAt: tstz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({
      name: 'metric_rows_natural_key',
      columns: [t.resourceArn, t.metric, t.statistic, t.periodStart, t.periodSeconds],
    }),
    // The report scans one service's metric over the last N days.
    index('metric_rows_service_metric_period_idx').on(t.service, t.metric, t.periodStart),
  ],
);

/** The latest known state of a discovered resource. */
export const resources = pgTable(
  'resources',
  {
    arn: text('arn').primaryKey(),
    accountId: text('account_id').notNull(),
    region: text('region').notNull(),
    service: text('service').notNull(),
    type: text('type').notNull(),
    name: text('name').notNull(),
    state: text('state').notNull(),
    tags: jsonb('tags').$type<Record<string, string>>().notNull(),
    capacity: jsonb('capacity').$type<Record<string, number>>().notNull(),
    /** Descriptive strings such as instanceType, engine, launchType (used for pricing). */
    attributes: jsonb('attributes').$type<Record<string, string>>().notNull().default({}),
    hasAgentMetrics: boolean('has_agent_metrics').notNull(),
    firstSeen: tstz('first_seen').notNull(),
    lastSeen: tstz('last_seen').notNull(),
    /** The batch that last changed this row. */
    batchId: text('batch_id').notNull(),
  },
  (t) => [index('resources_service_idx').on(t.service)],
);

/** Status of a ledger row. */
export const LEDGER_STATUSES = ['stored', 'rejected'] as const;
export type LedgerStatus = (typeof LEDGER_STATUSES)[number];

/**
 * `collected_at` of a ledger row whose input had no readable collection time (it could not be parsed):
 * PostgreSQL's `-infinity`, which sorts before every real time.
 */
export const UNKNOWN_COLLECTED_AT = sql`'-infinity'::timestamptz`;

/**
 * One row per delivery of a batch ID at one collection time: whether it was stored or rejected, and why.
 * A re-collection of the same window (same batch ID, later `collectedAt`) gets a row of its own.
 */
export const batchLedger = pgTable(
  'batch_ledger',
  {
    batchId: text('batch_id').notNull(),
    accountId: text('account_id'),
    region: text('region'),
    service: text('service'),
    windowStart: tstz('window_start'),
    windowEnd: tstz('window_end'),
    /** `collectedAt` of the delivery; `UNKNOWN_COLLECTED_AT` when the input could not be read. */
    collectedAt: tstz('collected_at').notNull(),
    rowCount: integer('row_count').notNull(),
    resourceCount: integer('resource_count').notNull().default(0),
    /** sha256 (hex) of the canonical content of the batch; of the raw bytes when it could not be parsed. */
    checksum: text('checksum').notNull(),
    /**
     * sha256 (hex) of the raw bytes as delivered: a redelivery of the same bytes is found by this hash
     * before the batch is parsed or validated (null on rows written before migration 0001).
     */
    rawHash: text('raw_hash'),
    status: text('status').$type<LedgerStatus>().notNull(),
    error: text('error'),
    receivedAt: tstz('received_at').notNull().defaultNow(),
    updatedAt: tstz('updated_at').notNull().defaultNow(),
    /** Deliveries seen for this batch ID, the first included. */
    attempts: integer('attempts').notNull().default(1),
  },
  (t) => [
    primaryKey({ name: 'batch_ledger_delivery_key', columns: [t.batchId, t.collectedAt] }),
    check('batch_ledger_status_check', sql`${t.status} in ('stored', 'rejected')`),
    index('batch_ledger_shard_idx').on(t.accountId, t.region, t.service, t.windowEnd),
    index('batch_ledger_raw_hash_idx').on(t.rawHash),
  ],
);

/** Every table, for drizzle's schema option and drizzle-kit. */
export const schema = { metricRows, resources, batchLedger };
export type Schema = typeof schema;
