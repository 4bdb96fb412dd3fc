/**
 * Collect function: one invocation per (account, region, service) shard of a collection run.
 *
 * Event: the shard plus collection parameters (`CollectEventSchema`). Environment: `BATCH_BUCKET`,
 * `STORE_QUEUE_URL`, and the batch bounds `BATCH_MAX_ROWS`, `BATCH_MAX_BYTES` (a larger shard is sent
 * as several batches). Returns a `CollectSummary`. A shard that cannot be entered or read (AccessDenied,
 * disabled region) throws an error named `ShardError` whose message holds the account and the reason,
 * for the Map state to catch; any other error is an ordinary, retryable failure.
 *
 * Metrics (namespace from POWERTOOLS_METRICS_NAMESPACE, dimension `CollectedService`):
 * ResourcesDiscovered, RowsCollected, GetMetricDataCalls, MetricsRequested, ShardFailures (Count).
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { STSClient } from '@aws-sdk/client-sts';
import { z } from 'zod';
import { BATCH_LIMIT_ENV, DEFAULT_BATCH_LIMITS } from '#contracts/utilization-batch';
import { explainError } from '#shared/explain-error';
import { logger, metrics, observed, traced } from '#shared/powertools';
import { assumeRoleCredentials, type CredentialsPort, partitionOf } from './assume-role.ts';
import { createShardClients } from './aws-clients.ts';
import { s3SqsBatchSink } from './batch-sink.ts';
import { type CollectSummary, collectShard } from './collect.ts';
import { ShardSchema } from './rows.ts';
import { ShardError } from './shard-error.ts';

/** How to collect: the parameters the workflow passes to every shard. */
const CollectParamsSchema = z.strictObject({
  /** Role assumed in the member account. */
  roleName: z.string().regex(/^[\w+=,.@-]{1,64}$/, 'expected an IAM role name'),
  /** External ID the member role requires. */
  externalId: z.string().min(2).max(1224).optional(),
  lookbackMinutes: z
    .number()
    .int()
    .min(1)
    .max(1440 * 15),
  periodSeconds: z
    .number()
    .int()
    .positive()
    .refine((p) => p % 60 === 0, {
      error: (i) => `periodSeconds must be a multiple of 60, got ${String(i.input)}`,
    }),
  delayMinutes: z
    .number()
    .int()
    .min(0)
    .max(24 * 60),
  /** Start of the workflow execution (`$$.Execution.StartTime`): every shard of a run shares one window. */
  runStartedAt: z.iso.datetime({ offset: true }).optional(),
  /** Execution that invoked the shard, for the logs. */
  executionId: z.string().optional(),
});

/**
 * The collect function's event: `{ shard: { accountId, region, service }, ...params }` as the collection
 * workflow sends it. The flat form `{ accountId, region, service, ...params }` is accepted too.
 */
export const CollectEventSchema = z.preprocess(
  (raw) => {
    if (raw && typeof raw === 'object' && !('shard' in raw) && 'accountId' in raw) {
      const { accountId, region, service, ...params } = raw as Record<string, unknown>;
      return { shard: { accountId, region, service }, ...params };
    }
    return raw;
  },
  CollectParamsSchema.extend({ shard: ShardSchema }),
);
export type CollectEvent = z.infer<typeof CollectEventSchema>;

const EnvSchema = z.object({
  BATCH_BUCKET: z.string().min(3, 'BATCH_BUCKET must name the batch bucket'),
  STORE_QUEUE_URL: z.url({ error: 'STORE_QUEUE_URL must be the store queue URL' }),
  [BATCH_LIMIT_ENV.maxRows]: z.coerce.number().int().positive().default(DEFAULT_BATCH_LIMITS.maxRows),
  [BATCH_LIMIT_ENV.maxBytes]: z.coerce.number().int().positive().default(DEFAULT_BATCH_LIMITS.maxBytes),
});

const sts = traced(new STSClient({}));
const s3 = traced(new S3Client({}));
const sqs = traced(new SQSClient({}));
/** Credentials ports per role settings, so warm invocations reuse member credentials. */
const credentialPorts = new Map<string, CredentialsPort>();

function credentialsFor(event: CollectEvent): CredentialsPort {
  const partition = partitionOf(event.shard.region);
  const key = `${partition}|${event.roleName}|${event.externalId ?? ''}`;
  let port = credentialPorts.get(key);
  if (!port) {
    port = assumeRoleCredentials(sts, {
      roleName: event.roleName,
      partition,
      ...(event.externalId ? { externalId: event.externalId } : {}),
    });
    credentialPorts.set(key, port);
  }
  return port;
}

function parseEvent(event: unknown): CollectEvent {
  const parsed = CollectEventSchema.safeParse(event);
  if (!parsed.success) throw new Error(`invalid collect event: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** Collects one shard: assume role, discover, GetMetricData, batch to S3, claim check to SQS. */
export const handler = observed(async (raw: unknown): Promise<CollectSummary> => {
  const event = parseEvent(raw);
  const parsedEnv = EnvSchema.safeParse(process.env);
  if (!parsedEnv.success) throw new Error(`invalid environment: ${z.prettifyError(parsedEnv.error)}`);
  const env = parsedEnv.data;
  const { shard } = event;
  logger.appendKeys({
    accountId: shard.accountId,
    region: shard.region,
    collectedService: shard.service,
    ...(event.executionId ? { executionId: event.executionId } : {}),
  });
  metrics.addDimension('CollectedService', shard.service);
  try {
    const { summary, notes } = await collectShard(
      {
        shard,
        lookbackMinutes: event.lookbackMinutes,
        periodSeconds: event.periodSeconds,
        delayMinutes: event.delayMinutes,
        ...(event.runStartedAt ? { runStartedAt: new Date(event.runStartedAt) } : {}),
        batchLimits: { maxRows: env[BATCH_LIMIT_ENV.maxRows], maxBytes: env[BATCH_LIMIT_ENV.maxBytes] },
      },
      {
        credentials: credentialsFor(event),
        clientsFor: (s, credentials) => createShardClients(s.region, credentials, { instrument: traced }),
        sink: s3SqsBatchSink(s3, sqs, env.BATCH_BUCKET, env.STORE_QUEUE_URL),
        now: () => new Date(),
      },
    );
    metrics.addMetric('ResourcesDiscovered', MetricUnit.Count, summary.resources);
    metrics.addMetric('RowsCollected', MetricUnit.Count, summary.rows);
    metrics.addMetric('GetMetricDataCalls', MetricUnit.Count, summary.getMetricDataCalls);
    metrics.addMetric('MetricsRequested', MetricUnit.Count, summary.metricsRequested);
    if (notes.length > 0) logger.warn('cloudwatch notes', { notes: notes.slice(0, 50), total: notes.length });
    logger.info('shard collected', { ...summary });
    return summary;
  } catch (error) {
    if (error instanceof ShardError) {
      metrics.addMetric('ShardFailures', MetricUnit.Count, 1);
      logger.error('shard failed', { reason: error.reason, detail: error.detail });
    } else logger.error('shard failed, will be retried', { reason: explainError(error) });
    throw error;
  }
});
