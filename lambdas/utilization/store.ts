/**
 * Stores a batch idempotently: the ledger row and the data rows commit in one transaction.
 *
 * A delivery is identified by its batch ID and its collection time (`collectedAt`): collecting the same
 * window again (CloudWatch revises recent datapoints) is a new delivery of the same batch ID that
 * supersedes the older one row by row, whichever arrives first. How a delivery is decided:
 * 0. Bounds: a batch over `maxBatchBytes` or `maxBatchRows` is refused before it is parsed or validated
 *    (recorded as `rejected` with the reason), so no batch can run the store out of memory.
 * 1. Fast path: the sha256 of the raw bytes is looked up in the ledger; a stored delivery with the same
 *    bytes makes this one a `duplicate` at the cost of one indexed statement (no parse, no validation).
 * 2. Otherwise the batch is validated; an invalid batch writes (or counts up) a `rejected` ledger row with
 *    its reason, and no data rows.
 * 3. The monthly partitions of `metric_rows` the rows fall into are created if missing (own statement,
 *    outside the transaction, so the brief lock it takes is not held while rows are written).
 * 4. In one transaction: `INSERT INTO batch_ledger ... ON CONFLICT (batch_id, collected_at) DO NOTHING`.
 *    The primary key decides races: a concurrent delivery blocks on the uncommitted ledger row until the
 *    first transaction commits (then it sees the conflict) or rolls back (then its insert goes ahead).
 *    - Inserted: upsert resources, then metric rows, in chunks; commit. A metric row is replaced only by a
 *      row of a later collection (ties between different batch IDs go to the greater ID), so the outcome
 *      does not depend on arrival order. Any error rolls everything back, ledger row included.
 *    - Not inserted: the existing ledger row of this delivery is locked (`FOR UPDATE`) and read. Stored
 *      with the same checksum: `duplicate` (only `attempts` is counted up). Stored with another checksum:
 *      `rejected` as a conflict (same batch ID and collection time, different content; the stored data is
 *      kept, the ledger notes it). Rejected earlier: this delivery may be the fixed batch and takes the
 *      ledger row over.
 *    A delivery whose content equals another stored delivery of the same batch is reported `duplicate`
 *    (its own ledger row records it); its rows are written only when it is the later collection, so the
 *    rows carry the latest collection time.
 *
 * Metric rows travel column by column: each column of a chunk is ONE text parameter holding a PostgreSQL
 * array literal, expanded by `unnest` in SQL (`insertMetricRowsSql`); resources (a few hundred) travel as
 * one JSON parameter expanded by `json_to_recordset`. Plain text parameters are the same statement over
 * node-postgres and the RDS Data API (which has no array parameters), the SQL text is fixed (about 1 KB),
 * and chunks are cut by the serialized request size so every Data API request stays inside its 4 MiB.
 * A delivery whose first row is not stored yet writes its rows with plain INSERTs (cheaper than the upsert
 * by its per-row speculative insertion); should any row turn out to be stored after all (a concurrent
 * delivery of an overlapping window, or an overlap further into the batch), the unique violation rolls the
 * transaction back and the delivery is done again with upserts.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { and, eq, ne, type SQL, sql } from 'drizzle-orm';
import { affectedRows, type Db, resultRows } from '#shared/db/client';
import { ensureMetricPartitions } from '#shared/db/partitions';
import { batchLedger, UNKNOWN_COLLECTED_AT } from '#shared/db/schema';
import type { MetricRow, ResourceRow } from './rows.ts';
import { type InvalidBatch, sha256, type ValidBatch, validateBatch } from './validate.ts';

/** The RDS Data API's limit on the SQL text of one ExecuteStatement request, in characters. */
export const DATA_API_MAX_SQL_CHARS = 65_536;
/** The RDS Data API's limit on one request, in bytes. */
export const DATA_API_MAX_REQUEST_BYTES = 4 * 1024 * 1024;
/**
 * Bytes of one Data API request kept for everything beside the chunk's row data: the SQL text (about
 * 1 KB here), cluster and secret ARNs, database name, transaction ID, the scalar parameters and the JSON
 * framing of every parameter. 64 KiB covers them many times over.
 */
