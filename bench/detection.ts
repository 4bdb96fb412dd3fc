/**
 * Time to detect a degrading path, and false alarms on noise alone, for the detection rules of
 * lib/observability/rules/probes.yml (group `probe-detection`) on the noise model of
 * test/support/noise.ts: each scenario of issue 17 §1 over several seeds, run through
 * `promtool test rules` (Prometheus's own rule evaluation, one evaluation a minute), and five simulated
 * days of noise alone on an AZ path and a region path. Prints figures next to the goals; never fails
 * on them.
 *
 *   npx tsx bench/detection.ts [seeds]      (default 5)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RULES_DIR } from '../lib/observability/monitoring-stack.ts';
import {
  AZ_LABELS,
  AZ_PATH,
  DAY,
  FIRING_DETECTION,
  inputSeries,
  type PromtoolTest,
  promtoolFile,
  REGION_LABELS,
  REGION_PATH,
  SCENARIOS,
  type Scenario,
  type SimulatedPath,
  simulate,
} from '../test/support/noise.ts';

const SEEDS = Number(process.argv[2] ?? 5);
const CONCURRENCY = 2;
const dir = mkdtempSync(join(tmpdir(), 'observatory-bench-detection-'));

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** One sample of promtool's `got:` line. */
interface Got {
  readonly labels: Record<string, string>;
  readonly value: number;
}

/**
 * Runs promtool on paths over `minutes` with the given expressions, each expected empty, and returns
 * what each actually returned (promtool prints it for every expression that was not empty).
 */
async function query(
  name: string,
  paths: SimulatedPath[],
  minutes: number,
  exprs: string[],
): Promise<{ got: Map<string, Got[]>; seconds: number }> {
  const file = join(dir, `${name}.test.yml`);
  const test: PromtoolTest = {
    interval: '1m',
    input_series: inputSeries(paths),
    promql_expr_test: exprs.map((expr) => ({ expr, eval_time: `${minutes}m`, exp_samples: [] })),
  };
  writeFileSync(file, promtoolFile(join(RULES_DIR, 'probes.yml'), [test]));
  const started = performance.now();
  const output = await new Promise<string>((resolve, reject) => {
    const p = spawn('promtool', ['test', 'rules', file]);
    let out = '';
    p.stdout.on('data', (c) => {
      out += c;
    });
    p.stderr.on('data', (c) => {
      out += c;
    });
    p.on('error', reject);
    p.on('close', () => resolve(out));
  });
  const seconds = (performance.now() - started) / 1000;
  if (/error|could not/i.test(output) && !output.includes('FAILED')) throw new Error(output.slice(0, 500));
  const got = new Map<string, Got[]>();
  for (const m of output.matchAll(
    /expr: "((?:[^"\\]|\\.)*)", time: [^\n]*\n\s*exp:[^\n]*\n\s*got: ([^\n]*)/g,
  )) {
    const expr = JSON.parse(`"${m[1]}"`) as string;
    got.set(
      expr,
      [...m[2]!.matchAll(/\{([^}]*)\} ([-0-9.E+]+)/g)].map((s) => ({
        labels: Object.fromEntries([...s[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!])),
        value: Number(s[2]),
      })),
    );
  }
  return { got, seconds };
}

/** Runs jobs with at most CONCURRENCY at once. */
async function pool<T>(jobs: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < jobs.length) {
        const i = next++;
        results[i] = await jobs[i]!();
      }
    }),
  );
  return results;
}

/** Minutes from `onset` to each alert's first firing, by `alertname/severity`. */
const firstFiring = (onset: number, end: number) =>
  `min by (alertname, severity) (min_over_time(timestamp(${FIRING_DETECTION})[${end}m:1m])) / 60 - ${onset}`;
/** Firing episodes (firing now, not a minute before) by alert. */
const episodes = (end: number) =>
  `sum by (alertname, severity) (sum_over_time((${FIRING_DETECTION} unless ${FIRING_DETECTION} offset 1m)[${end}m:1m]))`;

console.log(
  `Detection on the noise model (test/support/noise.ts), ${SEEDS} seeds a scenario, promtool ${CONCURRENCY} at a time (load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)})`,
);

