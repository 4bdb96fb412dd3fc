/**
 * Runs the probe engine's TCP probe inside a lab namespace (started by `Lab.runInClient`) and
 * prints one JSON line: every run's result, and the CPU time and wall time of the probing alone
 * (process start-up and module loading excluded).
 *
 * Usage: node --import tsx probe-tcp.ts '<JSON array of TcpProbeOptions>' [warm-up attempts]
 * The runs start together, so N runs of M attempts probe with concurrency N. Warm-up attempts
 * (refused connects to the namespace's own loopback, so the lab's counters never see them; not
 * measured) let a benchmark compare a warm engine with a long-running exporter.
 */
import { probeTcp, type TcpProbeOptions, type TcpResult } from '#probes/tcp';

/** What this script prints. */
export interface ProbeTcpOutput {
  readonly results: TcpResult[];
  /** User + system CPU time of this process while probing, microseconds. */
  readonly cpuMicros: number;
  readonly wallMs: number;
}

const arg = process.argv[2];
if (!arg) throw new Error('missing argument: JSON array of tcp probe options');
const runs = JSON.parse(arg) as TcpProbeOptions[];
const warmup = Number(process.argv[3] ?? 0);
if (warmup > 0)
  await probeTcp({ host: '127.0.0.1', port: 1, attempts: warmup, timeoutMs: 1000, intervalMs: 0 });
const cpu = process.cpuUsage();
const started = performance.now();
const results = await Promise.all(runs.map((opts) => probeTcp(opts)));
const used = process.cpuUsage(cpu);
const output: ProbeTcpOutput = {
  results,
  cpuMicros: used.user + used.system,
  wallMs: performance.now() - started,
};
console.log(JSON.stringify(output));