export const REQUEST_OVERHEAD_BYTES = 64 * 1024;
/**
 * Largest row data of one chunk (its JSON, or its column array literals together), in bytes as it travels
 * inside the Data API's JSON request (quotes and backslashes escaped), so that no request can pass
 * `DATA_API_MAX_REQUEST_BYTES`.
 */
export const MAX_CHUNK_BYTES = DATA_API_MAX_REQUEST_BYTES - REQUEST_OVERHEAD_BYTES;
/**
 * Default rows per statement. 10,000 ordinary rows are about 1.5 MB of column parameters: few
 * statements (each a Data API round trip), each short enough to show progress and to overlap the
 * client's work on the next chunk, and well inside the byte limit (bench/store.ts measures the effect).
 */
export const DEFAULT_CHUNK_ROWS = 10_000;
/**
 * Default largest batch the store accepts, in bytes of its JSON. A 64 MiB batch (about 200,000 rows)
 * peaks well under the store function's 1 GiB (bench/store.ts measures peak RSS).
 */
export const DEFAULT_MAX_BATCH_BYTES = 64 * 1024 * 1024;
/** Default largest batch the store accepts, in metric rows plus resources. */
export const DEFAULT_MAX_BATCH_ROWS = 200_000;

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
  /**
   * Index of this chunk within its table, from 0. It starts at 0 again when a delivery that began with
   * plain inserts met a stored row and is redone with upserts (the first attempt's chunks were rolled back).
   */
  readonly index: number;
  readonly rows: number;
  /** Bytes of the chunk's parameters (JSON for resources, array literals for metric rows) as they travel in a Data API request. */
  readonly requestBytes: number;
}