// ---- time to detect
const scenarios: Scenario[] = Object.values(SCENARIOS);
const detections = await pool(
  scenarios.flatMap((s) =>
    Array.from({ length: SEEDS }, (_, seed) => async () => {
      const { got, seconds } = await query(
        `${s.name.replace(/\W+/g, '-')}-${seed}`,
        [
          {
            labels: s.labels,
            series: simulate(
              s.model,
              s.minutes,
              100 + seed,
              s.degradation,
              'change' in s ? s.change : undefined,
            ),
          },
        ],
        s.minutes,
        [firstFiring(s.onset, s.minutes)],
      );
      const by = s.detectedBy ?? /^ProbeLatency(Step|Drift)$/;
      const alerts = (got.get(firstFiring(s.onset, s.minutes)) ?? []).filter((a) =>
        by.test(a.labels.alertname ?? ''),
      );
      const first = alerts.reduce<Got | undefined>((a, b) => (a && a.value <= b.value ? a : b), undefined);
      return { s, first, alerts, seconds };
    }),
  ),
);

const rows: string[][] = [];
for (const s of scenarios) {
  const runs = detections.filter((d) => d.s === s);
  const times = runs.map((r) => r.first?.value ?? Number.POSITIVE_INFINITY);
  const early = times.filter((t) => t < 0).length;
  const which = [
    ...new Set(
      runs.map((r) => (r.first ? `${r.first.labels.alertname} ${r.first.labels.severity}` : 'none')),
    ),
  ];
  const truth = (t: number) =>
    Number.isFinite(t) && s.degradation ? `+${Math.round((s.degradation(s.onset + t) - 1) * 100)} %` : '-';
  const met = times.filter((t) => t >= 0 && t <= s.goalMinutes).length;
  const fmt = (t: number) => (Number.isFinite(t) ? `${t} min` : 'not detected');
  rows.push([
    s.name,
    s.goal,
    `${fmt(median(times))} / ${fmt(Math.max(...times))}`,
    `${truth(median(times))} / ${truth(Math.max(...times))}`,
    `${met}/${runs.length}${early ? ` (${early} before onset)` : ''}`,
    which.join(', '),
    `${median(runs.map((r) => r.seconds)).toFixed(1)} s`,
  ]);
}
const table = (header: string[], body: string[][]) => {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(header));
  console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
  for (const r of body) console.log(line(r));
};
console.log('\nTime to detect (first detection alert firing after the onset, 38 healthy hours first):');
table(
  [
    'scenario',
    'goal',
    'detected after (median / worst)',
    'truth then (median / worst)',
    'goal met',
    'first alert',
    'promtool (median)',
  ],
  rows,
);

// ---- false alarms on noise alone
const minutes = 5 * DAY;
const noise = await pool(
  Array.from({ length: SEEDS }, (_, seed) => async () => {
    const { got, seconds } = await query(
      `noise-${seed}`,
      [
        { labels: AZ_LABELS, series: simulate(AZ_PATH, minutes, 200 + seed) },
        { labels: REGION_LABELS, series: simulate(REGION_PATH, minutes, 300 + seed) },
      ],
      minutes,
      [episodes(minutes)],
    );
    return { alerts: got.get(episodes(minutes)) ?? [], seconds };
  }),
);
const byAlert = new Map<string, number>();
for (const run of noise)
  for (const a of run.alerts) {
    const k = `${a.labels.alertname} ${a.labels.severity}`;
    byAlert.set(k, (byAlert.get(k) ?? 0) + a.value);
  }
const total = [...byAlert.values()].reduce((a, b) => a + b, 0);
console.log(
  `\nFalse alarms, five days of noise alone on an AZ path and a region path, ${SEEDS} seeds (${SEEDS * 5 * 2} path-days): ` +
    `${total} firing episodes (goal 0)${total ? `: ${[...byAlert].map(([k, v]) => `${k} ${v}`).join(', ')}` : ''}; ` +
    `promtool ${median(noise.map((n) => n.seconds)).toFixed(1)} s a run (median), ${(median(noise.map((n) => n.seconds)) / 10).toFixed(1)} s per simulated path-day`,
);
rmSync(dir, { recursive: true, force: true });
