/**
 * Probe function: one per AZ, invoked every minute by EventBridge Scheduler with its source AZ as the
 * payload; the rest of the run request comes from the bundled probe plan (see `composeRunRequest`). Validates the event, runs `executeProbeRun` with the real clients and
 * the AMP remote-write client, emits Powertools metrics and returns a summary.
 *
 * Environment (set by the stack): REMOTE_WRITE_URL (AMP remote-write endpoint), AMP_REGION (SigV4
 * signing region; when unset, the region in an AMP URL, else unsigned), PROBE_PLAN_FILE (the bundled
 * plan), MESH_VPC_ENDPOINT_IDS (comma-separated interface endpoints of the AZ mesh).
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { logger, metrics, observed, traced } from '#shared/powertools';
import { ampRegion, RemoteWriteClient } from '#shared/remote-write';
import { selfMetricSamples } from '#shared/self-metrics';
import type { DiscoveryClients } from './discovery.ts';
import { composeRunRequest, ProbeEventSchema } from './event.ts';
import { executeProbeRun, type ProbeRunSummary } from './execute.ts';
import type { SampleSink } from './samples.ts';

const EnvSchema = z.object({
  REMOTE_WRITE_URL: z.url({ protocol: /^https?$/ }),
  AMP_REGION: z.optional(z.string().check(z.minLength(1))),
  /** File name of the bundled probe plan, relative to the function's code root. */
  PROBE_PLAN_FILE: z.optional(z.string().check(z.minLength(1))),
  MESH_VPC_ENDPOINT_IDS: z.optional(z.string()),
});

// Time kept at the end of the invocation for the remote write: a fifth of what is left, 2-10 s.
const WRITE_RESERVE = { share: 0.2, minMs: 2_000, maxMs: 10_000 };
// Time kept after the write for logging, metrics and the return.
const FINISH_RESERVE_MS = 500;

let coldStart = true;
let ports:
  | {
      clients: () => Promise<DiscoveryClients>;
      sink: SampleSink;
      plan: Record<string, unknown> | undefined;
      meshEndpointIds: string;
    }
  | undefined;

let clients: Promise<DiscoveryClients> | undefined;
/** Loads the SDK clients on the first run that discovers targets (a run without discovery never does). */
function discoveryClients(): Promise<DiscoveryClients> {
  clients ??= Promise.all([import('@aws-sdk/client-ec2'), import('@aws-sdk/client-servicediscovery')]).then(
    ([{ EC2Client }, { ServiceDiscoveryClient }]) => ({
      ec2: traced(new EC2Client({})),
      serviceDiscovery: traced(new ServiceDiscoveryClient({})),
    }),
  );
  return clients;
}

function init(): NonNullable<typeof ports> {
  if (ports) return ports;
  const env = EnvSchema.parse(process.env);
  const region = env.AMP_REGION ?? ampRegion(env.REMOTE_WRITE_URL);
  const client = new RemoteWriteClient({
    url: env.REMOTE_WRITE_URL,
    sigv4: region ? { region } : false,
    logger,
  });
  // The plan is read once per execution environment; a missing or broken plan fails every run loudly.
  const plan = env.PROBE_PLAN_FILE
    ? (JSON.parse(
        readFileSync(join(process.env.LAMBDA_TASK_ROOT ?? '.', env.PROBE_PLAN_FILE), 'utf8'),
      ) as Record<string, unknown>)
    : undefined;
  ports = {
    plan,
    meshEndpointIds: env.MESH_VPC_ENDPOINT_IDS ?? '',
    clients: discoveryClients,
    sink: {
      write: async (samples, opts) => {
        const r = await client.write(samples, opts);
        if (!r.ok)
          logger.warn('remote write incomplete', {
            samplesFailed: r.samplesFailed,
            failures: r.failures.map(({ samples: _, ...f }) => f),
          });
        return r;
      },
    },
  };
  return ports;
}

/** The summary the function returns (outcomes left out: they are in AMP). */
export type ProbeHandlerResult = Omit<ProbeRunSummary, 'outcomes'>;

/**
 * Runs one probe invocation.
 * @param event the scheduler payload
 * @param context the Lambda context (remaining time bounds the run)
 */
export async function probeHandler(event: unknown, context: Context): Promise<ProbeHandlerResult> {
  const isCold = coldStart;
  coldStart = false;
  const { clients, sink, plan, meshEndpointIds } = init();
  const parsed = ProbeEventSchema.safeParse(composeRunRequest(event, plan, meshEndpointIds));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    logger.error('invalid probe event', { problems });
    throw new Error(`invalid probe event: ${problems.join('; ')}`);
  }
  const request = parsed.data;
  logger.appendKeys({ sourceAz: request.source.az, sourceAzId: request.source.azId });
  metrics.addDimension('SourceAzId', request.source.azId);

  const startedAtMs = Date.now();
  const remaining = context.getRemainingTimeInMillis() - FINISH_RESERVE_MS;
  const writeReserveMs = Math.min(
    WRITE_RESERVE.maxMs,
    Math.max(WRITE_RESERVE.minMs, remaining * WRITE_RESERVE.share),
  );
  const result = await executeProbeRun(request, {
    clients,
    sink,
    deadline: Date.now() + remaining,
    writeReserveMs,
    coldStart: isCold,
  });

  // The run's own health for the pipeline dashboard, after (and about) the main write.
  try {
    await sink.write(
      selfMetricSamples({
        component: 'probes',
        function: context.functionName ?? 'probe',
        region: request.source.region,
        az: request.source.az,
        success: result.remoteWriteOk,
        startedAtMs,
        endedAtMs: Date.now(),
        coldStart: isCold,
        remoteWrite: {
          samplesWritten: result.samples - result.samplesFailed,
          samplesFailed: result.samplesFailed,
          failedRequests: result.remoteWriteOk ? 0 : 1,
        },
      }),
      { deadline: Date.now() + Math.max(0, context.getRemainingTimeInMillis() - FINISH_RESERVE_MS) },
    );
  } catch (err) {
    logger.warn('self-metrics not written', { error: (err as Error).message });
  }

  metrics.addMetric('RunDurationMs', MetricUnit.Milliseconds, result.durationMs);
  metrics.addMetric('TargetsProbed', MetricUnit.Count, result.targetsProbed);
  metrics.addMetric('TargetsFailed', MetricUnit.Count, result.failed);
  metrics.addMetric('DiscoveryFailures', MetricUnit.Count, result.discovery.failures.length);
  metrics.addMetric('RemoteWriteFailures', MetricUnit.Count, result.remoteWriteOk ? 0 : 1);
  for (const f of result.discovery.failures) logger.warn('discovery failed', { ...f });
  for (const s of result.discovery.skipped) logger.info('discovered endpoint skipped', { ...s });
  if (result.writeError) logger.error('remote write threw', { error: result.writeError });
  const { outcomes: _, ...summary } = result;
  logger.info('probe run done', {
    targetsProbed: summary.targetsProbed,
    failed: summary.failed,
    timedOut: summary.timedOut,
    durationMs: summary.durationMs,
    coldStart: isCold,
    failures: summary.failures,
  });
  return summary;
}

/** Lambda entry point. */
export const handler = observed(probeHandler);