/** Tuning, bounds and hooks of `storeBatch`. */
export interface StoreOptions {
  /**
   * Maximum rows per statement.
   * @default DEFAULT_CHUNK_ROWS
   */
  readonly chunkRows?: number;
  /**
   * Maximum bytes of a chunk's parameters as sent in a Data API request; clamped to
   * `MAX_CHUNK_BYTES` so no request can pass the Data API's 4 MiB.
   * @default MAX_CHUNK_BYTES
   */
  readonly chunkBytes?: number;
  /**
   * Largest batch accepted, in bytes of its JSON; a larger one is rejected unread.
   * @default DEFAULT_MAX_BATCH_BYTES
   */
  readonly maxBatchBytes?: number;
  /**
   * Largest batch accepted, in metric rows plus resources; a larger one is rejected before validation.
   * @default DEFAULT_MAX_BATCH_ROWS
   */
  readonly maxBatchRows?: number;
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
 * @param input the raw bytes or JSON text of a batch file, or a batch object
 * @param options chunk sizes, bounds and hooks
 * @returns stored, duplicate or rejected (with the reason); throws only on database errors, which
 *   leave nothing written (retry the delivery)
 */
export async function storeBatch(db: Db, input: unknown, options: StoreOptions = {}): Promise<StoreResult> {
  const bytes = rawBytes(input);
  // Hashing bytes is several times faster than hashing the same text as a JS string.
  const rawHash = sha256(bytes);
  const maxBytes = options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
  if (bytes.byteLength > maxBytes) {
    return recordRejection(db, {
      ok: false,
      partial: { rowCount: 0, resourceCount: 0 },
      reason: oversizeReason(bytes.byteLength, maxBytes),
      checksum: rawHash,
    });
  }

  const known = await findStoredDelivery(db, rawHash);
  if (known) return known;

  const text = typeof input === 'string' ? input : input instanceof Uint8Array ? decode(bytes) : input;
  const validation = validateBatch(text, {
    rawChecksum: rawHash,
    maxRows: options.maxBatchRows ?? DEFAULT_MAX_BATCH_ROWS,
  });
  if (!validation.ok) return recordRejection(db, validation);
  if (validation.periodRange) {
    await ensureMetricPartitions(
      db,
      new Date(validation.periodRange.min),
      new Date(validation.periodRange.max),
    );
  }
  try {
    return await writeValidBatch(db, validation, rawHash, options, 'insert');
  } catch (err) {
    // A row the first-row probe did not see (stored by a concurrent delivery, or further into the batch):
    // the transaction rolled back whole, so the delivery is simply done again with upserts.
    if (err instanceof RowsExistError) return writeValidBatch(db, validation, rawHash, options, 'upsert');
    throw err;
  }
}

/** Why a batch over the byte bound is refused; names the size, the bound and what to do. */
export function oversizeReason(size: number, maxBytes: number): string {
  return `batch is ${size} bytes, more than the store's limit of ${maxBytes} bytes: collect it in smaller batches (the collector's batch size settings)`;
}

/** The redelivery fast path: one statement that counts the attempt on a stored delivery with these bytes. */
async function findStoredDelivery(db: Db, rawHash: string): Promise<StoreResult | undefined> {
  const [hit] = await db
    .update(batchLedger)
    .set({ attempts: sql`${batchLedger.attempts} + 1`, updatedAt: sql`now()` })
    .where(and(eq(batchLedger.rawHash, rawHash), eq(batchLedger.status, 'stored')))
    .returning({
      batchId: batchLedger.batchId,
      rows: batchLedger.rowCount,
      resources: batchLedger.resourceCount,
    });
  return hit ? { ...hit, outcome: 'duplicate', rowsChanged: 0, duplicateRowsCollapsed: 0 } : undefined;
}

async function writeValidBatch(
  db: Db,
  v: ValidBatch,
  rawHash: string,
  options: StoreOptions,
  mode: WriteMode,
): Promise<StoreResult> {
  const { batch } = v;
  const base = {
    batchId: batch.batchId,
    rows: v.rows.length,
    resources: v.resources.length,
    duplicateRowsCollapsed: v.duplicateRows,
  };
  const collectedAt = new Date(batch.collectedAt);
  const ledgerValues = {
    batchId: batch.batchId,
    accountId: batch.shard.accountId,
    region: batch.shard.region,
    service: batch.shard.service,
    windowStart: new Date(batch.window.start),
    windowEnd: new Date(batch.window.end),
    collectedAt,
    rowCount: v.rows.length,
    resourceCount: v.resources.length,
    // Known once the rows are hashed, which happens while the database writes them (see `writeRows`).
    checksum: CHECKSUM_PENDING,
    rawHash,
    status: 'stored' as const,
    error: null,
  };
  const thisDelivery = and(eq(batchLedger.batchId, batch.batchId), eq(batchLedger.collectedAt, collectedAt));

  return db.transaction(async (tx) => {
    const inserted = await tx
      .insert(batchLedger)
      .values(ledgerValues)
      .onConflictDoNothing({ target: [batchLedger.batchId, batchLedger.collectedAt] })
      .returning({ batchId: batchLedger.batchId });

    if (inserted.length === 0) {
      const [existing] = await tx
        .select({ status: batchLedger.status, checksum: batchLedger.checksum })
        .from(batchLedger)
        .where(thisDelivery)
        .for('update');
      if (!existing) throw new Error(`ledger row of batch ${batch.batchId} conflicted but cannot be read`);

      if (existing.status === 'stored') {
        const conflict = existing.checksum !== v.checksum;
        const reason = conflict
          ? `batch ${batch.batchId} collected at ${batch.collectedAt} was already stored with checksum ${existing.checksum}; this delivery has checksum ${v.checksum} (same batch ID and collection time, different content)`
          : undefined;
        await tx
          .update(batchLedger)
          .set({
            attempts: sql`${batchLedger.attempts} + 1`,
            updatedAt: sql`now()`,
            ...(reason ? { error: reason } : { rawHash: sql`coalesce(${batchLedger.rawHash}, ${rawHash})` }),
          })
          .where(thisDelivery);
        return conflict
          ? { ...base, outcome: 'rejected' as const, rowsChanged: 0, reason: reason! }
          : { ...base, outcome: 'duplicate' as const, rowsChanged: 0 };
      }

      // Rejected before: this delivery is valid, so it takes the ledger row over.
      await tx
        .update(batchLedger)
        .set({ ...ledgerValues, attempts: sql`${batchLedger.attempts} + 1`, updatedAt: sql`now()` })
        .where(and(thisDelivery, eq(batchLedger.status, 'rejected')));
    }

    // Rows are upserted by the later collection, so writing them changes nothing a later collection
    // wrote: a delivery whose content another collection stored already can write them all the same,
    // which lets the checksum be computed while they are written.
    const rowsChanged = await writeRows(tx, v, options, mode);
    await tx.update(batchLedger).set({ checksum: v.checksum }).where(thisDelivery);

    // The same content stored under another collection time: nothing new to record but the time.
    const [twin] = await tx
      .select({ collectedAt: batchLedger.collectedAt })
      .from(batchLedger)
      .where(
        and(
          eq(batchLedger.batchId, batch.batchId),
          ne(batchLedger.collectedAt, collectedAt),
          eq(batchLedger.status, 'stored'),
          eq(batchLedger.checksum, v.checksum),
        ),
      )
      .orderBy(sql`${batchLedger.collectedAt} desc`)
      .limit(1);
    return twin
      ? { ...base, outcome: 'duplicate' as const, rowsChanged: 0 }
      : { ...base, outcome: 'stored' as const, rowsChanged };
  });
}

/** The ledger's checksum of a delivery while its transaction is writing the rows. */
const CHECKSUM_PENDING = 'pending';
/** Rows of the checksum hashed between two looks at the event loop (about a millisecond of work). */
const HASH_SLICE_ROWS = 1000;

/** How the metric rows of a delivery are written; see `writeValidBatch`. */
type WriteMode = 'insert' | 'upsert';

/** Thrown inside the transaction when a plain INSERT meets a stored row: the delivery is redone as upserts. */
class RowsExistError extends Error {}

async function writeRows(tx: Db, v: ValidBatch, options: StoreOptions, mode: WriteMode): Promise<number> {
  const { batch } = v;
  const shard = batch.shard;
  const chunkRows = options.chunkRows ?? DEFAULT_CHUNK_ROWS;
  const chunkBytes = Math.min(options.chunkBytes ?? MAX_CHUNK_BYTES, MAX_CHUNK_BYTES);
  const collectedAt = new Date(batch.collectedAt).toISOString();

  for (const [index, part] of jsonChunks(v.resources, resourceJson, chunkRows, chunkBytes).entries()) {
    await tx.execute(upsertResourcesSql(part.json, shard, batch.batchId));
    await options.onChunk?.({ table: 'resources', index, rows: part.rows, requestBytes: part.requestBytes });
  }

  if (mode === 'insert' && v.rows.length > 0) {
    const [probe] = resultRows<{ stored: unknown }>(await tx.execute(metricRowStoredSql(v.rows[0]!)));
    if (probe?.stored === true || probe?.stored === 't') mode = 'upsert';
  }
  let changed = 0;
  let index = 0;
  const chunks = metricColumnChunks(v.rows, chunkRows, chunkBytes);
  let hashing = true;
  for (let next = chunks.next(); !next.done; ) {
    const part = next.value;
    const statement = insertMetricRowsSql(part.columns, shard, batch.batchId, collectedAt, mode);
    let settled = false;
    const written = tx.execute(statement).then(
      (result) => {
        settled = true;
        return result;
      },
      (err: unknown) => {
        settled = true;
        throw err;
      },
    );
    written.catch(() => {}); // awaited below; meanwhile a failure must not count as unhandled
    // While the database writes the chunk: hash the checksum's rows, then encode the next chunk, in
    // slices with the event loop let in between, so the request goes out while Node works.
    let upcoming: IteratorResult<ColumnChunk> | undefined;
    while (!settled) {
      await yieldToLoop();
      if (hashing) hashing = v.checksumStep(HASH_SLICE_ROWS);
      else if (!upcoming) upcoming = chunks.next();
      else break;
    }
    try {
      changed += affectedRows(await written);
    } catch (err) {
      if (mode === 'insert' && isUniqueViolation(err)) throw new RowsExistError('rows exist', { cause: err });
      throw err;
    }
    next = upcoming ?? chunks.next();
    await options.onChunk?.({
      table: 'metric_rows',
      index: index++,
      rows: part.rows,
      requestBytes: part.requestBytes,
    });
  }
  return changed;
}

/**
 * Whether an error is PostgreSQL's unique violation (SQLSTATE 23505), from either driver: node-postgres
 * sets `code`; the Data API names the state or quotes the server's message.
 */
export function isUniqueViolation(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === '23505') return true;
    const message = String((e as { message?: unknown }).message ?? '');
    if (/SQLState: 23505|duplicate key value violates unique constraint/.test(message)) return true;
  }
  return false;
}

