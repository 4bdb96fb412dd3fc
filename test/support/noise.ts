/**
 * The noise model of a probed path, as a seeded generator of the one-minute samples the probe functions
 * publish, and a writer of `promtool test rules` files fed with them. The detection rules
 * (lib/observability/rules/probes.yml, group `probe-detection`) are tested and benchmarked on it.
 *
 * One run = `attempts` TCP connects (5, the config's default). Each attempt measures
 *
 *   truth x degradation(t) x (1 + diurnal x sin(2 pi t / 1 day)) + offset + queueing + spike
 *
 * - `offset`: the engine's constant error over the true round trip;
 * - `queueing`: exponential with mean `queueMs` (kernel, veth, scheduler queues: a right tail);
 * - `spike`: with probability `spikeProb` an attempt is delayed by `spikeMs` more (a descheduled
 *   process, a retransmitted segment, a busy hypervisor), at most one attempt in a run being the
 *   usual case;
 * - with probability `lossProb` an attempt is lost (no clean handshake).
 *
 * The run then reports what the engine reports: the p50 of the clean attempts (closest-rank
 * interpolation, the middle one of 5), their jitter (mean absolute difference of consecutive ones) and
 * the lost share. The figures of {@link AZ_PATH} and {@link REGION_PATH} and where each comes from are
 * in docs/detection.md.
 */
import { stringify } from 'yaml';
import { rng } from './prompb.ts';

/** How one path behaves when healthy. */
export interface PathModel {
  /** True round trip, ms. */
  readonly truthMs: number;
  /** The engine's constant error over the truth, ms. */
  readonly offsetMs: number;
  /** Relative amplitude of the daily swing of the truth (0.03 = +-3 %). */
  readonly diurnal: number;
  /** Mean of the exponential queueing delay added to each attempt, ms. */
  readonly queueMs: number;
  /** Probability that one attempt carries a spike. */
  readonly spikeProb: number;
  /** Size of a spike, ms (uniform between the two). */
  readonly spikeMs: readonly [number, number];
  /** Probability that one attempt is lost. */
  readonly lossProb: number;
  /** Attempts per run. @default 5 */
  readonly attempts?: number;
}

/**
 * An inter-AZ path of 0.8 ms (read as about 1.2 ms: the engine's +0.3 ms and the queueing), queueing and spikes
 * as the lab's namespace paths showed at real-time priority (docs/detection.md has the figures), and an
 * assumed +-3 % daily swing.
 */
export const AZ_PATH: PathModel = {
  truthMs: 0.8,
  offsetMs: 0.3,
  diurnal: 0.03,
  queueMs: 0.1,
  spikeProb: 0.03,
  spikeMs: [1, 20],
  lossProb: 0.001,
};

/** A path between regions of 80 ms, with an assumed +-1 % daily swing. */
export const REGION_PATH: PathModel = {
  truthMs: 80,
  offsetMs: 0.3,
  diurnal: 0.01,
  queueMs: 0.2,
  spikeProb: 0.03,
  spikeMs: [1, 20],
  lossProb: 0.001,
};

/** Multiplier of the truth at minute `t` (1 = healthy). */
export type Degradation = (minute: number) => number;

/** A step to `factor` x the truth from minute `at` on. */
export const step =
  (at: number, factor: number): Degradation =>
  (t) =>
    t >= at ? factor : 1;

/** A linear ramp from 1 at minute `at` to `factor` x the truth `over` minutes later, held after. */
export const ramp =
  (at: number, factor: number, over: number): Degradation =>
  (t) =>
    t < at ? 1 : 1 + (factor - 1) * Math.min(1, (t - at) / over);

/** Figures of a path's model that change from minute `at` on. */
export interface ModelChange {
  readonly at: number;
  readonly model: Partial<PathModel>;
}

/** One path's runs, one a minute: seconds and ratios, as the metrics carry them. */
export interface PathSeries {
  /** `probe_tcp_connect_seconds{quantile="0.5"}`; undefined for a run without a clean attempt. */
  readonly p50: (number | undefined)[];
  /** `probe_jitter_seconds`. */
  readonly jitter: number[];
  /** `probe_loss_ratio`. */
  readonly loss: number[];
}

/**
 * Simulates `minutes` runs of one path.
 * @param model the path's healthy behaviour
 * @param minutes runs to simulate, one a minute from minute 0 (midnight)
 * @param seed PRNG seed: the same seed gives the same runs
 * @param degradation multiplier of the truth over time
 * @param change figures of the model that change from a minute on (loss, queueing)
 */
