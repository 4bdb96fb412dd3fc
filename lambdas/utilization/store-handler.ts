/**
 * Store function: consumes the store queue, one message per batch (`{ bucket, key }` claim check, as
 * the collector's batch sink sends it), reads the batch object from S3 and stores it idempotently.
 *
 * Each message is its own unit (Powertools `processPartialResponse`): a database or S3 error fails that
 * message only, SQS redelivers it and, after the queue's maxReceiveCount, moves it to the DLQ. A
 * rejected batch is NOT an error: it is recorded in the ledger with its reason, logged, counted, and the
 * message is acknowledged (retrying an invalid file cannot fix it).
 *
 * Environment: `DB_CLUSTER_ARN`, `DB_SECRET_ARN`, `DB_NAME` (Data API) or `DATABASE_URL`;
 * `STORE_CHUNK_ROWS` (rows per INSERT, default 500).
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
import { logger, metrics, observed, traced } from '#shared/powertools';
import { type StoreOptions, type StoreResult, storeBatch } from './store.ts';

/** The body of a store queue message. Extra fields (the collector adds `batchId`) are ignored. */
export const StoreMessageSchema = z.object({
  bucket: z.string().min(3, 'expected an S3 bucket name'),
  key: z.string().min(1, 'expected an S3 object key'),
});
export type StoreMessage = z.infer<typeof StoreMessageSchema>;

/** Port: reads a batch object. */
export interface BatchObjectReader {
  read(bucket: string, key: string): Promise<string>;
}

/** Reads batch objects with S3 GetObject. */
export function s3BatchReader(s3: S3Client): BatchObjectReader {
  return {
    async read(bucket, key) {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (!out.Body) throw new Error(`s3://${bucket}/${key} has no body`);
      return out.Body.transformToString('utf-8');
    },
  };
}

/** What the store function needs. */
export interface StoreHandlerDeps {
  readonly db: Db;
  readonly reader: BatchObjectReader;
  readonly storeOptions?: StoreOptions;
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
  const { bucket, key } = parsed.data;
  const text = await deps.reader.read(bucket, key);
  const result = await retryWhileResuming(() => storeBatch(deps.db, text, deps.storeOptions));
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
  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const d = resolve();
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

let envDeps: StoreHandlerDeps | undefined;

function depsFromEnv(): StoreHandlerDeps {
  if (!envDeps) {
    const chunkRows = Number(process.env.STORE_CHUNK_ROWS ?? '');
    envDeps = {
      db: dbFromEnv(process.env, traced(new RDSDataClient({}))).db,
      reader: s3BatchReader(traced(new S3Client({}))),
      storeOptions: Number.isInteger(chunkRows) && chunkRows > 0 ? { chunkRows } : {},
    };
  }
  return envDeps;
}

/** Lambda entry point of the store function. */
export const handler = observed(createStoreHandler(depsFromEnv));
