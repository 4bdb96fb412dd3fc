import { describe, expect, it } from 'vitest';
import type { ProbeOutcome } from '#probes/run';
import { outcomeSamples, PROBE_METRICS, runSamples, type Sample } from '#probes/samples';
import { toTimeSeries } from '#shared/remote-write';

const SOURCE = { region: 'eu-west-1', az: 'eu-west-1a', azId: 'euw1-az1' };
const TS = 1_760_000_000_123;

const tcpOutcome: ProbeOutcome = {
  target: {
    kind: 'tcp',
    name: 'db',
    host: 'db.internal',
    port: 5432,
    region: 'eu-west-1',
    az: 'eu-west-1b',
    allAddresses: true,
  },
  address: '10.0.2.15',
  family: 4,
  success: 1,
  durationSeconds: 1.25,
  timestampMs: TS,
  tcp: {
    host: '10.0.2.15',
    port: 5432,
    address: '10.0.2.15',
    family: 4,
    attempts: 5,
    successes: 3,
    retransmitted: 1,
    failed: 1,
    lossRatio: 0.4,
    latenciesMs: [1.2, 1.6, 2.0],
    stats: { minMs: 1.2, p50Ms: 1.6, p90Ms: 1.92, maxMs: 2.0, meanMs: 1.6 },
    jitterMs: 0.4,
    success: 1,
    durationMs: 1250,
    attemptLog: [],
  },
};

const httpOutcome: ProbeOutcome = {
  target: {
    kind: 'http',
    name: 'web',
    url: 'https://web.example.com/',
    method: 'GET',
    expectStatus: [200],
    followRedirects: false,
    certMinDays: 14,
    allAddresses: true,
  },
  address: '2001:db8::5',
  family: 6,
  success: 0,
  reason: 'status',
  error: 'status 503, expected 200',
  durationSeconds: 0.3,
  timestampMs: TS,
  http: {
    url: 'https://web.example.com/',
    finalUrl: 'https://web.example.com/',
    address: '2001:db8::5',
    family: 6,
    success: 0,
    reason: 'status',
    statusCode: 503,
    httpVersion: '1.1',
    redirects: 0,
    phasesSeconds: { dns: 0.01, connect: 0.02, tls: 0.05, ttfb: 0.2, transfer: 0.02 },
    durationSeconds: 0.3,
    tls: true,
    certExpiry: 1_790_000_000,
    certVerified: true,
    bodyBytes: 12,
  },
};

const dnsOutcome: ProbeOutcome = {
  target: { kind: 'dns', name: 'resolver', query: 'example.com', recordType: 'A', allAddresses: true },
  address: '',
  success: 1,
  durationSeconds: 0.004,
  timestampMs: TS,
  dns: {
    query: 'example.com',
    recordType: 'A',
    servers: ['10.0.0.2'],
    success: 1,
    lookupSeconds: 0.004,
    answers: ['93.184.215.14', '93.184.215.15'],
  },
};

const find = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

