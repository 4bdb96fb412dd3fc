/**
 * Runs the probe engine's TCP probe as the Lambda does, one run after another (attempts and spacing of
 * the config's defaults), inside a lab namespace, and prints one JSON line: each run's p50, min, max,
 * jitter and loss, milliseconds. The noise model of the detection rules (test/support/noise.ts) takes
 * its figures from this output.
 *
 * Usage: node --import tsx probe-series.ts '<JSON TcpProbeOptions>' <runs> <pause ms>
 */
import { probeTcp, type TcpProbeOptions } from '#probes/tcp';

const opts = JSON.parse(process.argv[2] ?? '{}') as TcpProbeOptions;
const runs = Number(process.argv[3] ?? 30);
const pause = Number(process.argv[4] ?? 200);
const out: { p50: number; min: number; max: number; jitter: number; loss: number }[] = [];
for (let i = 0; i < runs; i++) {
  const r = await probeTcp(opts);
  if (r.stats)
    out.push({
      p50: r.stats.p50Ms,
      min: r.stats.minMs,
      max: r.stats.maxMs,
      jitter: r.jitterMs,
      loss: r.lossRatio,
    });
  await new Promise((ok) => setTimeout(ok, pause));
}
console.log(JSON.stringify(out));