/** The shard columns every row of a batch shares (validation proved they agree). */
interface ShardColumns {
  readonly accountId: string;
  readonly region: string;
  readonly service: string;
}

/**
 * Upsert of one chunk of resources from its JSON parameter. Descriptive columns follow the most recent
 * observation; first/last seen widen either way, so an older batch arriving late still extends first_seen
 * without rolling the state back.
 * @param json the chunk as a JSON array of `resourceJson` objects
 */
export function upsertResourcesSql(json: string, shard: ShardColumns, batchId: string) {
  const latest = (column: string) =>
    sql.raw(
      `${column} = case when excluded.last_seen >= r.last_seen then excluded.${column} else r.${column} end`,
    );
  return sql`insert into resources as r
      (arn, account_id, region, service, type, name, state, tags, capacity, attributes, has_agent_metrics,
       first_seen, last_seen, batch_id)
    select j.arn, ${shard.accountId}, ${shard.region}, ${shard.service}, j.type, j.name, j.state, j.tags,
           j.capacity, coalesce(j.attributes, '{}'::jsonb), j.agent, j.seen, j.seen, ${batchId}
      from json_to_recordset(${json}::json)
        as j(arn text, type text, name text, state text, tags jsonb, capacity jsonb, attributes jsonb,
             agent boolean, seen timestamptz)
    on conflict (arn) do update set
      ${sql.join(
        [
          'account_id',
          'region',
          'service',
          'type',
          'name',
          'state',
          'tags',
          'capacity',
          'attributes',
          'has_agent_metrics',
          'batch_id',
        ].map(latest),
        sql`, `,
      )},
      first_seen = least(r.first_seen, excluded.first_seen),
      last_seen = greatest(r.last_seen, excluded.last_seen)`;
}

