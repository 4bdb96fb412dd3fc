/**
 * Freshness checks over PromQL: AMP's query API is Prometheus's HTTP API, signed with SigV4 (service
 * `aps`) by the same signer the remote-write client uses. The queries read the metric names the
 * functions emit (lambdas/probes/samples.ts, lambdas/shared/self-metrics.ts,
 * lambdas/utilization/report-gauges.ts, lambdas/msk-rollback/metrics.ts).
 */
import { METRIC as ROLLBACK_METRIC } from '#msk-rollback/metrics';
import { PROBE_METRICS } from '#probes/samples';
import { createRequestSigner, isAmpUrl, type SigV4Options } from '#shared/remote-write/sigv4';
import { SELF_METRICS } from '#shared/self-metrics';
import type { ActivePhase } from './evaluate.ts';

/** One element of an instant vector. */
export interface VectorSample {
  readonly metric: Record<string, string>;
  readonly value: number;
}

/** Runs instant queries. */
export type PromQuery = (expr: string) => Promise<VectorSample[]>;

/** The part of fetch the client uses. */
export type QueryFetch = (
  url: string,
  init: { method: string; headers: Record<string, string>; body: string; signal: AbortSignal },
) => Promise<{ status: number; text(): Promise<string> }>;

/**
 * Creates an instant-query function for a Prometheus query URL (`.../api/v1/query`). Queries are POSTed
 * as a form, so long expressions never hit URL limits; AMP URLs are SigV4-signed.
 * @param queryUrl the query endpoint (the Monitoring stack's `QueryUrl` output)
 * @param opts signing settings (AMP only), fetch and the evaluation time
 */
export function createPromQuery(
  queryUrl: string,
  opts: { sigv4?: SigV4Options; fetch?: QueryFetch; timeoutMs?: number; now?: () => Date } = {},
): PromQuery {
  const url = new URL(queryUrl);
  const sign = isAmpUrl(url) ? createRequestSigner(url, opts.sigv4 ?? {}) : undefined;
  const doFetch: QueryFetch = opts.fetch ?? ((u, init) => fetch(u, init));
  return async (expr) => {
    const time = (opts.now?.() ?? new Date()).getTime() / 1000;
    const body = new URLSearchParams({ query: expr, time: String(time) }).toString();
    const base = { 'content-type': 'application/x-www-form-urlencoded' };
    const headers = sign ? await sign(url, base, new TextEncoder().encode(body), new Date()) : base;
    const res = await doFetch(url.href, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000),
    });
    const text = await res.text();
    let parsed: { status?: string; error?: string; data?: { resultType?: string; result?: unknown } };
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`query ${url.host} returned ${res.status}: ${text.slice(0, 200)}`);
    }
    if (res.status !== 200 || parsed.status !== 'success')
      throw new Error(`query ${url.host} returned ${res.status}: ${parsed.error ?? text.slice(0, 200)}`);
    if (parsed.data?.resultType !== 'vector')
      throw new Error(`query returned ${parsed.data?.resultType}, expected a vector`);
    return (parsed.data.result as { metric: Record<string, string>; value: [number, string] }[]).map((s) => ({
      metric: s.metric,
      value: Number(s.value[1]),
    }));
  };
}

/** The expressions doctor runs. */
export const QUERIES = {
  /** Source AZs with a probe run sample in the last 5 minutes. */
  probesFresh: `count by (source_region, source_az) (count_over_time(${PROBE_METRICS.runDuration}[5m]))`,
  /** Last probe run per source AZ within a day (self-metric value: end of the run, unix seconds). */
  probesLastRun: `max by (region, az) (last_over_time(${SELF_METRICS.runLastTimestamp}{component="probes"}[1d]))`,
  /** Newest stored batch per shard (health gauge). */
  collectionLastSuccess:
    'max by (account, region, service) (last_over_time(utilization_collection_last_success_timestamp_seconds[7d]))',
  /** Last successful report. */
  reportLastSuccess: 'max(last_over_time(utilization_report_last_success_timestamp_seconds[7d]))',
  /**
   * Age of the current phase of every rollback polled in the last 5 minutes: now minus the first sample
   * of that phase within the window.
   * @param windowMinutes how far back to look for a phase start (longer than the longest timeout)
   */
  rollbackPhaseAge: (windowMinutes: number) =>
    `(time() - min by (execution, rollback, phase) (min_over_time(timestamp(${ROLLBACK_METRIC.phase})[${windowMinutes}m:1m])))` +
    ` and on (execution, phase) max by (execution, phase) (max_over_time(${ROLLBACK_METRIC.phase}[5m]))`,
  /** Evaluation time, to measure ages against the server's clock. */
  now: 'vector(time())',
} as const;

/** Reads `region/az` keys of probe freshness results. */
export function probeKeys(
  samples: readonly VectorSample[],
  regionLabel: string,
  azLabel: string,
): Map<string, number> {
  return new Map(samples.map((s) => [`${s.metric[regionLabel]}/${s.metric[azLabel]}`, s.value]));
}

/** Reads the phase ages of the rollback query. */
export function activePhases(samples: readonly VectorSample[]): ActivePhase[] {
  return samples.map((s) => ({
    execution: s.metric.execution ?? '',
    rollback: s.metric.rollback ?? '',
    phase: s.metric.phase ?? '',
    ageSeconds: s.value,
  }));
}
