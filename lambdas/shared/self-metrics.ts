/**
 * Self-monitoring samples: what every function pushes to AMP at the end of a run, so the Pipeline
 * health dashboard and alert rules see each function's runs, errors and remote-write failures in the
 * same place as the data it produces.
 *
 * ```ts
 * const result = await client.write(samples, { remainingTimeMs });
 * await client.write(
 *   selfMetricSamples({ component: 'probes', function: 'probe', region, az, success: true,
 *     startedAtMs, endedAtMs: Date.now(), coldStart, remoteWrite: remoteWriteOutcome(result) }),
 *   { remainingTimeMs },
 * );
 * ```
 *
 * Every value is a gauge for one run (like the probes' per-run gauges): per-run counts carry no
 * `_total` suffix because they are not cumulative, so dashboards use `sum_over_time` and
 * `count_over_time`, never `rate`. When the remote write itself is down these samples do not arrive
 * either; `observatory_run_last_timestamp_seconds` going stale is how that shows.
 */
import type { Sample } from './remote-write/series.ts';

/** Metric names of the self-monitoring samples. */
export const SELF_METRICS = {
  /** Wall time of the run, seconds. */
  runDuration: 'observatory_run_duration_seconds',
  /** 1 when the run did its work, 0 when it failed. */
  runSuccess: 'observatory_run_success',
  /** End of the run, unix seconds. */
  runLastTimestamp: 'observatory_run_last_timestamp_seconds',
  /** End of the run, unix seconds; only sent by successful runs. */
  runLastSuccessTimestamp: 'observatory_run_last_success_timestamp_seconds',
  /** 1 when the run was the first of its execution environment (a Lambda cold start). */
  runColdStart: 'observatory_run_cold_start',
  /** Remote-write requests of the run that failed (rejected, retries exhausted or out of time). */
  remoteWriteFailures: 'observatory_remote_write_failures',
  /** Samples of the run acknowledged by the remote-write receiver. */
  samplesWritten: 'observatory_samples_written',
  /** Samples of the run that were not written. */
  samplesFailed: 'observatory_samples_failed',
} as const;

/** The remote-write figures of one run. */
export interface RemoteWriteOutcome {
  /** Samples acknowledged with a 2xx. */
  readonly samplesWritten: number;
  /** Samples of failed requests. */
  readonly samplesFailed: number;
  /** Failed requests. */
  readonly failedRequests: number;
}

/** What one run of a function reports about itself. */
export interface RunReport {
  /** Capability: `probes`, `utilization`, `msk-rollback`, `grafana`. */
  readonly component: string;
  /** The function within the capability, e.g. `probe`, `collect`, `store`, `report`. */
  readonly function: string;
  /** Region the function runs in. */
  readonly region: string;
  /** AZ of a function attached to one AZ (the probes). @default - no `az` label */
  readonly az?: string;
  /** Whether the run did its work. */
  readonly success: boolean;
  /** Start of the run, epoch milliseconds. */
  readonly startedAtMs: number;
  /** End of the run, epoch milliseconds; also the samples' timestamp. */
  readonly endedAtMs: number;
  /** @default false */
  readonly coldStart?: boolean;
  /** The run's remote writes. @default - nothing written */
  readonly remoteWrite?: RemoteWriteOutcome;
}

/**
 * Reads the figures of a remote-write result (the `WriteResult` of `RemoteWriteClient.write`).
 * @param result one write's result
 */
export function remoteWriteOutcome(result: {
  readonly samplesSent: number;
  readonly samplesFailed: number;
  readonly failures: readonly unknown[];
}): RemoteWriteOutcome {
  return {
    samplesWritten: result.samplesSent,
    samplesFailed: result.samplesFailed,
    failedRequests: result.failures.length,
  };
}

/**
 * Adds up the remote-write figures of several writes in one run.
 * @param outcomes each write's figures
 */
export function sumRemoteWrites(outcomes: readonly RemoteWriteOutcome[]): RemoteWriteOutcome {
  return outcomes.reduce(
    (t, o) => ({
      samplesWritten: t.samplesWritten + o.samplesWritten,
      samplesFailed: t.samplesFailed + o.samplesFailed,
      failedRequests: t.failedRequests + o.failedRequests,
    }),
    { samplesWritten: 0, samplesFailed: 0, failedRequests: 0 },
  );
}

const LABEL_VALUE = /\S/;

/**
 * The self-monitoring samples of one run, labelled `component`, `function`, `region` and `az` when
 * given, all stamped with the end of the run.
 * @param report what the run did
 * @throws Error when a label is empty or a time is not a finite number
 */
export function selfMetricSamples(report: RunReport): Sample[] {
  const labels: Record<string, string> = {
    component: report.component,
    function: report.function,
    region: report.region,
  };
  if (report.az !== undefined) labels.az = report.az;
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL_VALUE.test(value))
      throw new Error(`self-metric label ${name} must not be empty, got ${JSON.stringify(value)}`);
  }
  for (const [name, value] of [
    ['startedAtMs', report.startedAtMs],
    ['endedAtMs', report.endedAtMs],
  ] as const) {
    if (!Number.isFinite(value)) throw new Error(`self-metric ${name} must be a finite number, got ${value}`);
  }
  const timestampMs = Math.round(report.endedAtMs);
  const rw = report.remoteWrite ?? { samplesWritten: 0, samplesFailed: 0, failedRequests: 0 };
  const sample = (name: string, value: number): Sample => ({ name, labels, value, timestampMs });
  const samples = [
    sample(SELF_METRICS.runDuration, Math.max(0, report.endedAtMs - report.startedAtMs) / 1000),
    sample(SELF_METRICS.runSuccess, report.success ? 1 : 0),
    sample(SELF_METRICS.runLastTimestamp, timestampMs / 1000),
    sample(SELF_METRICS.runColdStart, report.coldStart ? 1 : 0),
    sample(SELF_METRICS.remoteWriteFailures, rw.failedRequests),
    sample(SELF_METRICS.samplesWritten, rw.samplesWritten),
    sample(SELF_METRICS.samplesFailed, rw.samplesFailed),
  ];
  if (report.success) samples.push(sample(SELF_METRICS.runLastSuccessTimestamp, timestampMs / 1000));
  return samples;
}