/** The columns of a chunk of metric rows, each one PostgreSQL array literal (see `arrayLiteral`). */
export interface MetricColumns {
  readonly resourceArn: string;
  readonly metric: string;
  readonly statistic: string;
  /** Instants as epoch milliseconds (integers parse several times faster than timestamp text). */
  readonly periodStart: string;
  readonly periodSeconds: string;
  readonly value: string;
  readonly unit: string;
  readonly resourceType: string;
}

/**
 * Writes one chunk of metric rows from its column parameters: each column is ONE text parameter holding
 * an array literal, expanded by `unnest` in the select list (zipped row by row, no intermediate table).
 * Plain text parameters work the same over node-postgres and the Data API (which has no array
 * parameters), and parse several times faster on the server than the same rows as JSON objects.
 *
 * `upsert`: the later collection wins; equal collection times (different batch IDs over overlapping
 * windows) fall back to the batch ID, so the outcome does not depend on arrival order, and an older row
 * arriving late changes nothing. `insert`: a plain INSERT, for rows none of which is stored yet (the
 * store's first delivery of a window); it skips the upsert's per-row speculative insertion and fails
 * with a unique violation, never writing over a row, if one is stored after all.
 * @param collectedAt ISO time of the batch's collection
 */
export function insertMetricRowsSql(
  c: MetricColumns,
  shard: ShardColumns,
  batchId: string,
  collectedAt: string,
  mode: WriteMode = 'upsert',
) {
  const insert = sql`insert into metric_rows as m
      (resource_arn, metric, statistic, period_start, period_seconds, value, unit, account_id, region,
       service, resource_type, batch_id, collected_at)
    select unnest(${c.resourceArn}::text::text[]), unnest(${c.metric}::text::text[]),
           unnest(${c.statistic}::text::text[]), ${epochMsToTimestamptz(sql`unnest(${c.periodStart}::text::int8[])`)},
           unnest(${c.periodSeconds}::text::integer[]), unnest(${c.value}::text::float8[]),
           unnest(${c.unit}::text::text[]), ${shard.accountId}, ${shard.region}, ${shard.service},
           unnest(${c.resourceType}::text::text[]), ${batchId}, ${collectedAt}::timestamptz`;
  if (mode === 'insert') return insert;
  return sql`${insert}
    on conflict (resource_arn, metric, statistic, period_start, period_seconds) do update set
      value = excluded.value, unit = excluded.unit, account_id = excluded.account_id,
      region = excluded.region, service = excluded.service, resource_type = excluded.resource_type,
      batch_id = excluded.batch_id, collected_at = excluded.collected_at, updated_at = now()
    where (m.collected_at, m.batch_id) < (excluded.collected_at, excluded.batch_id)`;
}

