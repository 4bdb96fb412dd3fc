/**
 * Maps a probe run to Prometheus samples: `probe_` prefix, base units (seconds, ratios, unix seconds),
 * `probe_success` and `probe_duration_seconds` compatible with blackbox_exporter.
 *
 * Every value is a gauge for one run (a run is one scrape, in blackbox terms), so per-run counts are
 * named without `_total`: they are not cumulative counters and `rate()` does not apply to them.
 * Labels with no value (target_az unknown, address of a DNS target) are left out, never sent empty.
 * See README.md, "Probe metrics", for the full reference.
 */
import type { ProbeSource } from './event.ts';
import type { ProbeOutcome } from './run.ts';

/** One sample, as the remote-write client takes it. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** Milliseconds since the Unix epoch. */
  timestampMs: number;
}

/** Where a run's samples go (the remote-write client in Lambda, optional in the CLI). */
export interface SampleSink {
  /**
   * Writes samples, giving up at the deadline.
   * @returns whether every sample was written, and how many were not
   */
  write(samples: Sample[], opts: { deadline: number }): Promise<{ ok: boolean; samplesFailed: number }>;
}

/** Metric names emitted by the probes. */
export const PROBE_METRICS = {
  /** 1 when the target answered as expected, else 0 (blackbox_exporter semantics). */
  success: 'probe_success',
  /** Time spent probing this address, seconds (blackbox_exporter semantics). */
  duration: 'probe_duration_seconds',
  /** 1, with `reason`, on failed probes only. */
  failureReason: 'probe_failure_reason',
  /** TCP connect time distribution of the clean attempts, `quantile` 0 | 0.5 | 0.9 | 1, seconds. */
  tcpConnect: 'probe_tcp_connect_seconds',
  /** Mean TCP connect time of the clean attempts, seconds. */
  tcpConnectMean: 'probe_tcp_connect_mean_seconds',
  /** TCP connections attempted in the run. */
  tcpAttempts: 'probe_tcp_attempts',
  /** Clean TCP handshakes (within the retransmit threshold). */
  tcpSuccesses: 'probe_tcp_successes',
  /** TCP handshakes that completed only after a SYN retransmission. */
  tcpRetransmits: 'probe_tcp_retransmits',
  /** Share of TCP attempts lost (failed or retransmitted), 0-1. */
  lossRatio: 'probe_loss_ratio',
  /** Mean absolute difference of consecutive TCP connect times, seconds. */
  jitter: 'probe_jitter_seconds',
  /** Connect time of the unmeasured warm-up attempt of a cold process (only when it made one), seconds. */
  tcpWarmup: 'probe_tcp_warmup_seconds',
  /** HTTP phase durations, `phase` dns | connect | tls | ttfb | transfer, seconds. */
  httpPhase: 'probe_http_phase_seconds',
  /** Status code of the last HTTP response (0 when none). */
  httpStatus: 'probe_http_status_code',
  /** Redirects followed. */
  httpRedirects: 'probe_http_redirects',
  /** 1 when the last hop used TLS. */
  httpSsl: 'probe_http_ssl',
  /** Body bytes of the last response. */
  httpBodyBytes: 'probe_http_body_bytes',
  /** Earliest notAfter of the peer chain, unix seconds (blackbox_exporter semantics). */
  sslExpiry: 'probe_ssl_earliest_cert_expiry',
  /** DNS query time, seconds. */
  dnsLookup: 'probe_dns_lookup_seconds',
  /** Records in the DNS answer. */
  dnsAnswers: 'probe_dns_answers',
  /** Wall time of the whole run (discovery, probes), seconds. */
  runDuration: 'probe_run_duration_seconds',
  /** 1 when the run was the first of its execution environment (a Lambda cold start). */
  runColdStart: 'probe_run_cold_start',
  /** Addresses and targets measured in the run. */
  runTargets: 'probe_run_targets',
  /** Of those, outcomes reported as `deadline` failures (not measured in time). */
  runTimedOut: 'probe_run_timed_out',
  /** Targets found per discovery `origin` (static | cloudmap | ec2 | mesh). */
  discoveryTargets: 'probe_discovery_targets',
  /** Failed lookups per discovery `origin` in the run (0 when the source worked). */
  discoveryFailures: 'probe_discovery_failures',
} as const;

/** Quantiles of `probe_tcp_connect_seconds`. */
export const TCP_QUANTILES = [
  ['0', 'minMs'],
  ['0.5', 'p50Ms'],
  ['0.9', 'p90Ms'],
  ['1', 'maxMs'],
] as const;

/** Run-level figures. */
export interface RunSummary {
  durationSeconds: number;
  coldStart: boolean;
  timedOut: number;
  /** Targets per discovery origin. */
  discovered: Partial<Record<string, number>>;
  /** Failures per discovery origin (configured sources only; 0 when fine). */
  discoveryFailures: Partial<Record<string, number>>;
}

/**
 * The labels that identify the probing AZ.
 * @param source the run's source
 */
export function sourceLabels(source: ProbeSource): Record<string, string> {
  return { source_region: source.region, source_az: source.az, source_az_id: source.azId };
}

/**
 * The labels of one outcome: source, target, where the target is, kind, address and IP family.
 * @param source the run's source
 * @param outcome one probed address
 */
export function outcomeLabels(source: ProbeSource, outcome: ProbeOutcome): Record<string, string> {
  const t = outcome.target;
  const labels: Record<string, string> = {
    ...sourceLabels(source),
    target: t.name,
    kind: t.kind,
  };
  if (t.region) labels.target_region = t.region;
  if (t.az) labels.target_az = t.az;
  if (t.azId) labels.target_az_id = t.azId;
  if (outcome.address) labels.address = outcome.address;
  if (outcome.family) labels.ip_family = `ipv${outcome.family}`;
  return labels;
}