export function simulate(
  model: PathModel,
  minutes: number,
  seed: number,
  degradation?: Degradation,
  change?: ModelChange,
): PathSeries {
  const random = rng(seed);
  const attempts = model.attempts ?? 5;
  const p50: (number | undefined)[] = [];
  const jitter: number[] = [];
  const loss: number[] = [];
  const changed = change ? { ...model, ...change.model } : model;
  for (let t = 0; t < minutes; t++) {
    const m = change && t >= change.at ? changed : model;
    const truth = m.truthMs * (degradation?.(t) ?? 1) * (1 + m.diurnal * Math.sin((2 * Math.PI * t) / 1440));
    const clean: number[] = [];
    for (let a = 0; a < attempts; a++) {
      if (random() < m.lossProb) continue;
      let ms = truth + m.offsetMs - m.queueMs * Math.log(1 - random());
      if (random() < m.spikeProb) ms += m.spikeMs[0] + random() * (m.spikeMs[1] - m.spikeMs[0]);
      clean.push(ms);
    }
    loss.push(1 - clean.length / attempts);
    p50.push(clean.length ? quantile(clean, 0.5) / 1000 : undefined);
    let diffs = 0;
    for (let i = 1; i < clean.length; i++) diffs += Math.abs(clean[i]! - clean[i - 1]!);
    jitter.push(clean.length > 1 ? diffs / (clean.length - 1) / 1000 : 0);
  }
  return { p50, jitter, loss };
}

/** Linear interpolation between closest ranks (numpy's default), as lambdas/probes/stats.ts computes. */
function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (pos - lo);
}

/** The label set of a simulated path, as the probes label it. */
export type PathLabels = Readonly<Record<string, string>>;

/** A simulated path and its labels. */
export interface SimulatedPath {
  readonly labels: PathLabels;
  readonly series: PathSeries;
}

const selector = (name: string, labels: PathLabels) =>
  `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`;

const values = (xs: readonly (number | undefined)[]) =>
  xs.map((x) => (x === undefined ? '_' : Number(x.toPrecision(6)).toString())).join(' ');

/** The promtool input series of simulated paths: the three metrics the detection reads. */
export function inputSeries(paths: readonly SimulatedPath[]): { series: string; values: string }[] {
  return paths.flatMap(({ labels, series }) => [
    {
      series: selector('probe_tcp_connect_seconds', { ...labels, quantile: '0.5' }),
      values: values(series.p50),
    },
    { series: selector('probe_jitter_seconds', labels), values: values(series.jitter) },
    { series: selector('probe_loss_ratio', labels), values: values(series.loss) },
  ]);
}

/** One `promtool test rules` test group. */
export interface PromtoolTest {
  readonly interval: string;
  readonly input_series: { series: string; values: string }[];
  readonly alert_rule_test?: readonly unknown[];
  readonly promql_expr_test?: readonly unknown[];
}

/**
 * A `promtool test rules` file.
 * @param ruleFile absolute path of the rule file under test
 * @param tests the test groups
 */
export function promtoolFile(ruleFile: string, tests: readonly PromtoolTest[]): string {
  return stringify({ rule_files: [ruleFile], evaluation_interval: '1m', tests }, { lineWidth: 0 });
}

/** Minutes in a day. */
export const DAY = 1440;

/** Labels of the simulated AZ path (eu-west-1a to a database in the same region). */
export const AZ_LABELS: PathLabels = {
  source_region: 'eu-west-1',
  source_az: 'eu-west-1a',
  source_az_id: 'euw1-az1',
  target: 'db',
  target_region: 'eu-west-1',
  address: '10.0.1.5',
};

/** Labels of the simulated region path (eu-west-1a to an API in us-east-1). */
export const REGION_LABELS: PathLabels = {
  source_region: 'eu-west-1',
  source_az: 'eu-west-1a',
  source_az_id: 'euw1-az1',
  target: 'api-us',
  target_region: 'us-east-1',
  address: '10.8.1.5',
};

/**
 * Healthy minutes before a scenario's degradation: 38 hours, so both baselines are learnt (the step's
 * day ending an hour ago is full, the drift's three days ending a day ago hold 14 hours).
 */
export const HEALTHY = 38 * 60;