/**
 * Epoch milliseconds to timestamptz. Exact for every period start validation lets through: those are on
 * their period grid, whole seconds, so the float8 quotient is an integer. (Any millisecond instant before
 * 2106 would be exact too: the quotient is then within a quarter of a microsecond, and `to_timestamp`
 * rounds to the microsecond.)
 */
export function epochMsToTimestamptz(ms: SQL) {
  return sql`to_timestamp(${ms} / 1000::float8)`;
}

/** Whether the first row of a batch is stored already (then its rows are upserted, not inserted). */
export function metricRowStoredSql(row: MetricRow) {
  return sql`select exists (select 1 from metric_rows where resource_arn = ${row.resourceArn}
      and metric = ${row.metric} and statistic = ${row.statistic}
      and period_start = ${isoInstant(row.periodStart)}::timestamptz
      and period_seconds = ${row.periodSeconds}) as stored`;
}

/** A chunk of metric rows as column parameters. */
export interface ColumnChunk {
  readonly columns: MetricColumns;
  readonly rows: number;
  /**
   * Bytes of the column parameters inside a Data API request body (UTF-8, with `"` and `\` escaped once
   * more), counting a separator after every element.
   */
  readonly requestBytes: number;
}

/**
 * Cuts metric rows into chunks of at most `maxRows` rows and at most `maxBytes` bytes of column
 * parameters as sent inside a Data API request, encoding each chunk only when it is asked for.
 * @throws when a single row alone is larger than `maxBytes`
 */
