/**
 * Benchmark: our TCP probe engine against prometheus-blackbox-exporter (tcp_connect module) on the
 * same lab paths with known round-trip delay and loss (test/support/netlab.ts).
 *
 * Run as root: `npx tsx bench/probes.ts` (about a minute; aborts itself after 3 minutes).
 *
 * For each scenario (path and load) both tools probe the lab's server the same number of times
 * with the same number of probes in flight and the same 400 ms timeout, from the client namespace:
 * - our engine: `probeTcp` runs in a child process (test/support/netlab/probe-tcp.ts); CPU is
 *   `process.cpuUsage()` around the probing, after a warm-up;
 * - blackbox_exporter: a long-running process in the client namespace, driven over its loopback
 *   (`/probe?module=tcp_connect`); CPU is utime + stime of its /proc/<pid>/stat across the batch
 *   (10 ms clock ticks), after a warm-up. Its latency is `probe_duration_seconds`.
 *
 * Printed per path and tool: p50 latency, median absolute latency error against the injected
 * round trip, measured loss, the loss the lab really inflicted on connection attempts (SYNs it
 * dropped / SYNs it saw), CPU milliseconds per 1,000 probes, and wall time.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BlackboxProbeOutput } from '../test/support/netlab/blackbox-probe.ts';
import type { ProbeTcpOutput } from '../test/support/netlab/probe-tcp.ts';
import { createLab, type Lab, processCpuSeconds } from '../test/support/netlab.ts';

const TIMEOUT_MS = 400;
const BLACKBOX_PORT = 9115;
const WARMUP = 20;
const TIME_LIMIT_MS = 180_000;
/** A lab path and how hard both tools probe it (`inFlight` concurrent probes, `probes` in all). */
interface Scenario {
  readonly rttMs: number;
  readonly lossPercent: number;
  readonly probes: number;
  readonly inFlight: number;
}
const SCENARIOS: readonly Scenario[] = [
  { rttMs: 0, lossPercent: 0, probes: 300, inFlight: 5 },
  { rttMs: 20, lossPercent: 0, probes: 300, inFlight: 5 },
  { rttMs: 50, lossPercent: 0, probes: 300, inFlight: 5 },
  { rttMs: 0, lossPercent: 10, probes: 300, inFlight: 5 },
  { rttMs: 20, lossPercent: 10, probes: 300, inFlight: 5 },
  // One probe at a time: latency accuracy without the tool's own queueing.
  { rttMs: 20, lossPercent: 0, probes: 100, inFlight: 1 },
];

const SUPPORT = join(import.meta.dirname, '..', 'test', 'support', 'netlab');

interface Row {
  path: string;
  inFlight: number;
  tool: string;
  probes: number;
  p50Ms: number;
  medianAbsErrorMs: number;
  measuredLoss: number;
  labLoss: number;
  cpuMsPer1000: number;
  wallS: number;
}

function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function labLoss(lab: Lab): Promise<number> {
  const c = await lab.lossCounters();
  return c.syns === 0 ? Number.NaN : c.synsDropped / c.syns;
}

async function benchEngine(lab: Lab, path: string, sc: Scenario): Promise<Row> {
  const per = Math.ceil(sc.probes / sc.inFlight);
  const runs = Array.from({ length: sc.inFlight }, () => ({
    host: lab.serverAddr,
    port: lab.serverPort,
    attempts: per,
    timeoutMs: TIMEOUT_MS,
    intervalMs: 0,
  }));
  await lab.setLoss(lab.lossPercent); // resets the lab's counters
  const out = await lab.runInClient<ProbeTcpOutput>(join(SUPPORT, 'probe-tcp.ts'), [
    JSON.stringify(runs),
    String(WARMUP),
  ]);
  const latencies = out.results.flatMap((r) => r.latenciesMs);
  const attempts = out.results.reduce((s, r) => s + r.attempts, 0);
  const successes = out.results.reduce((s, r) => s + r.successes, 0);
  return {
    path,
    inFlight: sc.inFlight,
    tool: 'observatory probeTcp',
    probes: attempts,
    p50Ms: median(latencies),
    medianAbsErrorMs: median(latencies.map((l) => Math.abs(l - sc.rttMs))),
    measuredLoss: 1 - successes / attempts,
    labLoss: await labLoss(lab),
    cpuMsPer1000: (out.cpuMicros / 1000 / attempts) * 1000,
    wallS: out.wallMs / 1000,
  };
}

async function blackboxBatch(
  lab: Lab,
  target: string,
  count: number,
  concurrency: number,
): Promise<BlackboxProbeOutput> {
  const url = `http://127.0.0.1:${BLACKBOX_PORT}/probe?${new URLSearchParams({ target, module: 'tcp_connect' })}`;
  return lab.runInClient<BlackboxProbeOutput>(join(SUPPORT, 'blackbox-probe.ts'), [
    JSON.stringify({ url, count, concurrency }),
  ]);
}

