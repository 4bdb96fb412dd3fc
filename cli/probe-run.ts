/**
 * What `observatory probe` does once its options are parsed (see `probe.ts`, which registers the
 * command and loads this module only when the command runs): targets from URIs and config, runs of
 * the probe engine, output as a table or JSON, and an optional remote write.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProbeEvent, ProbeTarget } from '../lambdas/probes/event.ts';
import { executeProbeRun, type ProbeRunSummary } from '../lambdas/probes/execute.ts';
import type { ProbeOutcome } from '../lambdas/probes/run.ts';
import type { SampleSink } from '../lambdas/probes/samples.ts';
import { DEFAULT_TCP_INTERVAL_MS } from '../lambdas/probes/tcp.ts';
import { isAmpUrl, RemoteWriteClient } from '../lambdas/shared/remote-write.ts';
import { ConfigError, loadConfig } from '../lib/config/loader.ts';
import { DnsTargetSchema, HttpTargetSchema, TcpTargetSchema } from '../lib/config/schema.ts';
import type { ProbeCliOptions } from './probe.ts';

const PLACEHOLDER_NAME = 'cli';
/** Run time budget when `--deadline` is not given and the attempts fit in it. */
const DEFAULT_DEADLINE_SECONDS = 55;

/**
 * Parses a command-line target: `tcp://host:port`, `http(s)://...`, or `dns://name[?type=A&expect=v1,v2]`.
 * The target is named by the URI itself.
 * @param uri the target as typed
 * @param http assertions applied to HTTP(S) targets
 * @throws Error naming the bad value
 */
export function parseTargetUri(
  uri: string,
  http: {
    expectStatus?: number[];
    bodyRegex?: string;
    headers?: Record<string, string>;
    followRedirects?: boolean;
  } = {},
): ProbeTarget {
  const scheme = /^([a-z]+):\/\//i.exec(uri)?.[1]?.toLowerCase();
  if (scheme === 'tcp') {
    const m = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^/:?#\s]+):(\d+)\/?$/i.exec(uri);
    if (!m) throw new Error(`invalid tcp target "${uri}": expected tcp://host:port`);
    const port = Number(m[2]);
    const parsed = TcpTargetSchema.safeParse({
      kind: 'tcp',
      name: PLACEHOLDER_NAME,
      host: m[1]!.replace(/^\[(.*)\]$/, '$1'),
      port,
    });
    if (!parsed.success) throw new Error(`invalid tcp target "${uri}": ${parsed.error.issues[0]?.message}`);
    return { ...parsed.data, name: uri };
  }
  if (scheme === 'http' || scheme === 'https') {
    const parsed = HttpTargetSchema.safeParse({ kind: 'http', name: PLACEHOLDER_NAME, url: uri, ...http });
    if (!parsed.success) throw new Error(`invalid http target "${uri}": ${parsed.error.issues[0]?.message}`);
    return { ...parsed.data, name: uri };
  }
  if (scheme === 'dns') {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw new Error(`invalid dns target "${uri}": expected dns://name[?type=A]`);
    }
    const query = decodeURIComponent(url.hostname || url.pathname.replace(/^\/+/, ''));
    const expect = url.searchParams.get('expect');
    const parsed = DnsTargetSchema.safeParse({
      kind: 'dns',
      name: PLACEHOLDER_NAME,
      query,
      ...(url.searchParams.has('type') ? { recordType: url.searchParams.get('type')!.toUpperCase() } : {}),
      ...(expect ? { expectAnswers: expect.split(',').filter(Boolean) } : {}),
    });
    if (!parsed.success)
      throw new Error(`invalid dns target "${uri}": ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    return { ...parsed.data, name: uri };
  }
  throw new Error(`unsupported target "${uri}": expected tcp://, http://, https:// or dns://`);
}

/**
 * Runs the command; returns the exit status.
 * @param opts parsed options
 */
export async function runProbeCommand(opts: ProbeCliOptions): Promise<number> {
  let event: ProbeEvent;
  let sink: SampleSink | undefined;
  let ca: string | undefined;
  try {
    for (const warning of duplicateTargetWarnings(opts.target)) console.error(warning);
    event = buildEvent(opts);
    if (opts.ca) ca = readFileSync(opts.ca, 'utf8');
    if (opts.remoteWrite) sink = remoteWriteSink(opts.remoteWrite);
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : `error: ${(err as Error).message}`);
    return 2;
  }
  if (event.targets.length === 0) {
    console.error('error: no targets: give --target or a --config with probes.targets');
    return 2;
  }

  const deadlineSeconds = opts.deadline ?? defaultDeadlineSeconds(event);
  let failed = false;
  for (let run = 0; run < opts.repeat; run++) {
    const startedAt = Date.now();
    const summary = await executeProbeRun(event, {
      clients: {},
      ...(sink ? { sink } : {}),
      deadline: startedAt + deadlineSeconds * 1000,
      writeReserveMs: sink ? Math.min(10_000, deadlineSeconds * 200) : 0,
      coldStart: run === 0,
      engine: {
        ...(ca !== undefined || opts.insecure
          ? { tls: { ...(ca !== undefined ? { ca } : {}), ...(opts.insecure ? { insecure: true } : {}) } }
          : {}),
        ...(opts.dnsServer.length > 0 ? { dnsServers: opts.dnsServer } : {}),
      },
    });
    if (summary.failed > 0 || !summary.remoteWriteOk) failed = true;
    console.log(opts.json ? JSON.stringify(toJson(summary, startedAt)) : renderTable(summary, Boolean(sink)));
    if (run + 1 < opts.repeat) await sleep(Math.max(0, startedAt + opts.every * 1000 - Date.now()));
  }
  return failed ? 1 : 0;
}