export function* metricColumnChunks(
  rows: readonly MetricRow[],
  maxRows: number,
  maxBytes: number,
): Generator<ColumnChunk> {
  if (!(maxRows >= 1)) throw new Error(`chunk size must be at least 1, got ${maxRows}`);
  const text = new ElementCache();
  // Each column's braces; then each element is counted with the comma that follows it.
  const empty = COLUMNS * 2;
  let start = 0;
  while (start < rows.length) {
    const cols: string[][] = Array.from({ length: COLUMNS }, () => []);
    let bytes = empty;
    let end = start;
    while (end < rows.length && end - start < maxRows) {
      const r = rows[end]!;
      const arn = text.field(0, r.resourceArn);
      const metric = text.field(1, r.metric);
      const statistic = text.field(2, r.statistic);
      const instant = text.instant(r.periodStart);
      // JavaScript's shortest round-trip spelling; PostgreSQL's float8 input reads it back to the same double.
      const seconds = String(r.periodSeconds);
      const value = String(r.value);
      const unit = text.field(6, r.unit);
      const type = text.field(7, r.resourceType);
      const size =
        arn.bytes +
        metric.bytes +
        statistic.bytes +
        instant.bytes +
        seconds.length +
        value.length +
        unit.bytes +
        type.bytes +
        COLUMNS;
      if (size + empty > maxBytes) {
        throw new Error(
          `one row is ${size} bytes as column parameters, more than the ${maxBytes}-byte chunk limit: ${JSON.stringify(r).slice(0, 200)}`,
        );
      }
      if (bytes + size > maxBytes) break;
      bytes += size;
      cols[0]!.push(arn.element);
      cols[1]!.push(metric.element);
      cols[2]!.push(statistic.element);
      cols[3]!.push(instant.element);
      cols[4]!.push(seconds);
      cols[5]!.push(value);
      cols[6]!.push(unit.element);
      cols[7]!.push(type.element);
      end++;
    }
    const [resourceArn, metric, statistic, periodStart, periodSeconds, value, unit, resourceType] = cols.map(
      (c) => `{${c.join(',')}}`,
    ) as [string, string, string, string, string, string, string, string];
    yield {
      columns: { resourceArn, metric, statistic, periodStart, periodSeconds, value, unit, resourceType },
      rows: end - start,
      requestBytes: bytes,
    };
    start = end;
  }
}

const COLUMNS = 8;

/** An array element as it is written into a literal, and its bytes inside a Data API request. */
interface Element {
  readonly element: string;
  readonly bytes: number;
}

/** Encodes each distinct value once: a batch repeats its ARNs, names, units and instants row after row. */
class ElementCache {
  private readonly texts = new Map<string, Element>();
  private readonly instants = new Map<string, Element>();

  get(text: string): Element {
    let hit = this.texts.get(text);
    if (!hit) {
      const element = arrayElement(text);
      hit = { element, bytes: requestBytes(element) };
      this.texts.set(text, hit);
    }
    return hit;
  }
  /** `get` of a field whose value is most often the previous row's (compared without a hash look-up). */
  field(column: number, text: string): Element {
    const last = this.last[column];
    if (last !== undefined && last.text === text) return last.hit;
    const hit = this.get(text);
    this.last[column] = { text, hit };
    return hit;
  }
  private readonly last: ({ text: string; hit: Element } | undefined)[] = [];
  instant(text: string): Element {
    let hit = this.instants.get(text);
    if (!hit) {
      const element = String(Date.parse(text));
      hit = { element, bytes: element.length };
      this.instants.set(text, hit);
    }
    return hit;
  }
}

/**
 * One text element of a PostgreSQL array literal: as it is when it cannot be misread, else double-quoted
 * with `"` and `\` escaped. Quoted: the empty string, `NULL` in any case (else it reads as a null),
 * and anything with a brace, comma, quote, backslash or white space (unquoted white space is trimmed).
 */