/** A degradation scenario of issue 17: {@link HEALTHY} minutes, then the degradation, on one path. */
export interface Scenario {
  readonly name: string;
  readonly model: PathModel;
  readonly labels: PathLabels;
  /** Minute the degradation starts. */
  readonly onset: number;
  /** Minutes simulated. */
  readonly minutes: number;
  /** The degradation of the truth; none for noise alone. */
  readonly degradation?: Degradation;
  /** Other figures that degrade at the onset (loss, queueing). */
  readonly change?: ModelChange;
  /** Alerts that count as detecting it. @default latency: ProbeLatencyStep or ProbeLatencyDrift */
  readonly detectedBy?: RegExp;
  /** Goal: detected within this many minutes of the onset. */
  readonly goalMinutes: number;
  /** How the goal reads in a table. */
  readonly goal: string;
}

/** The scenarios of issue 17 §1. */
export const SCENARIOS = {
  azStep25: {
    name: 'AZ path 0.8 ms, step +25 %',
    model: AZ_PATH,
    labels: AZ_LABELS,
    onset: HEALTHY,
    minutes: HEALTHY + 60,
    degradation: step(HEALTHY, 1.25),
    goalMinutes: 15,
    goal: '<= 15 min',
  },
  azStep2x: {
    name: 'AZ path 0.8 ms, step x2',
    model: AZ_PATH,
    labels: AZ_LABELS,
    onset: HEALTHY,
    minutes: HEALTHY + 60,
    degradation: step(HEALTHY, 2),
    goalMinutes: 15,
    goal: '<= 15 min',
  },
  regionStep25: {
    name: 'region path 80 ms, step +25 %',
    model: REGION_PATH,
    labels: REGION_LABELS,
    onset: HEALTHY,
    minutes: HEALTHY + 60,
    degradation: step(HEALTHY, 1.25),
    goalMinutes: 15,
    goal: '<= 15 min',
  },
  regionStep10: {
    name: 'region path 80 ms, step +10 %',
    model: REGION_PATH,
    labels: REGION_LABELS,
    onset: HEALTHY,
    minutes: HEALTHY + 60,
    degradation: step(HEALTHY, 1.1),
    goalMinutes: 30,
    goal: '<= 30 min',
  },
  // Goal: before the truth passes +30 %, 108 minutes into a ramp to x2 over 6 hours.
  azRamp2x: {
    name: 'AZ path, ramp to x2 over 6 h',
    model: AZ_PATH,
    labels: AZ_LABELS,
    onset: HEALTHY,
    minutes: HEALTHY + 240,
    degradation: ramp(HEALTHY, 2, 360),
    goalMinutes: 108,
    goal: 'before +30 % (108 min)',
  },
  // Goal: before +30 %, 216 minutes into a ramp to +50 % over 6 hours.
  regionRamp50: {
    name: 'region path, ramp to +50 % over 6 h',
    model: REGION_PATH,
    labels: REGION_LABELS,
    onset: HEALTHY,
    minutes: HEALTHY + 240,
    degradation: ramp(HEALTHY, 1.5, 360),
    goalMinutes: 216,
    goal: 'before +30 % (216 min)',
  },
  azLoss: {
    name: 'AZ path, loss 0.1 % -> 10 % of attempts',
    model: AZ_PATH,
    labels: AZ_LABELS,
    onset: HEALTHY,
    minutes: HEALTHY + 60,
    change: { at: HEALTHY, model: { lossProb: 0.1 } },
    detectedBy: /^ProbeLossOnset$/,
    goalMinutes: 15,
    goal: '<= 15 min',
  },
  // Queues filling: the queueing delay's mean from 0.1 to 0.5 ms (jitter from about 0.1 to 0.5 ms).
  azJitter: {
    name: 'AZ path, queueing 0.1 -> 0.5 ms (jitter)',
    model: AZ_PATH,
    labels: AZ_LABELS,
    onset: HEALTHY,
    minutes: HEALTHY + 60,
    change: { at: HEALTHY, model: { queueMs: 0.5 } },
    detectedBy: /^ProbeJitterOnset$/,
    goalMinutes: 30,
    goal: '<= 30 min',
  },
} as const satisfies Record<string, Scenario>;

/** The alerts of the detection rules. */
export const DETECTION_ALERTS = [
  'ProbeLatencyStep',
  'ProbeLatencyDrift',
  'ProbeLossOnset',
  'ProbeJitterOnset',
  'ProbeTargetDegraded',
  'ProbeSourceAzDegraded',
  'ProbeRegionPairDegraded',
] as const;

/** Selector of the firing detection alerts, for `promql_expr_test`. */
export const FIRING_DETECTION = `ALERTS{alertstate="firing", alertname=~"${DETECTION_ALERTS.join('|')}"}`;
