/**
 * Store function: consumes the store queue, one message per batch (`{ bucket, key }` claim check, as
 * the collector's batch sink sends it), reads the batch object from S3 and stores it idempotently.
 *
 * Each message is its own unit (Powertools `processPartialResponse`): a database or S3 error fails that
 * message only, SQS redelivers it and, after the queue's maxReceiveCount, moves it to the DLQ. A
 * rejected batch is NOT an error: it is recorded in the ledger with its reason, logged, counted, and the
 * message is acknowledged (retrying an invalid file cannot fix it).
 *
 * A batch object larger than the store's byte bound is never downloaded (its size comes with the GetObject
 * response, before the body is read): it is recorded as rejected in the ledger with the reason, and the
 * message fails, so after the queue's maxReceiveCount it lands in the DLQ for an operator. Memory stays
 * bounded whatever the collector sent.
 *
 * At most once an hour per container it also maintains the monthly partitions of `metric_rows` (creates
 * the coming months', drops those past `RETENTION_DAYS`); a failure there is logged, not retried.
 *
 * Environment: `DB_CLUSTER_ARN`, `DB_SECRET_ARN`, `DB_NAME` (Data API) or `DATABASE_URL`;
 * `STORE_CHUNK_ROWS` (rows per statement, default 5,000); `RETENTION_DAYS` (default 400).
 *
 * Metrics (namespace from POWERTOOLS_METRICS_NAMESPACE): BatchesStored, BatchesDuplicate,
 * BatchesRejected, BatchesFailed, RowsWritten (Count). RowsWritten counts metric rows inserted or
 * changed (an older overlapping value that loses to a newer one is not counted).
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { type Db, dbFromEnv, retryWhileResuming } from '#shared/db/client';
import {
  DEFAULT_RETENTION_DAYS,
  maintainMetricPartitions,
  retentionDaysFromEnv,
} from '#shared/db/partitions';
import { explainError } from '#shared/explain-error';
import { logger, metrics, observed, traced } from '#shared/powertools';
import {
  DEFAULT_MAX_BATCH_BYTES,
  oversizeReason,
  recordRefusedBatch,
  type StoreOptions,
  type StoreResult,
  storeBatch,
} from './store.ts';

/** The body of a store queue message. Extra fields (the collector adds `batchId`) are ignored. */
export const StoreMessageSchema = z.object({
  bucket: z.string().min(3, 'expected an S3 bucket name'),
  key: z.string().min(1, 'expected an S3 object key'),
  /** The collector names the batch; used to record a batch refused unread under its own ID. */
  batchId: z.string().min(1).max(200).optional(),
});
export type StoreMessage = z.infer<typeof StoreMessageSchema>;

/** Port: reads a batch object (its raw bytes, or its text). */
export interface BatchObjectReader {
  read(bucket: string, key: string): Promise<Uint8Array | string>;
}

/** A batch object over the store's byte bound, refused before its body was read. */
export class BatchTooLargeError extends Error {
  constructor(
    readonly location: string,
    readonly size: number,
    readonly maxBytes: number,
  ) {
    super(`${location}: ${oversizeReason(size, maxBytes)}`);
    this.name = 'BatchTooLargeError';
  }
}

/**
 * Reads batch objects with S3 GetObject, as bytes (the store hashes them before decoding).
 * @param maxBytes objects larger than this are refused with `BatchTooLargeError` without reading the body
 * @default maxBytes DEFAULT_MAX_BATCH_BYTES
 */
export function s3BatchReader(s3: S3Client, maxBytes: number = DEFAULT_MAX_BATCH_BYTES): BatchObjectReader {
  return {
    async read(bucket, key) {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (!out.Body) throw new Error(`s3://${bucket}/${key} has no body`);
      if (out.ContentLength !== undefined && out.ContentLength > maxBytes) {
        // Release the connection without downloading the object.
        (out.Body as { destroy?: () => void }).destroy?.();
        throw new BatchTooLargeError(`s3://${bucket}/${key}`, out.ContentLength, maxBytes);
      }
      return out.Body.transformToByteArray();
    },
  };
}

/** What the store function needs. */
export interface StoreHandlerDeps {
  readonly db: Db;
  readonly reader: BatchObjectReader;
  readonly storeOptions?: StoreOptions;
  /**
   * Partition maintenance: days of metric rows kept, and how often (per container) to maintain.
   * @default - no maintenance (the migrate function still does it on every deploy)
   */
  readonly partitions?: { readonly retentionDays: number; readonly everyMs?: number };
}

/**
 * Stores the batch one SQS record points at; throws (so the record is retried) on any failure other
 * than a rejected batch.
 * @param record one SQS record
 * @param deps database and S3 reader
 */
