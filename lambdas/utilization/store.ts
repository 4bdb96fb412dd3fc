/**
 * Stores a batch idempotently: the ledger row and the data rows commit in one transaction.
 *
 * How a delivery of batch B is decided, inside one transaction:
 * 1. `INSERT INTO batch_ledger ... ON CONFLICT (batch_id) DO NOTHING RETURNING batch_id`. The primary key
 *    decides races: a concurrent delivery of B blocks on the uncommitted ledger row until the first
 *    transaction commits (then it sees the conflict) or rolls back (then its insert goes ahead).
 * 2. Inserted: upsert resources, then metric rows, in chunks; commit. Any error rolls everything back,
 *    ledger row included, so a retry starts from scratch.
 * 3. Not inserted: the existing ledger row is locked (`FOR UPDATE`) and read.
 *    - stored, same checksum: `duplicate`, no data written (only `attempts` is counted up);
 *    - stored, other checksum: `rejected` as a conflict (the stored data is kept, the ledger notes it);
 *    - rejected earlier: this delivery may be the fixed batch: the ledger row is taken over and the
 *      rows are written as in 2.
 * An invalid batch writes (or counts up) a `rejected` ledger row with its reason, and no data rows.
 */
import { and, eq, sql } from 'drizzle-orm';
import { affectedRows, type Db } from '#shared/db/client';
import { batchLedger, metricRows, resources } from '#shared/db/schema';
import type { MetricRow, ResourceRow } from './rows.ts';
import { type InvalidBatch, type ValidBatch, validateBatch } from './validate.ts';

/** PostgreSQL's limit on bind parameters in one statement. */
export const PG_MAX_PARAMS = 65_535;
/** Bind parameters per metric row in the upsert. */
export const METRIC_ROW_PARAMS = 13;
/** Bind parameters per resource in the upsert. */
export const RESOURCE_PARAMS = 14;
/**
 * Default rows per INSERT statement. 500 metric rows are about 6,500 parameters, about 25 KiB of SQL text
 * and about 0.5 MiB of Data API parameter JSON: inside the Data API's 4 MiB request and the SQL text limit,
 * and large enough that node-postgres spends its time in the database, not in round trips (bench/store.ts).
 */
export const DEFAULT_CHUNK_ROWS = 500;
/**
 * Default cap on the estimated parameter payload of one statement. Resources carry tags and can be large;
 * 1 MiB keeps a Data API request well under its 4 MiB limit whatever the tags.
 */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;

/** What happened to one delivery of a batch. */
export type StoreOutcome = 'stored' | 'duplicate' | 'rejected';

/** The result of `storeBatch`. */
export interface StoreResult {
  readonly outcome: StoreOutcome;
  /** The batch ID, or `invalid-<sha256 prefix>` for input with no readable ID. */
  readonly batchId: string;
  /** Metric rows in the batch after collapsing duplicates (0 when the batch could not be read). */
  readonly rows: number;
  /** Resources in the batch after collapsing duplicates. */
  readonly resources: number;
  /** Metric rows inserted or updated by this delivery (an older overlapping value changes nothing). */
  readonly rowsChanged: number;
  /** Metric rows dropped because the batch had another row with the same natural key after them. */
  readonly duplicateRowsCollapsed: number;
  /** Why the batch was rejected. */
  readonly reason?: string;
}

/** Where a chunk write stands; passed to `StoreOptions.onChunk`. */
export interface ChunkProgress {
  readonly table: 'resources' | 'metric_rows';
  /** Index of this chunk within its table, from 0. */
  readonly index: number;
  readonly rows: number;
}

/** Tuning and hooks of `storeBatch`. */
export interface StoreOptions {
  /**
   * Maximum rows per INSERT statement (clamped to what fits PostgreSQL's 65,535 bind parameters).
   * @default DEFAULT_CHUNK_ROWS
   */
  readonly chunkRows?: number;
  /**
   * Maximum estimated parameter bytes per statement (keeps Data API requests small).
   * @default DEFAULT_CHUNK_BYTES
   */
  readonly chunkBytes?: number;
  /**
   * Called inside the transaction after each chunk is written; throwing aborts the transaction
   * (used by tests to prove a batch that dies mid-way writes nothing).
   * @default - none
   */
  readonly onChunk?: (progress: ChunkProgress) => void | Promise<void>;
}

/**
 * Validates and stores one batch; idempotent and safe under concurrent delivery.
 * @param db a drizzle database (node-postgres or Data API)
 * @param input a batch object or the raw JSON text of a batch file
 * @param options chunk sizes and hooks
 * @returns stored, duplicate or rejected (with the reason); throws only on database errors, which
 *   leave nothing written (retry the delivery)
 */
export async function storeBatch(db: Db, input: unknown, options: StoreOptions = {}): Promise<StoreResult> {
  const validation = validateBatch(input);
  if (!validation.ok) return recordRejection(db, validation);
  return writeValidBatch(db, validation, options);
}

