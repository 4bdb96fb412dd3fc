/**
 * `observatory probe`: runs the Lambda's probe engine from a workstation against any target.
 *
 * ```sh
 * observatory probe -t tcp://db.internal:5432 -t https://example.com/health -t 'dns://example.com?type=AAAA'
 * observatory probe --config config/example.yaml --json --repeat 10 --every 60
 * observatory probe -t tcp://10.0.0.5:443 --remote-write https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write
 * ```
 * Exit status: 0 when every probe succeeded, 1 when one failed, 2 on a usage or config error.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { ProbeEvent, ProbeTarget } from '../lambdas/probes/event.ts';
import { executeProbeRun, type ProbeRunSummary } from '../lambdas/probes/execute.ts';
import type { ProbeOutcome } from '../lambdas/probes/run.ts';
import type { SampleSink } from '../lambdas/probes/samples.ts';
import { isAmpUrl, RemoteWriteClient } from '../lambdas/shared/remote-write.ts';
import { ConfigError, loadConfig } from '../lib/config/loader.ts';
import { DnsTargetSchema, HttpTargetSchema, TcpTargetSchema } from '../lib/config/schema.ts';

/** Options of `observatory probe` as commander parses them. */
export interface ProbeCliOptions {
  config?: string;
  target: string[];
  attempts?: number;
  timeout?: number;
  interval?: number;
  concurrency?: number;
  deadline: number;
  json?: boolean;
  repeat: number;
  every: number;
  remoteWrite?: string;
  ca?: string;
  insecure?: boolean;
  dnsServer: string[];
  expectStatus?: number[];
  bodyRegex?: string;
  header: string[];
  followRedirects?: boolean;
  sourceRegion: string;
  sourceAz: string;
  sourceAzId: string;
}

const PLACEHOLDER_NAME = 'cli';

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

const int = (what: string, min: number, max: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new InvalidArgumentError(`${what} must be an integer ${min}-${max}, got "${value}"`);
  return n;
};
const collect = (value: string, previous: string[]) => [...previous, value];

/**
 * Registers `observatory probe` on the program.
 * @param program the root commander program
 */
export function register(program: Command): void {
  program
    .command('probe')
    .description('probe TCP, HTTP(S) and DNS targets with the engine the probe Lambdas run')
    .option('-c, --config <file>', 'read targets and settings from the probes section of a config file')
    .option(
      '-t, --target <uri>',
      'tcp://host:port | http(s)://... | dns://name[?type=A&expect=v1,v2] (repeatable)',
      collect,
      [],
    )
    .option(
      '-n, --attempts <n>',
      'TCP connections per address (default: config or 5)',
      int('attempts', 1, 50),
    )
    .option(
      '--timeout <ms>',
      'timeout of one TCP attempt, HTTP probe or DNS query (default: config or 2000)',
      int('timeout', 1, 120_000),
    )
    .option('--interval <ms>', 'pause between TCP attempts (default 100)', int('interval', 0, 60_000))
    .option(
      '--concurrency <n>',
      'addresses probed at once (default: config or 16)',
      int('concurrency', 1, 256),
    )
    .option(
      '--deadline <seconds>',
      'time budget of one run; later probes are reported as deadline failures',
      int('deadline', 1, 3600),
      55,
    )
    .option('--json', 'print one JSON document per run (one line each) instead of a table')
    .option('--repeat <n>', 'number of runs', int('repeat', 1, 1_000_000), 1)
    .option('--every <seconds>', 'time between run starts when repeating', int('every', 1, 86_400), 60)
    .option(
      '--remote-write <url>',
      'also write samples to this remote-write URL (SigV4-signed when it is AMP)',
    )
    .option(
      '--ca <file>',
      'trust the PEM certificates in this file for HTTPS targets (in addition to the defaults)',
    )
    .option('--insecure', 'do not fail HTTPS targets on an untrusted certificate')
    .option('--dns-server <addr>', 'resolver for dns:// targets, ip or ip:port (repeatable)', collect, [])
    .option(
      '--expect-status <codes>',
      'HTTP status codes that count as success, comma-separated (default 200)',
      (v: string) => v.split(',').map((c) => int('status code', 100, 599)(c.trim())),
    )
    .option('--body-regex <re>', 'HTTP body must match this regular expression')
    .option('--header <name=regex>', 'HTTP response header must match (repeatable)', collect, [])
    .option('--follow-redirects', 'follow HTTP redirects (up to 10)')
    .addOption(
      new Option('--source-region <region>', 'source_region label').default(
        process.env.AWS_REGION ?? 'local',
      ),
    )
    .option('--source-az <az>', 'source_az label', 'local')
    .option('--source-az-id <id>', 'source_az_id label', 'local')
    .action(async (opts: ProbeCliOptions) => {
      process.exitCode = await runProbeCommand(opts);
    });
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

  let failed = false;
  for (let run = 0; run < opts.repeat; run++) {
    const startedAt = Date.now();
    const summary = await executeProbeRun(event, {
      clients: {},
      ...(sink ? { sink } : {}),
      deadline: startedAt + opts.deadline * 1000,
      writeReserveMs: sink ? Math.min(10_000, opts.deadline * 200) : 0,
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
    targets: [...fromConfig, ...opts.target.map((uri) => parseTargetUri(uri, http))],
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