/**
 * Samples of one outcome.
 * @param source the run's source
 * @param outcome one probed address
 */
export function outcomeSamples(source: ProbeSource, outcome: ProbeOutcome): Sample[] {
  return samplesOf(outcomeLabels(source, outcome), outcome);
}

/** Samples of one outcome whose labels are `labels`: every sample without an extra label shares the object. */
function samplesOf(labels: Record<string, string>, outcome: ProbeOutcome): Sample[] {
  const ts = Math.round(outcome.timestampMs);
  const out: Sample[] = [];
  const add = (name: string, value: number, extra?: Record<string, string>) =>
    out.push({ name, labels: extra ? { ...labels, ...extra } : labels, value, timestampMs: ts });

  add(PROBE_METRICS.success, outcome.success);
  add(PROBE_METRICS.duration, outcome.durationSeconds);
  if (outcome.success === 0) add(PROBE_METRICS.failureReason, 1, { reason: outcome.reason ?? 'error' });

  const { tcp, http, dns } = outcome;
  if (tcp) {
    add(PROBE_METRICS.tcpAttempts, tcp.attempts);
    add(PROBE_METRICS.tcpSuccesses, tcp.successes);
    add(PROBE_METRICS.tcpRetransmits, tcp.retransmitted);
    add(PROBE_METRICS.lossRatio, tcp.lossRatio);
    if (tcp.stats) {
      for (const [q, field] of TCP_QUANTILES)
        add(PROBE_METRICS.tcpConnect, tcp.stats[field] / 1000, { quantile: q });
      add(PROBE_METRICS.tcpConnectMean, tcp.stats.meanMs / 1000);
      add(PROBE_METRICS.jitter, tcp.jitterMs / 1000);
    }
    if (tcp.warmup?.outcome === 'ok') add(PROBE_METRICS.tcpWarmup, tcp.warmup.ms / 1000);
  }
  if (http) {
    for (const [phase, seconds] of Object.entries(http.phasesSeconds))
      add(PROBE_METRICS.httpPhase, seconds, { phase });
    add(PROBE_METRICS.httpStatus, http.statusCode ?? 0);
    add(PROBE_METRICS.httpRedirects, http.redirects);
    add(PROBE_METRICS.httpSsl, http.tls ? 1 : 0);
    add(PROBE_METRICS.httpBodyBytes, http.bodyBytes);
    if (http.certExpiry !== undefined) add(PROBE_METRICS.sslExpiry, http.certExpiry);
  }
  if (dns) {
    add(PROBE_METRICS.dnsLookup, dns.lookupSeconds);
    add(PROBE_METRICS.dnsAnswers, dns.answers.length);
  }
  return out;
}

/**
 * Every sample of a run: each outcome's, then the run-level gauges.
 * @param source the run's source
 * @param outcomes what the run measured
 * @param run run-level figures
 * @param timestampMs time of the run-level samples
 */
export function runSamples(
  source: ProbeSource,
  outcomes: readonly ProbeOutcome[],
  run: RunSummary,
  timestampMs: number,
): Sample[] {
  // Two discovered endpoints can map to the same series (one name, one address, two ports); a series
  // takes one value per timestamp, so the first wins. Such twins have equal outcome labels, so the
  // check is one key per outcome, and a sample-by-sample comparison only for a twin.
  const samples: Sample[] = [];
  const kept = new Map<string, Sample[]>();
  for (const outcome of outcomes) {
    const labels = outcomeLabels(source, outcome);
    // outcomeLabels always adds its keys in the same order: equal label sets give equal keys.
    const key = JSON.stringify(labels);
    const own = samplesOf(labels, outcome);
    const earlier = kept.get(key);
    if (earlier === undefined) {
      kept.set(key, own);
      for (const s of own) samples.push(s);
      continue;
    }
    const seen = new Set(earlier.map(seriesKey));
    for (const s of own) {
      const k = seriesKey(s);
      if (seen.has(k)) continue;
      seen.add(k);
      earlier.push(s);
      samples.push(s);
    }
  }
  const labels = sourceLabels(source);
  const ts = Math.round(timestampMs);
  samples.push(
    { name: PROBE_METRICS.runDuration, labels, value: run.durationSeconds, timestampMs: ts },
    { name: PROBE_METRICS.runColdStart, labels, value: run.coldStart ? 1 : 0, timestampMs: ts },
    { name: PROBE_METRICS.runTargets, labels, value: outcomes.length, timestampMs: ts },
    { name: PROBE_METRICS.runTimedOut, labels, value: run.timedOut, timestampMs: ts },
  );
  // One sample per origin: the run-level series never repeat, nor meet an outcome's (those carry
  // `target`).
  for (const [origin, n] of Object.entries(run.discovered)) {
    samples.push({
      name: PROBE_METRICS.discoveryTargets,
      labels: { ...labels, origin },
      value: n ?? 0,
      timestampMs: ts,
    });
  }
  for (const [origin, n] of Object.entries(run.discoveryFailures)) {
    samples.push({
      name: PROBE_METRICS.discoveryFailures,
      labels: { ...labels, origin },
      value: n ?? 0,
      timestampMs: ts,
    });
  }
  return samples;
}

/** A sample's series as a string: its name and its labels in name order. */
function seriesKey(s: Sample): string {
  return `${s.name}${JSON.stringify(Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;
}
