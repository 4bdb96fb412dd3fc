/**
 * AWS's own reference for the probes: the p50 latency that AWS Network Manager Infrastructure
 * Performance publishes between AZ IDs of a region and between regions, in 5-minute windows
 * (`GetAwsNetworkPerformanceData`). Pure: the queries for a set of subscribed pairs, and the samples
 * of the responses, next to the probes' own figures in AMP.
 *
 * Only the newest window of each pair becomes a sample, stamped with the window's end: a scheduled
 * run that sees the same window again writes the same sample (a duplicate a Prometheus TSDB accepts),
 * and never a sample older than one already written (which it would reject as out of order).
 */
import { NETWORK_PERFORMANCE_QUERY, type NetworkPerformancePair } from '#contracts/network-performance';
import type { Sample } from './samples.ts';

/** Metric names of the AWS reference samples. */
export const NETWORK_PERFORMANCE_METRICS = {
  /** AWS's p50 latency of the pair over its newest 5-minute window, seconds. */
  latencyP50: 'aws_network_performance_latency_p50_seconds',
  /** 1 when AWS reports that window's status as `OK`, else 0. */
  statusOk: 'aws_network_performance_status_ok',
  /** Start of the newest window AWS has published for the pair, unix seconds (how fresh the data is). */
  windowStart: 'aws_network_performance_window_start_seconds',
} as const;

/** A query as `GetAwsNetworkPerformanceData` takes it. */
export interface NetworkPerformanceQuery {
  Id: string;
  Source: string;
  Destination: string;
  Metric: typeof NETWORK_PERFORMANCE_QUERY.Metric;
  Statistic: typeof NETWORK_PERFORMANCE_QUERY.Statistic;
  Period: typeof NETWORK_PERFORMANCE_QUERY.Period;
}

/** The part of a `DataResponse` the samples are made of (the SDK's type is wider and all optional). */
export interface NetworkPerformanceResponse {
  Id?: string | undefined;
  Source?: string | undefined;
  Destination?: string | undefined;
  MetricPoints?:
    | {
        StartDate?: Date | undefined;
        EndDate?: Date | undefined;
        Value?: number | undefined;
        Status?: string | undefined;
      }[]
    | undefined;
}

/**
 * One query per pair, with the pair's index as its ID so each response finds its pair again.
 * @param pairs the subscribed pairs
 */
export function networkPerformanceQueries(
  pairs: readonly NetworkPerformancePair[],
): NetworkPerformanceQuery[] {
  return pairs.map((p, i) => ({
    Id: `q${i}`,
    Source: p.source,
    Destination: p.destination,
    ...NETWORK_PERFORMANCE_QUERY,
  }));
}

/** The labels of a pair's samples: by AZ ID for an AZ pair (names differ between accounts), by region otherwise. */
export function pairLabels(pair: NetworkPerformancePair): Record<string, string> {
  return pair.scope === 'az'
    ? { pair: 'az', source_region: pair.region, source_az_id: pair.source, target_az_id: pair.destination }
    : { pair: 'region', source_region: pair.source, target_region: pair.destination };
}

/** What a pass over the responses found. */
export interface NetworkPerformanceSamples {
  readonly samples: Sample[];
  /** Pairs AWS returned no usable point for (no window yet, or a response missing). */
  readonly empty: NetworkPerformancePair[];
}

/**
 * The samples of one pass: per pair, its newest point with a value (latency in seconds, status,
 * window start), stamped with the window's end.
 * @param pairs the subscribed pairs, in query order
 * @param responses every `DataResponse` of the pass (all pages)
 */
export function networkPerformanceSamples(
  pairs: readonly NetworkPerformancePair[],
  responses: readonly NetworkPerformanceResponse[],
): NetworkPerformanceSamples {
  const newest = new Map<number, { end: number; start: number; value: number; status: string }>();
  for (const r of responses) {
    const index = /^q(\d+)$/.exec(r.Id ?? '')?.[1];
    if (index === undefined || Number(index) >= pairs.length) continue;
    for (const p of r.MetricPoints ?? []) {
      if (p.Value === undefined || !Number.isFinite(p.Value) || !p.EndDate) continue;
      const end = p.EndDate.getTime();
      const seen = newest.get(Number(index));
      if (seen && seen.end >= end) continue;
      newest.set(Number(index), {
        end,
        start: p.StartDate?.getTime() ?? end - 300_000,
        value: p.Value,
        status: p.Status ?? '',
      });
    }
  }
  const samples: Sample[] = [];
  const empty: NetworkPerformancePair[] = [];
  pairs.forEach((pair, i) => {
    const point = newest.get(i);
    if (!point) {
      empty.push(pair);
      return;
    }
    const labels = pairLabels(pair);
    const at = (name: string, value: number): Sample => ({ name, labels, value, timestampMs: point.end });
    samples.push(
      // The API reports milliseconds; Prometheus convention is base units.
      at(NETWORK_PERFORMANCE_METRICS.latencyP50, point.value / 1000),
      at(NETWORK_PERFORMANCE_METRICS.statusOk, point.status === 'OK' ? 1 : 0),
      at(NETWORK_PERFORMANCE_METRICS.windowStart, point.start / 1000),
    );
  });
  return { samples, empty };
}