export function arrayElement(text: string): string {
  if (text !== '' && !/[{},"\\\s]/.test(text) && text.toLowerCase() !== 'null') return text;
  return `"${text.replace(/["\\]/g, '\\$&')}"`;
}

/**
 * A PostgreSQL array literal of text elements (see `arrayElement`); cast it from text to the column's
 * array type in SQL (`$1::text::timestamptz[]`).
 */
export function arrayLiteral(values: readonly (string | number)[]): string {
  return `{${values.map((v) => (typeof v === 'number' ? String(v) : arrayElement(v))).join(',')}}`;
}

/** An instant as UTC ISO with milliseconds, the precision of the natural key and the checksum. */
function isoInstant(text: string): string {
  return new Date(Date.parse(text)).toISOString();
}

/** One resource as the upsert's JSON expects it. */
export function resourceJson(r: ResourceRow): string {
  return JSON.stringify({
    arn: r.resourceArn,
    type: r.resourceType,
    name: r.name,
    state: r.state,
    tags: r.tags,
    capacity: r.capacity,
    attributes: r.attributes ?? {},
    agent: r.hasAgentMetrics,
    seen: r.observedAt,
  });
}

/** A chunk's JSON parameter. */
export interface JsonChunk {
  readonly json: string;
  readonly rows: number;
  /** Bytes of `json` inside a Data API request body: UTF-8, with `"` and `\` escaped once more. */
  readonly requestBytes: number;
}

/**
 * Serializes items into JSON arrays of at most `maxRows` items and at most `maxBytes` bytes as sent
 * inside a Data API request (see `requestBytes`).
 * @throws when a single item alone is larger than `maxBytes`
 */
export function jsonChunks<T>(
  items: readonly T[],
  toJson: (item: T) => string,
  maxRows: number,
  maxBytes: number,
): JsonChunk[] {
  if (!(maxRows >= 1)) throw new Error(`chunk size must be at least 1, got ${maxRows}`);
  const chunks: JsonChunk[] = [];
  let parts: string[] = [];
  let bytes = 2; // the brackets
  const flush = () => {
    if (parts.length === 0) return;
    chunks.push({ json: `[${parts.join(',')}]`, rows: parts.length, requestBytes: bytes });
    parts = [];
    bytes = 2;
  };
  for (const item of items) {
    const json = toJson(item);
    const size = requestBytes(json) + 1; // and its comma
    if (size + 2 > maxBytes) {
      throw new Error(
        `one row is ${size} bytes as JSON, more than the ${maxBytes}-byte chunk limit: ${json.slice(0, 200)}`,
      );
    }
    if (parts.length >= maxRows || bytes + size > maxBytes) flush();
    parts.push(json);
    bytes += size;
  }
  flush();
  return chunks;
}

/**
 * Bytes a JSON text takes as a string value inside another JSON document (the Data API request body):
 * UTF-8 length plus one backslash for each `"` and `\`. Control characters never occur: the text is
 * already JSON, which escapes them.
 */
export function requestBytes(json: string): number {
  let n = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c < 0x80) n += c === 0x22 || c === 0x5c ? 2 : 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xe000)
      n += 2; // half of a surrogate pair: 4 UTF-8 bytes per pair
    else n += 3;
  }
  return n;
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
      collectedAt: p.collectedAt ?? UNKNOWN_COLLECTED_AT,
      rowCount: p.rowCount,
      resourceCount: p.resourceCount,
      checksum: v.checksum,
      rawHash: v.checksum,
      status: 'rejected',
      error: v.reason,
    })
    .onConflictDoUpdate({
      target: [batchLedger.batchId, batchLedger.collectedAt],
      set: {
        attempts: sql`${batchLedger.attempts} + 1`,
        updatedAt: sql`now()`,
        error: sql.raw('excluded."error"'),
        checksum: sql.raw('excluded."checksum"'),
        rawHash: sql.raw('excluded."raw_hash"'),
        rowCount: sql.raw('excluded."row_count"'),
        resourceCount: sql.raw('excluded."resource_count"'),
      },
      // A stored delivery stays stored: a later invalid delivery of the same ID is reported, not recorded over it.
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
 * Records a batch the store refused without reading it (the store function checks an S3 object's size
 * before downloading it) as rejected in the ledger, under its batch ID when the message named one.
 * @param key where the batch object is (`s3://bucket/key`), for the ID of an unnamed batch
 */
export async function recordRefusedBatch(
  db: Db,
  refused: { batchId?: string; key: string; reason: string },
): Promise<StoreResult> {
  const checksum = sha256(refused.key);
  return recordRejection(db, {
    ok: false,
    ...(refused.batchId ? { batchId: refused.batchId } : {}),
    partial: { rowCount: 0, resourceCount: 0 },
    reason: refused.reason,
    checksum,
  });
}

function rawBytes(input: unknown): Uint8Array {
  if (input instanceof Uint8Array) return input;
  if (typeof input === 'string') return Buffer.from(input, 'utf8');
  return Buffer.from(JSON.stringify(input) ?? String(input), 'utf8');
}

const decoder = new TextDecoder('utf-8', { fatal: false });
function decode(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}