async function writeValidBatch(db: Db, v: ValidBatch, options: StoreOptions): Promise<StoreResult> {
  const { batch } = v;
  const base = {
    batchId: batch.batchId,
    rows: v.rows.length,
    resources: v.resources.length,
    duplicateRowsCollapsed: v.duplicateRows,
  };
  const ledgerValues = {
    batchId: batch.batchId,
    accountId: batch.shard.accountId,
    region: batch.shard.region,
    service: batch.shard.service,
    windowStart: new Date(batch.window.start),
    windowEnd: new Date(batch.window.end),
    collectedAt: new Date(batch.collectedAt),
    rowCount: v.rows.length,
    resourceCount: v.resources.length,
    checksum: v.checksum,
    status: 'stored' as const,
    error: null,
  };

  return db.transaction(async (tx) => {
    const inserted = await tx
      .insert(batchLedger)
      .values(ledgerValues)
      .onConflictDoNothing({ target: batchLedger.batchId })
      .returning({ batchId: batchLedger.batchId });

    if (inserted.length === 0) {
      const [existing] = await tx
        .select({ status: batchLedger.status, checksum: batchLedger.checksum })
        .from(batchLedger)
        .where(eq(batchLedger.batchId, batch.batchId))
        .for('update');
      if (!existing) throw new Error(`ledger row of batch ${batch.batchId} conflicted but cannot be read`);

      if (existing.status === 'stored') {
        const conflict = existing.checksum !== v.checksum;
        const reason = conflict
          ? `batch ${batch.batchId} was already stored with checksum ${existing.checksum}; this delivery has checksum ${v.checksum} (same batch ID, different content)`
          : undefined;
        await tx
          .update(batchLedger)
          .set({
            attempts: sql`${batchLedger.attempts} + 1`,
            updatedAt: sql`now()`,
            ...(reason ? { error: reason } : {}),
          })
          .where(eq(batchLedger.batchId, batch.batchId));
        return conflict
          ? { ...base, outcome: 'rejected' as const, rowsChanged: 0, reason: reason! }
          : { ...base, outcome: 'duplicate' as const, rowsChanged: 0 };
      }

      // Rejected before: this delivery is valid, so it takes the ledger row over.
      await tx
        .update(batchLedger)
        .set({ ...ledgerValues, attempts: sql`${batchLedger.attempts} + 1`, updatedAt: sql`now()` })
        .where(and(eq(batchLedger.batchId, batch.batchId), eq(batchLedger.status, 'rejected')));
    }

    const rowsChanged = await writeRows(tx, v, options);
    return { ...base, outcome: 'stored' as const, rowsChanged };
  });
}

async function writeRows(tx: Db, v: ValidBatch, options: StoreOptions): Promise<number> {
  const { batch } = v;
  const collectedAt = new Date(batch.collectedAt);
  const maxBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const wanted = options.chunkRows ?? DEFAULT_CHUNK_ROWS;

  const resourceChunks = chunk(
    v.resources,
    Math.min(wanted, Math.floor(PG_MAX_PARAMS / RESOURCE_PARAMS)),
    maxBytes,
    resourceBytes,
  );
  for (const [index, part] of resourceChunks.entries()) {
    await upsertResources(tx, part, batch.batchId);
    await options.onChunk?.({ table: 'resources', index, rows: part.length });
  }

  let changed = 0;
  const rowChunks = chunk(
    v.rows,
    Math.min(wanted, Math.floor(PG_MAX_PARAMS / METRIC_ROW_PARAMS)),
    maxBytes,
    metricRowBytes,
  );
  for (const [index, part] of rowChunks.entries()) {
    changed += await upsertMetricRows(tx, part, batch.batchId, collectedAt);
    await options.onChunk?.({ table: 'metric_rows', index, rows: part.length });
  }
  return changed;
}

/** Columns of the row being inserted, as PostgreSQL names them inside ON CONFLICT DO UPDATE. */
const excluded = (column: string) => sql.raw(`excluded."${column}"`);

async function upsertResources(tx: Db, part: ResourceRow[], batchId: string): Promise<void> {
  // Descriptive columns follow the most recent observation; first/last seen widen either way, so an
  // older batch arriving late still extends first_seen without rolling the state back.
  const newer = sql`${excluded('last_seen')} >= ${resources.lastSeen}`;
  const latest = (column: string, current: unknown) =>
    sql`case when ${newer} then ${excluded(column)} else ${current} end`;
  await tx
    .insert(resources)
    .values(
      part.map((r) => ({
        arn: r.resourceArn,
        accountId: r.accountId,
        region: r.region,
        service: r.service,
        type: r.resourceType,
        name: r.name,
        state: r.state,
        tags: r.tags,
        capacity: r.capacity,
        attributes: r.attributes ?? {},
        hasAgentMetrics: r.hasAgentMetrics,
        firstSeen: new Date(r.observedAt),
        lastSeen: new Date(r.observedAt),
        batchId,
      })),
    )
    .onConflictDoUpdate({
      target: resources.arn,
      set: {
        accountId: latest('account_id', resources.accountId),
        region: latest('region', resources.region),
        service: latest('service', resources.service),
        type: latest('type', resources.type),
        name: latest('name', resources.name),
        state: latest('state', resources.state),
        tags: latest('tags', resources.tags),
        capacity: latest('capacity', resources.capacity),
        attributes: latest('attributes', resources.attributes),
        hasAgentMetrics: latest('has_agent_metrics', resources.hasAgentMetrics),
        batchId: latest('batch_id', resources.batchId),
        firstSeen: sql`least(${resources.firstSeen}, ${excluded('first_seen')})`,
        lastSeen: sql`greatest(${resources.lastSeen}, ${excluded('last_seen')})`,
      },
    });
}