describe('probe samples', () => {
  it('labels an outcome with source, target, target location, kind, address and IP family', () => {
    const [success] = find(outcomeSamples(SOURCE, tcpOutcome), 'probe_success');
    expect(success).toEqual({
      name: 'probe_success',
      labels: {
        source_region: 'eu-west-1',
        source_az: 'eu-west-1a',
        source_az_id: 'euw1-az1',
        target: 'db',
        kind: 'tcp',
        target_region: 'eu-west-1',
        target_az: 'eu-west-1b',
        address: '10.0.2.15',
        ip_family: 'ipv4',
      },
      value: 1,
      timestampMs: TS,
    });
  });

  it("reports a cold run's warm-up connect as its own gauge, and nothing when there was none", () => {
    const warm = { ...tcpOutcome, tcp: { ...tcpOutcome.tcp!, warmup: { outcome: 'ok' as const, ms: 41.5 } } };
    expect(find(outcomeSamples(SOURCE, warm), 'probe_tcp_warmup_seconds')[0]!.value).toBeCloseTo(0.0415, 12);
    expect(find(outcomeSamples(SOURCE, tcpOutcome), 'probe_tcp_warmup_seconds')).toHaveLength(0);
    const lost = {
      ...tcpOutcome,
      tcp: { ...tcpOutcome.tcp!, warmup: { outcome: 'timeout' as const, ms: 2000 } },
    };
    expect(find(outcomeSamples(SOURCE, lost), 'probe_tcp_warmup_seconds')).toHaveLength(0);
  });

  it('turns TCP milliseconds into seconds per quantile with loss, jitter and attempt counts', () => {
    const s = outcomeSamples(SOURCE, tcpOutcome);
    const quantiles = find(s, 'probe_tcp_connect_seconds');
    expect(quantiles.map((x) => x.labels.quantile)).toEqual(['0', '0.5', '0.9', '1']);
    [0.0012, 0.0016, 0.00192, 0.002].forEach((seconds, i) => {
      expect(quantiles[i]!.value).toBeCloseTo(seconds, 12);
    });
    expect(find(s, 'probe_tcp_connect_mean_seconds')[0]!.value).toBeCloseTo(0.0016, 12);
    expect(find(s, 'probe_jitter_seconds')[0]!.value).toBeCloseTo(0.0004, 12);
    expect(find(s, 'probe_loss_ratio')[0]!.value).toBe(0.4);
    expect(find(s, 'probe_tcp_attempts')[0]!.value).toBe(5);
    expect(find(s, 'probe_tcp_successes')[0]!.value).toBe(3);
    expect(find(s, 'probe_tcp_retransmits')[0]!.value).toBe(1);
    expect(find(s, 'probe_duration_seconds')[0]!.value).toBe(1.25);
    expect(find(s, 'probe_failure_reason')).toHaveLength(0);
  });

  it('emits HTTP phases, status, certificate expiry and the failure reason, without a target_az it does not know', () => {
    const s = outcomeSamples(SOURCE, httpOutcome);
    expect(find(s, 'probe_http_phase_seconds').map((x) => [x.labels.phase, x.value])).toEqual([
      ['dns', 0.01],
      ['connect', 0.02],
      ['tls', 0.05],
      ['ttfb', 0.2],
      ['transfer', 0.02],
    ]);
    expect(find(s, 'probe_http_status_code')[0]!.value).toBe(503);
    expect(find(s, 'probe_ssl_earliest_cert_expiry')[0]!.value).toBe(1_790_000_000);
    expect(find(s, 'probe_http_ssl')[0]!.value).toBe(1);
    expect(find(s, 'probe_success')[0]!.value).toBe(0);
    expect(find(s, 'probe_failure_reason')[0]!.labels.reason).toBe('status');
    expect(find(s, 'probe_success')[0]!.labels).toMatchObject({ ip_family: 'ipv6', address: '2001:db8::5' });
    for (const x of s) {
      expect(x.labels).not.toHaveProperty('target_az');
      expect(x.labels).not.toHaveProperty('target_region');
    }
  });

  it('emits DNS lookup time and answer count without address labels', () => {
    const s = outcomeSamples(SOURCE, dnsOutcome);
    expect(find(s, 'probe_dns_lookup_seconds')[0]!.value).toBe(0.004);
    expect(find(s, 'probe_dns_answers')[0]!.value).toBe(2);
    for (const x of s) {
      expect(x.labels).not.toHaveProperty('address');
      expect(x.labels).not.toHaveProperty('ip_family');
    }
  });

  it('adds run-level gauges per source and discovery figures per origin', () => {
    const s = runSamples(
      SOURCE,
      [tcpOutcome, httpOutcome, dnsOutcome],
      {
        durationSeconds: 3.5,
        coldStart: true,
        timedOut: 0,
        discovered: { static: 3, mesh: 2 },
        discoveryFailures: { mesh: 0, ec2: 1 },
      },
      TS + 5,
    );
    const sourceOnly = { source_region: 'eu-west-1', source_az: 'eu-west-1a', source_az_id: 'euw1-az1' };
    expect(find(s, 'probe_run_duration_seconds')).toEqual([
      { name: 'probe_run_duration_seconds', labels: sourceOnly, value: 3.5, timestampMs: TS + 5 },
    ]);
    expect(find(s, 'probe_run_cold_start')[0]!.value).toBe(1);
    expect(find(s, 'probe_run_targets')[0]!.value).toBe(3);
    expect(find(s, 'probe_discovery_targets').map((x) => [x.labels.origin, x.value])).toEqual([
      ['static', 3],
      ['mesh', 2],
    ]);
    expect(find(s, 'probe_discovery_failures', { origin: 'ec2' })[0]!.value).toBe(1);
  });

  it('keeps one sample per series when two discovered endpoints map to the same labels', () => {
    const twin = { ...tcpOutcome, tcp: { ...tcpOutcome.tcp!, lossRatio: 0.9 } };
    const s = runSamples(
      SOURCE,
      [tcpOutcome, twin],
      { durationSeconds: 1, coldStart: false, timedOut: 0, discovered: {}, discoveryFailures: {} },
      TS,
    );
    expect(find(s, 'probe_loss_ratio').map((x) => x.value)).toEqual([0.4]);
  });

  it('keeps the series a twin adds and the first value of those both have', () => {
    const failed: ProbeOutcome = { ...tcpOutcome, success: 0, reason: 'timeout', durationSeconds: 9 };
    const s = runSamples(
      SOURCE,
      [tcpOutcome, failed, { ...failed, reason: 'refused' }],
      { durationSeconds: 1, coldStart: false, timedOut: 0, discovered: {}, discoveryFailures: {} },
      TS,
    );
    expect(find(s, 'probe_success').map((x) => x.value)).toEqual([1]);
    expect(find(s, 'probe_duration_seconds').map((x) => x.value)).toEqual([1.25]);
    // Only the twins carry a failure reason, one series per reason.
    expect(find(s, 'probe_failure_reason').map((x) => x.labels.reason)).toEqual(['timeout', 'refused']);
    expect(toTimeSeries(s).samples).toBe(s.length);
  });

  it('produces only samples the remote-write client accepts, all named by the exported constants', () => {
    const s = runSamples(
      SOURCE,
      [tcpOutcome, httpOutcome, dnsOutcome],
      {
        durationSeconds: 1,
        coldStart: false,
        timedOut: 0,
        discovered: { static: 3 },
        discoveryFailures: { cloudmap: 0 },
      },
      TS,
    );
    const normalized = toTimeSeries(s, 'skip');
    expect(normalized.rejected).toEqual([]);
    const names = new Set(Object.values(PROBE_METRICS));
    for (const x of s) expect(names.has(x.name as never)).toBe(true);
  });
});
