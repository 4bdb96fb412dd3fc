/**
 * Ends a collection run: summarizes shard results, publishes the run's heartbeat and failure counts
 * (CloudWatch EMF for the alarms; AMP gauges for Grafana), and tells the workflow whether the run
 * stayed within its tolerated failure percentage.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { logger, metrics, observed } from '#shared/powertools';
import { isAmpUrl, RemoteWriteClient } from '#shared/remote-write';
import { selfMetricSamples } from '#shared/self-metrics';
import { type CollectionSummary, SummaryEventSchema, summarizeCollection } from './collection-summary.ts';

const remoteWriteUrl = process.env.REMOTE_WRITE_URL;
const client = remoteWriteUrl
  ? new RemoteWriteClient({ url: remoteWriteUrl, sigv4: isAmpUrl(remoteWriteUrl) ? {} : false })
  : undefined;

/** Gauges of a run, pushed to AMP. */
export function summarySamples(summary: CollectionSummary, nowMs: number) {
  const at = { timestampMs: nowMs };
  return [
    { name: 'utilization_collection_shards', labels: {}, value: summary.shards, ...at },
    { name: 'utilization_collection_shards_failed', labels: {}, value: summary.failed.length, ...at },
    { name: 'utilization_collection_last_run_timestamp_seconds', labels: {}, value: nowMs / 1000, ...at },
    ...(summary.withinTolerance
      ? [
          {
            name: 'utilization_collection_run_last_success_timestamp_seconds',
            labels: {},
            value: nowMs / 1000,
            ...at,
          },
        ]
      : []),
    ...summary.failed.map((f) => ({
      name: 'utilization_collection_shard_failed',
      labels: { account: f.accountId, region: f.region, service: f.service, error: f.error },
      value: 1,
      ...at,
    })),
  ];
}

export const handler = observed(async (event: unknown, context: Context): Promise<CollectionSummary> => {
  const startedAtMs = Date.now();
  const summary = summarizeCollection(SummaryEventSchema.parse(event));
  metrics.addMetric('CollectionHeartbeat', MetricUnit.Count, 1);
  metrics.addMetric('ShardsTotal', MetricUnit.Count, summary.shards);
  metrics.addMetric('ShardsFailed', MetricUnit.Count, summary.failed.length);
  for (const f of summary.failed) logger.warn('shard failed', { shard: f });
  if (client) {
    const run = selfMetricSamples({
      component: 'utilization',
      function: context.functionName ?? 'collection-summary',
      region: process.env.AWS_REGION ?? 'unknown',
      success: summary.withinTolerance,
      startedAtMs,
      endedAtMs: Date.now(),
    });
    const result = await client.write([...summarySamples(summary, Date.now()), ...run], {
      remainingTimeMs: () => context.getRemainingTimeInMillis() - 500,
    });
    if (!result.ok) {
      metrics.addMetric('RemoteWriteFailures', MetricUnit.Count, 1);
      logger.error('remote-write of the run summary failed', {
        failures: result.failures.map((f) => ({ status: f.status, body: f.body })),
      });
    }
  }
  logger.info('collection run summarized', { summary: { ...summary, failed: summary.failed.length } });
  return summary;
});