async function upsertMetricRows(
  tx: Db,
  part: MetricRow[],
  batchId: string,
  collectedAt: Date,
): Promise<number> {
  const result = await tx
    .insert(metricRows)
    .values(
      part.map((r) => ({
        resourceArn: r.resourceArn,
        metric: r.metric,
        statistic: r.statistic,
        periodStart: new Date(r.periodStart),
        periodSeconds: r.periodSeconds,
        value: r.value,
        unit: r.unit,
        accountId: r.accountId,
        region: r.region,
        service: r.service,
        resourceType: r.resourceType,
        batchId,
        collectedAt,
      })),
    )
    .onConflictDoUpdate({
      target: [
        metricRows.resourceArn,
        metricRows.metric,
        metricRows.statistic,
        metricRows.periodStart,
        metricRows.periodSeconds,
      ],
      set: {
        value: excluded('value'),
        unit: excluded('unit'),
        accountId: excluded('account_id'),
        region: excluded('region'),
        service: excluded('service'),
        resourceType: excluded('resource_type'),
        batchId: excluded('batch_id'),
        collectedAt: excluded('collected_at'),
        updatedAt: sql`now()`,
      },
      // The later collection wins; equal collection times fall back to the batch ID so the outcome does
      // not depend on arrival order. An older batch arriving late changes nothing.
      setWhere: sql`(${metricRows.collectedAt}, ${metricRows.batchId}) < (${excluded('collected_at')}, ${excluded('batch_id')})`,
    });
  return affectedRows(result);
}

async function recordRejection(db: Db, v: InvalidBatch): Promise<StoreResult> {
  const batchId = v.batchId ?? `invalid-${v.checksum.slice(0, 32)}`;
  const p = v.partial;
  await db
    .insert(batchLedger)
    .values({
      batchId,
      accountId: p.accountId ?? null,
      region: p.region ?? null,
      service: p.service ?? null,
      windowStart: p.windowStart ?? null,
      windowEnd: p.windowEnd ?? null,
      collectedAt: p.collectedAt ?? null,
      rowCount: p.rowCount,
      resourceCount: p.resourceCount,
      checksum: v.checksum,
      status: 'rejected',
      error: v.reason,
    })
    .onConflictDoUpdate({
      target: batchLedger.batchId,
      set: {
        attempts: sql`${batchLedger.attempts} + 1`,
        updatedAt: sql`now()`,
        error: excluded('error'),
        checksum: excluded('checksum'),
        rowCount: excluded('row_count'),
        resourceCount: excluded('resource_count'),
      },
      // A stored batch stays stored: a later invalid delivery of the same ID is reported, not recorded over it.
      setWhere: sql`${batchLedger.status} = 'rejected'`,
    });
  return {
    outcome: 'rejected',
    batchId,
    rows: 0,
    resources: 0,
    rowsChanged: 0,
    duplicateRowsCollapsed: 0,
    reason: v.reason,
  };
}

/**
 * Splits items into chunks of at most `maxItems` items and about `maxBytes` estimated bytes
 * (a single item larger than `maxBytes` gets a chunk of its own).
 */
export function chunk<T>(
  items: readonly T[],
  maxItems: number,
  maxBytes: number,
  sizeOf: (item: T) => number,
): T[][] {
  if (!(maxItems >= 1)) throw new Error(`chunk size must be at least 1, got ${maxItems}`);
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && (current.length >= maxItems || bytes + size > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** Data API JSON per parameter beyond its value: `{"name":"123","value":{"stringValue":""},"typeHint":"TIMESTAMP"}`. */
const PARAM_OVERHEAD_BYTES = 64;

/** Estimated Data API request bytes of one metric row. */
export function metricRowBytes(r: MetricRow): number {
  return (
    METRIC_ROW_PARAMS * PARAM_OVERHEAD_BYTES +
    2 * r.resourceArn.length + // the ARN, and the batch ID of similar length
    r.metric.length +
    r.statistic.length +
    r.unit.length +
    r.accountId.length +
    r.region.length +
    r.service.length +
    r.resourceType.length +
    3 * 24 + // three timestamps
    32 // numbers
  );
}

/** Estimated Data API request bytes of one resource (its JSON is a fair upper bound). */
export function resourceBytes(r: ResourceRow): number {
  return RESOURCE_PARAMS * PARAM_OVERHEAD_BYTES + JSON.stringify(r).length;
}
