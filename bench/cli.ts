/**
 * How long `observatory` takes, wall clock per process, median of runs, the variants alternated so
 * machine load hits them alike: the built CLI (`dist/cli/observatory.mjs`, what the `observatory` bin
 * runs) against the old path (`tsx bin/cli.ts`: TypeScript compiled on every run) and against the floor
 * (`node -e 0`, an empty Node 22 process). Commands: `--help`, `config` (the example config) and a
 * one-attempt TCP probe of a loopback listener. The built CLI is rebuilt first. Prints figures; never
 * fails on time.
 *
 *   npx tsx bench/cli.ts [runs]      (default 7)
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { buildCli } from '../scripts/build-cli.ts';

const ROOT = join(import.meta.dirname, '..');
const RUNS = Number(process.argv[2] ?? 7);
const NODE = process.execPath;
const TSX = join(ROOT, 'node_modules/.bin/tsx');

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Wall-clock milliseconds of one process; throws when it fails. */
function wall(cmd: string, args: string[]): number {
  const t = performance.now();
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const ms = performance.now() - t;
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(0, 300)}`);
  return ms;
}

const built = await buildCli();
const server = createServer((s) => s.destroy());
await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
const port = (server.address() as { port: number }).port;

const commands: [string, string[]][] = [
  ['--help', ['--help']],
  ['config', ['config', 'config/example.yaml']],
  ['probe, 1 attempt (loopback)', ['probe', '-t', `tcp://127.0.0.1:${port}`, '--attempts', '1']],
];

try {
  console.log(
    `observatory wall time per process, median of ${RUNS} runs (Node ${process.versions.node}; goals: --help and config <= 300 ms, one-attempt probe <= 1 s)`,
  );
  console.log(
    `${'command'.padEnd(30)}${'built CLI'.padStart(11)}${'tsx bin/cli.ts (old)'.padStart(22)}${'node -e 0'.padStart(11)}${'built - floor'.padStart(15)}${'speed-up'.padStart(10)}`,
  );
  for (const [name, args] of commands) {
    const fast: number[] = [];
    const old: number[] = [];
    const floor: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      floor.push(wall(NODE, ['-e', '0']));
      fast.push(wall(NODE, [built, ...args]));
      old.push(wall(TSX, [join(ROOT, 'bin/cli.ts'), ...args]));
    }
    const [f, o, z] = [median(fast), median(old), median(floor)];
    console.log(
      `${name.padEnd(30)}${`${f.toFixed(0)} ms`.padStart(11)}${`${o.toFixed(0)} ms`.padStart(22)}${`${z.toFixed(0)} ms`.padStart(11)}${`${(f - z).toFixed(0)} ms`.padStart(15)}${`${(o / f).toFixed(1)}x`.padStart(10)}`,
    );
  }
} finally {
  server.close();
}
