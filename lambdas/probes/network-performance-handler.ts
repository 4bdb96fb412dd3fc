/**
 * AWS network performance function: one per probe region, invoked every 5 minutes by EventBridge
 * Scheduler. Reads AWS's p50 latency of the subscribed pairs (bundled `network-performance-pairs.json`,
 * built from config at synth time) with `GetAwsNetworkPerformanceData` and remote-writes the newest
 * window of each pair to AMP, next to the probes' own samples.
 *
 * Environment (set by the stack): REMOTE_WRITE_URL, AMP_REGION (SigV4 signing region),
 * NETWORK_PERFORMANCE_PAIRS_FILE (the bundled pairs).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import {
  NETWORK_PERFORMANCE_PAIRS_FILE,
  type NetworkPerformancePair,
  NetworkPerformancePairSchema,
} from '#contracts/network-performance';
import { logger, metrics, observed, traced } from '#shared/powertools';
import { ampRegion, RemoteWriteClient, type WriteResult } from '#shared/remote-write';
import { remoteWriteOutcome, selfMetricSamples } from '#shared/self-metrics';
import {
  type NetworkPerformanceResponse,
  networkPerformanceQueries,
  networkPerformanceSamples,
} from './network-performance.ts';
import type { SampleSink } from './samples.ts';

/** How far back each pass asks: AWS publishes a window some minutes after it ends. */
export const LOOKBACK_MS = 30 * 60_000;
/** Queries per request, well under what the API takes, so one slow pair never holds up the rest for long. */
export const QUERIES_PER_REQUEST = 10;

const EnvSchema = z.object({
  REMOTE_WRITE_URL: z.url({ protocol: /^https?$/ }),
  AMP_REGION: z.optional(z.string().check(z.minLength(1))),
  NETWORK_PERFORMANCE_PAIRS_FILE: z._default(
    z.string().check(z.minLength(1)),
    NETWORK_PERFORMANCE_PAIRS_FILE,
  ),
});

/** What one pass did. */
export interface NetworkPerformanceSummary {
  readonly pairs: number;
  readonly requests: number;
  readonly samples: number;
  readonly samplesFailed: number;
  /** Pairs without a published window in the lookback (subscription still new, or AWS lagging). */
  readonly empty: NetworkPerformancePair[];
  readonly remoteWriteOk: boolean;
}

/**
 * Reads the pairs' newest windows and writes them.
 * @param pairs the subscribed pairs
 * @param ports the EC2 client, the sink, the clock and the deadline
 */
export async function collectNetworkPerformance(
  pairs: readonly NetworkPerformancePair[],
  ports: { ec2: EC2Client; sink: SampleSink; now: number; deadline: number },
): Promise<NetworkPerformanceSummary> {
  const { GetAwsNetworkPerformanceDataCommand } = await import('@aws-sdk/client-ec2');
  const queries = networkPerformanceQueries(pairs);
  const responses: NetworkPerformanceResponse[] = [];
  let requests = 0;
  for (let i = 0; i < queries.length; i += QUERIES_PER_REQUEST) {
    let NextToken: string | undefined;
    do {
      const page = await ports.ec2.send(
        new GetAwsNetworkPerformanceDataCommand({
          DataQueries: queries.slice(i, i + QUERIES_PER_REQUEST),
          StartTime: new Date(ports.now - LOOKBACK_MS),
          EndTime: new Date(ports.now),
          ...(NextToken ? { NextToken } : {}),
        }),
      );
      requests++;
      responses.push(...(page.DataResponses ?? []));
      NextToken = page.NextToken;
    } while (NextToken);
  }
  const { samples, empty } = networkPerformanceSamples(pairs, responses);
  const written =
    samples.length > 0
      ? await ports.sink.write(samples, { deadline: ports.deadline })
      : { ok: true, samplesFailed: 0 };
  return {
    pairs: pairs.length,
    requests,
    samples: samples.length,
    samplesFailed: written.samplesFailed,
    empty,
    remoteWriteOk: written.ok,
  };
}

let ports: { ec2: EC2Client; client: RemoteWriteClient; pairs: NetworkPerformancePair[] } | undefined;

async function init(): Promise<NonNullable<typeof ports>> {
  if (ports) return ports;
  const env = EnvSchema.parse(process.env);
  const region = env.AMP_REGION ?? ampRegion(env.REMOTE_WRITE_URL);
  const sdk = await import('@aws-sdk/client-ec2');
  // A missing or broken pairs file fails every run loudly (the stack always bundles it).
  const pairs = z
    .array(NetworkPerformancePairSchema)
    .parse(
      JSON.parse(
        readFileSync(join(process.env.LAMBDA_TASK_ROOT ?? '.', env.NETWORK_PERFORMANCE_PAIRS_FILE), 'utf8'),
      ),
    );
  ports = {
    ec2: traced(new sdk.EC2Client({})),
    client: new RemoteWriteClient({ url: env.REMOTE_WRITE_URL, sigv4: region ? { region } : false, logger }),
    pairs,
  };
  return ports;
}

let coldStart = true;

/**
 * Runs one pass.
 * @param _event the scheduler payload (unused)
 * @param context the Lambda context (remaining time bounds the write)
 */
export async function networkPerformanceHandler(
  _event: unknown,
  context: Context,
): Promise<NetworkPerformanceSummary> {
  const isCold = coldStart;
  coldStart = false;
  const { ec2, client, pairs } = await init();
  const startedAtMs = Date.now();
  const deadline = () => Date.now() + Math.max(0, context.getRemainingTimeInMillis() - 500);
  // The write's own result, for the self-metrics (none when AWS returned no window at all).
  let written: WriteResult | undefined;
  const summary = await collectNetworkPerformance(pairs, {
    ec2,
    sink: {
      write: async (samples, opts) => {
        written = await client.write(samples, opts);
        return written;
      },
    },
    now: startedAtMs,
    deadline: deadline(),
  });
  try {
    await client.write(
      selfMetricSamples({
        component: 'probes',
        function: context.functionName ?? 'network-performance',
        region: process.env.AWS_REGION ?? 'unknown',
        success: summary.remoteWriteOk,
        startedAtMs,
        endedAtMs: Date.now(),
        coldStart: isCold,
        ...(written ? { remoteWrite: remoteWriteOutcome(written) } : {}),
      }),
      { deadline: deadline() },
    );
  } catch (err) {
    logger.warn('self-metrics not written', { error: (err as Error).message });
  }
  metrics.addMetric('PairsRead', MetricUnit.Count, summary.pairs - summary.empty.length);
  metrics.addMetric('PairsEmpty', MetricUnit.Count, summary.empty.length);
  metrics.addMetric('RemoteWriteFailures', MetricUnit.Count, summary.remoteWriteOk ? 0 : 1);
  if (summary.empty.length > 0) logger.info('pairs without a published window', { empty: summary.empty });
  logger.info('network performance read', { ...summary, empty: summary.empty.length });
  return summary;
}

/** Lambda entry point. */
export const handler = observed(networkPerformanceHandler);