async function benchBlackbox(lab: Lab, pid: number, path: string, sc: Scenario): Promise<Row> {
  await lab.setLoss(lab.lossPercent);
  const cpuBefore = processCpuSeconds(pid);
  const out = await blackboxBatch(lab, `${lab.serverAddr}:${lab.serverPort}`, sc.probes, sc.inFlight);
  const cpu = processCpuSeconds(pid) - cpuBefore;
  const ok = out.samples.filter((s) => s.success).map((s) => s.durationSeconds * 1000);
  return {
    path,
    inFlight: sc.inFlight,
    tool: 'blackbox_exporter 0.23',
    probes: out.samples.length,
    p50Ms: median(ok),
    medianAbsErrorMs: median(ok.map((l) => Math.abs(l - sc.rttMs))),
    measuredLoss: 1 - ok.length / out.samples.length,
    labLoss: await labLoss(lab),
    cpuMsPer1000: ((cpu * 1000) / out.samples.length) * 1000,
    wallS: out.wallMs / 1000,
  };
}

async function startBlackbox(lab: Lab, dir: string): Promise<number> {
  const config = join(dir, 'blackbox.yml');
  writeFileSync(
    config,
    [
      'modules:',
      '  tcp_connect:',
      '    prober: tcp',
      `    timeout: ${TIMEOUT_MS}ms`,
      '    tcp:',
      '      preferred_ip_protocol: ip4',
      '      ip_protocol_fallback: false',
      '',
    ].join('\n'),
  );
  const child = lab.spawn(lab.clientNs, 'prometheus-blackbox-exporter', [
    `--config.file=${config}`,
    `--web.listen-address=127.0.0.1:${BLACKBOX_PORT}`,
    '--log.level=warn',
  ]);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`blackbox_exporter exited with ${child.exitCode}: ${stderr}`);
    try {
      await lab.exec(lab.clientNs, 'curl', ['-sf', `http://127.0.0.1:${BLACKBOX_PORT}/-/healthy`]);
      break;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`blackbox_exporter did not become healthy: ${(err as Error).message} ${stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  // `ip netns exec` execs the command, so the child's pid is the exporter's own.
  if (!child.pid) throw new Error('blackbox_exporter has no pid');
  return child.pid;
}

function fmt(n: number, digits: number): string {
  return Number.isNaN(n) ? '-' : n.toFixed(digits);
}

function printTable(rows: readonly Row[]): void {
  const header = [
    'path',
    'in flight',
    'tool',
    'probes',
    'p50 ms',
    'median |err| ms',
    'loss measured',
    'loss lab (SYNs)',
    'CPU ms/1000',
    'wall s',
  ];
  const body = rows.map((r) => [
    r.path,
    String(r.inFlight),
    r.tool,
    String(r.probes),
    fmt(r.p50Ms, 2),
    fmt(r.medianAbsErrorMs, 2),
    `${fmt(r.measuredLoss * 100, 1)}%`,
    `${fmt(r.labLoss * 100, 1)}%`,
    fmt(r.cpuMsPer1000, 0),
    fmt(r.wallS, 1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 || i === 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  console.log(line(header));
  console.log(
    `|${widths.map((w, i) => (i === 0 || i === 2 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
  );
  for (const row of body) console.log(line(row));
}

async function main(): Promise<void> {
  const started = Date.now();
  const lab = await createLab();
  const guard = setTimeout(() => {
    console.error(`bench exceeded ${TIME_LIMIT_MS / 1000} s: stopping`);
    void lab.destroy().finally(() => process.exit(1));
  }, TIME_LIMIT_MS);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void lab.destroy().finally(() => process.exit(130)));
  }
  const rows: Row[] = [];
  try {
    const dir = mkdtempSync(join(tmpdir(), 'observatory-bench-'));
    try {
      const pid = await startBlackbox(lab, dir);
      await blackboxBatch(lab, '127.0.0.1:1', WARMUP, 5); // warm-up off the lab path: refused on loopback
      for (const sc of SCENARIOS) {
        await lab.setDelay(sc.rttMs);
        await lab.setLoss(sc.lossPercent);
        const path = `${sc.rttMs} ms, ${sc.lossPercent}% loss`;
        rows.push(await benchEngine(lab, path, sc));
        rows.push(await benchBlackbox(lab, pid, path, sc));
        console.error(`done: ${path}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    clearTimeout(guard);
    await lab.destroy();
  }
  console.log(
    `\nTCP connect probes from the lab's client namespace, timeout ${TIMEOUT_MS} ms; ` +
      'truth = injected round trip (the lab adds ~0.1-0.2 ms of veth and queue time)\n',
  );
  printTable(rows);
  console.log(`\ntotal ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

await main();
