/**
 * The self-monitoring samples every function pushes at the end of a run (lambdas/shared/self-metrics.ts),
 * which the Pipeline health dashboard reads. (Kept beside the dashboard tests because the dashboard is
 * their consumer.)
 */
import { describe, expect, it } from 'vitest';
import {
  remoteWriteOutcome,
  SELF_METRICS,
  selfMetricSamples,
  sumRemoteWrites,
} from '../../../lambdas/shared/self-metrics.ts';

const run = {
  component: 'probes',
  function: 'probe',
  region: 'eu-west-1',
  az: 'eu-west-1a',
  startedAtMs: 1_736_157_600_000,
  endedAtMs: 1_736_157_602_345,
};

describe('selfMetricSamples', () => {
  it('reports a successful run: duration, success, last run and last success, cold start, remote-write figures', () => {
    const samples = selfMetricSamples({
      ...run,
      success: true,
      coldStart: true,
      remoteWrite: { samplesWritten: 120, samplesFailed: 0, failedRequests: 0 },
    });

    const labels = { component: 'probes', function: 'probe', region: 'eu-west-1', az: 'eu-west-1a' };
    const at = { labels, timestampMs: 1_736_157_602_345 };
    expect(samples).toEqual([
      { name: SELF_METRICS.runDuration, value: 2.345, ...at },
      { name: SELF_METRICS.runSuccess, value: 1, ...at },
      { name: SELF_METRICS.runLastTimestamp, value: 1_736_157_602.345, ...at },
      { name: SELF_METRICS.runColdStart, value: 1, ...at },
      { name: SELF_METRICS.remoteWriteFailures, value: 0, ...at },
      { name: SELF_METRICS.samplesWritten, value: 120, ...at },
      { name: SELF_METRICS.samplesFailed, value: 0, ...at },
      { name: SELF_METRICS.runLastSuccessTimestamp, value: 1_736_157_602.345, ...at },
    ]);
  });

  it('reports a failed run without a last-success sample, and without an az label when there is no az', () => {
    const { az: _, ...noAz } = run;
    const samples = selfMetricSamples({
      ...noAz,
      component: 'utilization',
      function: 'report',
      success: false,
    });

    expect(samples.find((s) => s.name === SELF_METRICS.runSuccess)?.value).toBe(0);
    expect(samples.some((s) => s.name === SELF_METRICS.runLastSuccessTimestamp)).toBe(false);
    expect(samples.every((s) => !('az' in s.labels))).toBe(true);
    expect(samples.find((s) => s.name === SELF_METRICS.samplesWritten)?.value).toBe(0);
  });

  it('rejects an empty label and a non-finite time, naming them', () => {
    expect(() => selfMetricSamples({ ...run, function: ' ', success: true })).toThrow(
      'self-metric label function must not be empty, got " "',
    );
    expect(() => selfMetricSamples({ ...run, endedAtMs: Number.NaN, success: true })).toThrow(
      'self-metric endedAtMs must be a finite number, got NaN',
    );
  });

  it('reads and adds up the figures of remote-write results', () => {
    const first = remoteWriteOutcome({ samplesSent: 1800, samplesFailed: 200, failures: [{ request: 1 }] });
    const second = remoteWriteOutcome({ samplesSent: 40, samplesFailed: 0, failures: [] });

    expect(first).toEqual({ samplesWritten: 1800, samplesFailed: 200, failedRequests: 1 });
    expect(sumRemoteWrites([first, second])).toEqual({
      samplesWritten: 1840,
      samplesFailed: 200,
      failedRequests: 1,
    });
  });
});