/**
 * One warning line per `-t` target given more than once: identical targets are probed once.
 * @param uris the `-t` values in order
 */
export function duplicateTargetWarnings(uris: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const uri of uris) counts.set(uri, (counts.get(uri) ?? 0) + 1);
  return [...counts]
    .filter(([, n]) => n > 1)
    .map(([uri, n]) => `warning: target ${uri} given ${n} times, probed once`);
}

/**
 * The run budget when `--deadline` is not given: 55 s, or, when more attempts were asked for, the
 * time the slowest address could take (every attempt timing out, plus the pauses) and 5 s to spare,
 * so that a long loss measurement is never cut by a budget the user did not set.
 * @param event the run request
 */
export function defaultDeadlineSeconds(
  event: Pick<ProbeEvent, 'attempts' | 'timeoutMs' | 'intervalMs'>,
): number {
  const interval = event.intervalMs ?? DEFAULT_TCP_INTERVAL_MS;
  const worstMs = event.attempts * (event.timeoutMs + interval) + 5_000;
  return Math.max(DEFAULT_DEADLINE_SECONDS, Math.ceil(worstMs / 1000));
}

function buildEvent(opts: ProbeCliOptions): ProbeEvent {
  const probes = opts.config ? loadConfig(opts.config).probes : undefined;
  if (opts.config && !probes) throw new Error(`config ${opts.config} has no probes section`);
  const headers = Object.fromEntries(
    opts.header.map((h) => {
      const i = h.indexOf('=');
      if (i <= 0) throw new Error(`invalid --header "${h}": expected name=regex`);
      return [h.slice(0, i), h.slice(i + 1)];
    }),
  );
  const http = {
    ...(opts.expectStatus ? { expectStatus: opts.expectStatus } : {}),
    ...(opts.bodyRegex !== undefined ? { bodyRegex: opts.bodyRegex } : {}),
    ...(opts.header.length > 0 ? { headers } : {}),
    ...(opts.followRedirects ? { followRedirects: true } : {}),
  };
  const fromConfig = (probes?.targets ?? []).filter(
    (t) => t.from === undefined || t.from.includes(opts.sourceRegion) || opts.sourceRegion === 'local',
  );
  return {
    source: { region: opts.sourceRegion, az: opts.sourceAz, azId: opts.sourceAzId },
    targets: [...fromConfig, ...[...new Set(opts.target)].map((uri) => parseTargetUri(uri, http))],
    discovery: { cloudMap: [] },
    attempts: opts.attempts ?? probes?.attempts ?? 5,
    timeoutMs: opts.timeout ?? probes?.timeoutMs ?? 2_000,
    concurrency: opts.concurrency ?? probes?.concurrency ?? 16,
    ...(opts.interval !== undefined ? { intervalMs: opts.interval } : {}),
  };
}

