/**
 * The detection rules of lib/observability/rules/probes.yml (group `probe-detection`) on the written
 * noise model (test/support/noise.ts): the scenarios of issue 17 generated into a `promtool test rules`
 * file in a temp dir and run by promtool. Assertions are promtool's own: which alerts fire at which
 * minute (`ALERTS` as the rules wrote it), and that none fires on noise alone.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { dashboardQueries, interpolate } from '../../../lib/observability/dashboards/inspect.ts';
import { networkDashboard } from '../../../lib/observability/dashboards/network.ts';
import { RULES_DIR } from '../../../lib/observability/monitoring-stack.ts';
import { allContext } from '../../grafana/support/dashboard-check.ts';
import {
  AZ_LABELS,
  AZ_PATH,
  DAY,
  FIRING_DETECTION,
  inputSeries,
  type PathLabels,
  type PromtoolTest,
  promtoolFile,
  REGION_LABELS,
  REGION_PATH,
  SCENARIOS,
  type Scenario,
  simulate,
} from '../../support/noise.ts';

const dir = mkdtempSync(join(tmpdir(), 'observatory-detection-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs promtool on one generated test group; returns its output and wall time. */
function promtool(name: string, test: PromtoolTest): { status: number | null; output: string; ms: number } {
  const file = join(dir, `${name}.test.yml`);
  writeFileSync(file, promtoolFile(join(RULES_DIR, 'probes.yml'), [test]));
  const started = performance.now();
  const res = spawnSync('promtool', ['test', 'rules', file], { encoding: 'utf8' });
  return { status: res.status, output: res.stdout + res.stderr, ms: performance.now() - started };
}

/** `ALERTS{...}` as promtool prints an expected sample. */
const alertSample = (labels: PathLabels & Record<string, string>) =>
  `ALERTS{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ')}}`;

/** The scenario's input with checks: nothing fires before the onset, `checks` after it. */
function scenarioTest(s: Scenario, seed: number, checks: unknown[]): PromtoolTest {
  return {
    interval: '1m',
    input_series: inputSeries([
      { labels: s.labels, series: simulate(s.model, s.minutes, seed, s.degradation) },
    ]),
    promql_expr_test: [
      {
        expr: `count_over_time(${FIRING_DETECTION}[${s.onset}m])`,
        eval_time: `${s.onset}m`,
        exp_samples: [],
      },
      ...checks,
    ],
  };
}

describe('detection rules on the noise model (promtool)', () => {
  it.each([
    ['a +25 % step on an AZ path within 15 minutes', SCENARIOS.azStep25, AZ_LABELS, ['warning']],
    ['a +10 % step on a region path within 30 minutes', SCENARIOS.regionStep10, REGION_LABELS, ['warning']],
    // Critical beside its warning, which Alertmanager inhibits.
    [
      'a x2 step on an AZ path within 15 minutes, as critical',
      SCENARIOS.azStep2x,
      AZ_LABELS,
      ['critical', 'warning'],
    ],
  ] as const)('detects %s', { timeout: 300_000 }, (_name, s, labels, severities) => {
    const { status, output } = promtool(
      s.name.replace(/\W+/g, '-'),
      scenarioTest(s, 17, [
        {
          expr: 'ALERTS{alertname="ProbeLatencyStep", alertstate="firing"}',
          eval_time: `${s.onset + s.goalMinutes}m`,
          exp_samples: severities.map((severity) => ({
            labels: alertSample({
              alertname: 'ProbeLatencyStep',
              alertstate: 'firing',
              ...labels,
              locus: 'path',
              scope: 'source_az',
              severity,
              signal: 'latency',
            }),
            value: 1,
          })),
        },
      ]),
    );
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
  });

  it('detects a ramp to x2 over 6 hours on an AZ path before it passes +30 %', () => {
    const s = SCENARIOS.azRamp2x;
    const { status, output } = promtool(
      'az-ramp',
      scenarioTest(s, 17, [
        {
          expr: 'group(ALERTS{alertstate="firing", signal="latency"})',
          eval_time: `${s.onset + s.goalMinutes - 1}m`,
          exp_samples: [{ labels: '{}', value: 1 }],
        },
      ]),
    );
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
  }, 300_000);

  it('raises no latency, loss or jitter alert over five days of noise alone on an AZ and a region path', () => {
    const minutes = 5 * DAY;
    const { status, output, ms } = promtool('noise-5d', {
      interval: '1m',
      input_series: inputSeries([
        { labels: AZ_LABELS, series: simulate(AZ_PATH, minutes, 5) },
        { labels: REGION_LABELS, series: simulate(REGION_PATH, minutes, 6) },
      ]),
      promql_expr_test: [
        {
          expr: `count_over_time(${FIRING_DETECTION}[${minutes}m])`,
          eval_time: `${minutes}m`,
          exp_samples: [],
        },
        // The baselines were learnt (the silence is not for want of one).
        {
          expr: 'count(path:probe_tcp_connect_p50_seconds:baseline3d) + count(path:probe_jitter_seconds:baseline1d) + count(path:probe_loss_ratio:baseline1d)',
          eval_time: `${minutes}m`,
          exp_samples: [{ labels: '{}', value: 6 }],
        },
      ],
    });
    console.log(`promtool, five days of two paths: ${(ms / 1000).toFixed(1)} s`);
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
  }, 300_000);

  it('shows each locus on the network dashboard: its degradation panels over the localization cases of probes.test.yml', () => {
    // The hand-written detection case (drift-db, cache, web, s3a/b, eu-a/b, mq, jit), its input as is.
    const cases = (
      parse(readFileSync(join(RULES_DIR, 'probes.test.yml'), 'utf8')) as { tests: PromtoolTest[] }
    ).tests.find((t) => t.input_series.some((i) => i.series.includes('target="drift-db"')));
    expect(cases).toBeDefined();
    const network = networkDashboard();
    const panel = (title: string) => {
      const q = dashboardQueries(network.dashboard).find((x) => x.panelTitle === title);
      if (!q) throw new Error(`no panel ${title}`);
      return interpolate(q.expr, allContext(network));
    };
    const { status, output } = promtool('dashboard-locus', {
      interval: '1m',
      input_series: cases!.input_series,
      promql_expr_test: [
        {
          expr: panel('Degraded paths by locus'),
          eval_time: '2330m',
          exp_samples: [
            { labels: '{locus="path", signal="latency"}', value: 2 },
            { labels: '{locus="target", signal="latency"}', value: 2 },
            { labels: '{locus="source_az", signal="latency"}', value: 2 },
            { labels: '{locus="region_pair", signal="latency"}', value: 4 },
            { labels: '{locus="path", signal="loss"}', value: 2 },
            { labels: '{locus="path", signal="jitter"}', value: 1 },
          ],
        },
        {
          expr: `count by (locus, signal, source_region, target_region) (${panel('Degraded now')})`,
          eval_time: '2330m',
          exp_samples: [
            { labels: '{locus="path", signal="latency", source_region="eu-west-1"}', value: 2 },
            { labels: '{locus="target", signal="latency", source_region="eu-west-1"}', value: 2 },
            { labels: '{locus="source_az", signal="latency", source_region="eu-west-1"}', value: 2 },
            {
              labels:
                '{locus="region_pair", signal="latency", source_region="us-east-1", target_region="eu-west-1"}',
              value: 4,
            },
            { labels: '{locus="path", signal="loss", source_region="eu-west-1"}', value: 2 },
            { labels: '{locus="path", signal="jitter", source_region="eu-west-1"}', value: 1 },
          ],
        },
      ],
    });
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
  }, 300_000);
});