export async function storeRecord(record: SQSRecord, deps: StoreHandlerDeps): Promise<StoreResult> {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    throw new Error(`message ${record.messageId} body is not JSON: ${record.body.slice(0, 200)}`);
  }
  const parsed = StoreMessageSchema.safeParse(body);
  if (!parsed.success)
    throw new Error(`message ${record.messageId} is not a batch reference: ${z.prettifyError(parsed.error)}`);
  const { bucket, key, batchId } = parsed.data;
  let raw: Uint8Array | string;
  try {
    raw = await deps.reader.read(bucket, key);
  } catch (err) {
    if (!(err instanceof BatchTooLargeError)) throw err;
    // Recorded for the ledger's health figures; the message fails on to the DLQ for an operator.
    const refused = await retryWhileResuming(() =>
      recordRefusedBatch(deps.db, {
        ...(batchId ? { batchId } : {}),
        key: err.location,
        reason: err.message,
      }),
    );
    metrics.addMetric('BatchesRejected', MetricUnit.Count, 1);
    logger.warn('batch refused unread: too large', {
      bucket,
      key,
      batchId: refused.batchId,
      size: err.size,
      maxBytes: err.maxBytes,
    });
    throw err;
  }
  const result = await retryWhileResuming(() => storeBatch(deps.db, raw, deps.storeOptions));
  const fields = {
    bucket,
    key,
    batchId: result.batchId,
    outcome: result.outcome,
    rows: result.rows,
    rowsChanged: result.rowsChanged,
  };
  switch (result.outcome) {
    case 'stored':
      metrics.addMetric('BatchesStored', MetricUnit.Count, 1);
      metrics.addMetric('RowsWritten', MetricUnit.Count, result.rowsChanged);
      logger.info('batch stored', { ...fields, duplicateRowsCollapsed: result.duplicateRowsCollapsed });
      break;
    case 'duplicate':
      metrics.addMetric('BatchesDuplicate', MetricUnit.Count, 1);
      logger.info('duplicate batch ignored', fields);
      break;
    case 'rejected':
      metrics.addMetric('BatchesRejected', MetricUnit.Count, 1);
      logger.warn('batch rejected', { ...fields, reason: result.reason });
      break;
  }
  return result;
}

/**
 * The SQS handler before the Middy chain: each record is processed on its own; failures are reported
 * as batch item failures.
 * @param deps database and S3 reader, or a function that creates them on first use
 */
export function createStoreHandler(deps: StoreHandlerDeps | (() => StoreHandlerDeps)) {
  const resolve = typeof deps === 'function' ? deps : () => deps;
  let maintainedAt = Number.NEGATIVE_INFINITY;
  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const d = resolve();
    if (d.partitions && Date.now() - maintainedAt >= (d.partitions.everyMs ?? MAINTENANCE_EVERY_MS)) {
      maintainedAt = Date.now();
      await maintainMetricPartitions(d.db, new Date(), d.partitions.retentionDays).then(
        (done) => logger.info('metric partitions maintained', { ...done }),
        (err: unknown) => logger.warn('metric partition maintenance failed', { error: err as Error }),
      );
    }
    // One record at a time: records of one invocation often overlap (same shard, adjacent windows), and
    // sequential transactions keep the Data API and the database from contending with themselves.
    const processor = new BatchProcessor(EventType.SQS);
    return processPartialResponse(
      event,
      async (record: SQSRecord) => {
        try {
          return await storeRecord(record, d);
        } catch (err) {
          metrics.addMetric('BatchesFailed', MetricUnit.Count, 1);
          logger.error('batch not stored, will be retried', {
            messageId: record.messageId,
            reason: explainError(err),
            error: err as Error,
          });
          throw err;
        }
      },
      processor,
      // A batch whose every record failed throws (the default), so the function's error alarm sees an outage.
      { context, processInParallel: false },
    );
  };
}

/** How often a container maintains partitions. */
export const MAINTENANCE_EVERY_MS = 3_600_000;

let envDeps: StoreHandlerDeps | undefined;

function depsFromEnv(): StoreHandlerDeps {
  if (!envDeps) {
    const chunkRows = Number(process.env.STORE_CHUNK_ROWS ?? '');
    envDeps = {
      db: dbFromEnv(process.env, traced(new RDSDataClient({}))).db,
      reader: s3BatchReader(traced(new S3Client({}))),
      storeOptions: Number.isInteger(chunkRows) && chunkRows > 0 ? { chunkRows } : {},
      partitions: { retentionDays: retentionDaysFromEnv() ?? DEFAULT_RETENTION_DAYS },
    };
  }
  return envDeps;
}

/** Lambda entry point of the store function. */
export const handler = observed(createStoreHandler(depsFromEnv));