function remoteWriteSink(url: string): SampleSink {
  const client = new RemoteWriteClient({
    url,
    sigv4: isAmpUrl(url) ? {} : false,
    logger: {
      warn: (message, attributes) => console.error(`remote write: ${message}`, JSON.stringify(attributes)),
      error: (message, attributes) => console.error(`remote write: ${message}`, JSON.stringify(attributes)),
    },
  });
  return {
    write: async (samples, opts) => {
      const r = await client.write(samples, opts);
      if (!r.ok) console.error(`remote write: ${r.samplesFailed} of ${r.samples} samples not written`);
      return r;
    },
  };
}

function toJson(summary: ProbeRunSummary, startedAt: number) {
  return {
    time: new Date(startedAt).toISOString(),
    source: summary.source,
    durationMs: summary.durationMs,
    succeeded: summary.succeeded,
    failed: summary.failed,
    timedOut: summary.timedOut,
    ...(summary.samples > 0
      ? {
          samples: summary.samples,
          samplesFailed: summary.samplesFailed,
          remoteWriteOk: summary.remoteWriteOk,
        }
      : {}),
    outcomes: summary.outcomes.map((o) => ({
      target: o.target.name,
      kind: o.target.kind,
      address: o.address,
      ...(o.family ? { ipFamily: o.family } : {}),
      success: o.success,
      ...(o.reason ? { reason: o.reason, error: o.error } : {}),
      durationSeconds: o.durationSeconds,
      ...(o.tcp ? { tcp: o.tcp } : {}),
      ...(o.http ? { http: o.http } : {}),
      ...(o.dns ? { dns: o.dns } : {}),
    })),
  };
}

const ms = (seconds: number) =>
  seconds < 0.01
    ? `${(seconds * 1000).toFixed(2)}ms`
    : seconds < 1
      ? `${(seconds * 1000).toFixed(1)}ms`
      : `${seconds.toFixed(2)}s`;

function describe(o: ProbeOutcome): string {
  const parts: string[] = [];
  if (o.tcp) {
    const t = o.tcp;
    if (t.stats) {
      parts.push(
        `min ${ms(t.stats.minMs / 1000)} p50 ${ms(t.stats.p50Ms / 1000)} p90 ${ms(t.stats.p90Ms / 1000)} max ${ms(t.stats.maxMs / 1000)}`,
      );
      parts.push(`jitter ${ms(t.jitterMs / 1000)}`);
    }
    parts.push(
      `loss ${(t.lossRatio * 100).toFixed(0)}% (${t.successes}/${t.attempts} ok${t.retransmitted ? `, ${t.retransmitted} retransmitted` : ''})`,
    );
    if (t.warmup) parts.push(`warm-up ${ms(t.warmup.ms / 1000)} (not counted)`);
  }
  if (o.http) {
    const h = o.http;
    const p = h.phasesSeconds;
    if (h.statusCode !== undefined) parts.push(`${h.statusCode}`);
    parts.push(
      `dns ${ms(p.dns)} connect ${ms(p.connect)}${h.tls ? ` tls ${ms(p.tls)}` : ''} ttfb ${ms(p.ttfb)} transfer ${ms(p.transfer)}`,
    );
    if (h.redirects) parts.push(`${h.redirects} redirects`);
    if (h.certExpiry !== undefined)
      parts.push(`cert ${((h.certExpiry * 1000 - Date.now()) / 86_400_000).toFixed(0)}d`);
  }
  if (o.dns)
    parts.push(
      `${o.dns.answers.length} answers in ${ms(o.dns.lookupSeconds)}${o.dns.answers.length ? `: ${o.dns.answers.slice(0, 3).join(' ')}` : ''}`,
    );
  if (o.success === 0) parts.push(`FAIL ${o.reason}: ${o.error ?? ''}`);
  return parts.join('  ');
}

function renderTable(summary: ProbeRunSummary, wrote: boolean): string {
  const rows = [
    ['TARGET', 'ADDRESS', 'OK', 'RESULT'],
    ...summary.outcomes.map((o) => [o.target.name, o.address || '-', o.success ? 'ok' : 'FAIL', describe(o)]),
  ];
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) =>
    r
      .map((cell, c) => (c < 3 ? cell.padEnd(widths[c]!) : cell))
      .join('  ')
      .trimEnd(),
  );
  const footer = `${summary.succeeded}/${summary.outcomes.length} ok in ${summary.durationMs} ms${summary.timedOut ? `, ${summary.timedOut} not probed in time` : ''}${
    wrote ? `, ${summary.samples - summary.samplesFailed}/${summary.samples} samples written` : ''
  }`;
  return [...lines, footer].join('\n');
}
