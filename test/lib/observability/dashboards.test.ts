/**
 * Every query of every dashboard panel, run against a real Prometheus loaded with samples the project
 * itself produced: probe runs against loopback servers, utilization batches through the store path and
 * the report built from PostgreSQL, and a simulated MSK rollback execution with MirrorMaker 2's MBeans
 * run through the image's JMX exporter rules; every function's self-monitoring samples with them. All of
 * it reaches Prometheus through the project's remote-write client.
 *
 * A panel query that errors, returns nothing, or names a metric or label nothing produces fails here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { RemoteWriteClient, type Sample } from '../../../lambdas/shared/remote-write.ts';
import { SELF_METRICS } from '../../../lambdas/shared/self-metrics.ts';
import { adotCollectorConfig } from '../../../lib/msk-rollback/adot-config.ts';
import type { DashboardDefinition } from '../../../lib/observability/dashboards/common.ts';
import { buildDashboards, MM2_METRICS } from '../../../lib/observability/dashboards/index.ts';
import {
  dashboardQueries,
  dashboardVariables,
  durationSeconds,
  type InterpolationContext,
  interpolate,
  parseLabelValues,
  promqlReferences,
} from '../../../lib/observability/dashboards/inspect.ts';
import { listRuleFiles } from '../../../lib/observability/monitoring-stack.ts';
import {
  grafanaInterval,
  grafanaRateInterval,
  referenceProblems,
  regexValue,
  seriesIndex,
} from '../../grafana/support/dashboard-check.ts';
import { readJmxExporterConfig } from '../../grafana/support/jmx-exporter.ts';
import {
  type MskSimulation,
  type SidecarLabels,
  simulateRollback,
} from '../../grafana/support/produce-msk.ts';
import { produceProbeSamples } from '../../grafana/support/produce-probes.ts';
import { produceUtilizationSamples } from '../../grafana/support/produce-utilization.ts';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.ts';
import { type LocalPrometheus, startPrometheus } from '../../support/prometheus.ts';

/** The JMX exporter config baked into the MM2 image. */
const JMX_EXPORTER_CONFIG = join(import.meta.dirname, '../../../lib/msk-rollback/mm2-image/jmx-exporter.yml');

/** The labels the ADOT sidecar adds, read from its rendered config. */
function sidecarLabels(): SidecarLabels {
  const config = parse(
    adotCollectorConfig('https://aps-workspaces.eu-west-1.amazonaws.com/x', 'eu-west-1'),
  ) as {
    receivers: {
      prometheus: {
        config: { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };
      };
    };
    exporters: { prometheusremotewrite: { external_labels: Record<string, string> } };
  };
  const scrape = config.receivers.prometheus.config.scrape_configs[0]!;
  return {
    job: scrape.job_name,
    instance: scrape.static_configs[0]!.targets[0]!,
    external: Object.keys(config.exporters.prometheusremotewrite.external_labels),
  };
}

const dashboards = buildDashboards();

/**
 * Series the shipped rule files record (`path:probe_degraded:locus`, ...). They need days of history
 * to exist, so no sample here holds them: a panel query that reads only these is run by promtool over
 * the rules' own output instead (test/lib/observability/detection.test.ts), and skipped below.
 */
const RECORDED = new Set(
  listRuleFiles().flatMap((file) =>
    (parse(readFileSync(file, 'utf8')) as { groups: { rules: { record?: string }[] }[] }).groups.flatMap(
      (g) => g.rules.flatMap((r) => r.record ?? []),
    ),
  ),
);
const readsOnlyRecorded = (expr: string) => {
  const { metrics } = promqlReferences(expr.replace(/\$\w+/g, '5m'));
  return metrics.length > 0 && metrics.every((m) => RECORDED.has(m));
};
/** `uid panel id "title" refId` of the panel queries that read only recorded series. */
const recordedQueries = dashboards.flatMap((d) =>
  dashboardQueries(d.dashboard)
    .filter((q) => readsOnlyRecorded(q.expr))
    .map((q) => `${d.uid} panel ${q.panelId} "${q.panelTitle}" ${q.refId}`),
);
/** A reference problem of a query that does not read only recorded series. */
const notRecorded = (problem: string) => !recordedQueries.some((q) => problem.startsWith(`${q}:`));

/** The dashboard's default time range in seconds (`now-3h` -> 10800). */
function rangeOf(d: DashboardDefinition): number {
  const from = d.dashboard.time?.from ?? 'now-6h';
  const m = /^now-(\w+)$/.exec(from);
  if (!m) throw new Error(`dashboard ${d.uid} has time.from ${from}, expected now-<duration>`);
  return durationSeconds(m[1]!);
}

describe('dashboards over data the project produced', () => {
  let prom: LocalPrometheus;
  let pg: TestDatabase;
  let produced: Sample[] = [];
  let msk: MskSimulation;
  let now: Date;

  beforeAll(async () => {
    prom = await startPrometheus();
    pg = await createTestDatabase();
    const client = new RemoteWriteClient({ url: prom.remoteWriteUrl, sigv4: false });
    const probes = await produceProbeSamples(client);
    const utilization = await produceUtilizationSamples(pg, client);
    msk = simulateRollback(readJmxExporterConfig(JMX_EXPORTER_CONFIG), sidecarLabels(), Date.now() - 30_000);
    const written = await client.write(msk.samples, { deadline: Date.now() + 20_000 });
    if (!written.ok)
      throw new Error(`msk samples were not written: ${JSON.stringify(written.failures[0]?.body)}`);
    produced = [...probes, ...utilization, ...msk.samples];
    now = new Date();
  }, 180_000);

  afterAll(async () => {
    await prom?.stop();
    await pg?.drop();
  });

  it('produced a full set of sources: probes from four AZs, both utilization accounts, a rollback that restarted and drained', () => {
    const values = (name: string, label: string) =>
      new Set(produced.filter((s) => s.name === name).map((s) => s.labels[label]));
    expect(values('probe_success', 'source_az')).toEqual(
      new Set(['eu-west-1a', 'eu-west-1b', 'eu-west-1c', 'us-east-1a']),
    );
    expect(values('probe_success', 'target_az')).toEqual(
      new Set([undefined, 'eu-west-1a', 'eu-west-1b', 'eu-west-1c']),
    );
    expect(values('probe_failure_reason', 'reason')).toEqual(new Set(['refused', 'status']));
    expect(values('utilization_underused_resources', 'account')).toEqual(
      new Set(['111111111111', '222222222222']),
    );
    expect(msk.actions).toContain('restart');
    expect(msk.actions).toContain('converged');
    expect(msk.actions.at(-1)).toBe('drained');
    expect(values(SELF_METRICS.runSuccess, 'component')).toEqual(
      new Set(['probes', 'utilization', 'msk-rollback']),
    );
  });

  it('every metric and label a panel, legend or variable refers to is on a series the project produces', () => {
    expect(referenceProblems(dashboards, seriesIndex(produced)).filter(notRecorded)).toEqual([]);
  });

  it('reads the MirrorMaker 2 series by the names the JMX exporter rules of the MM2 image give them', () => {
    const used = new Set(
      dashboards.flatMap((d) =>
        dashboardQueries(d.dashboard).flatMap(
          (q) => promqlReferences(q.expr.replace(/\$\w+/g, '5m')).metrics,
        ),
      ),
    );
    for (const name of Object.values(MM2_METRICS)) {
      expect(msk.mm2Names, `${name} is not produced by ${JMX_EXPORTER_CONFIG}`).toContain(name);
      expect(used.has(name), `MM2_METRICS.${name} is not used by any panel`).toBe(true);
    }
  });

  it('lists values for every variable from the produced series', async () => {
    const problems: string[] = [];
    for (const d of dashboards) {
      const range = rangeOf(d);
      const ctx = context(d, {}, range, '1m');
      for (const v of dashboardVariables(d.dashboard)) {
        if (v.query === undefined) continue;
        const values = await labelValues(interpolate(v.query, ctx), range);
        if (values.length === 0) problems.push(`${d.uid} variable ${v.name}: no values for ${v.query}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('runs every panel query without error and gets data, with every variable at All', async () => {
    const problems: string[] = [];
    let queries = 0;
    for (const d of dashboards) {
      const range = rangeOf(d);
      for (const q of dashboardQueries(d.dashboard)) {
        queries++;
        const interval = grafanaInterval(range, q.minInterval);
        const expr = interpolate(q.expr, context(d, {}, range, interval));
        const where = `${d.uid} panel ${q.panelId} "${q.panelTitle}" ${q.refId}`;
        if (recordedQueries.includes(where)) continue;
        try {
          const series = await run(expr, q.instant, range, interval);
          if (series === 0) problems.push(`${where}: no data for ${expr}`);
        } catch (err) {
          problems.push(`${where}: ${(err as Error).message} in ${expr}`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(queries).toBeGreaterThan(70);
  });

  it('runs every panel query without error with one produced value chosen for each variable', async () => {
    const problems: string[] = [];
    for (const d of dashboards) {
      const range = rangeOf(d);
      const chosen: Record<string, string> = {};
      for (const v of dashboardVariables(d.dashboard)) {
        if (v.query === undefined) continue;
        const values = await labelValues(interpolate(v.query, context(d, chosen, range, '1m')), range);
        chosen[v.name] = regexValue(values[0] ?? '');
      }
      for (const q of dashboardQueries(d.dashboard)) {
        const interval = grafanaInterval(range, q.minInterval);
        const expr = interpolate(q.expr, context(d, chosen, range, interval));
        try {
          await run(expr, q.instant, range, interval);
        } catch (err) {
          problems.push(`${d.uid} panel ${q.panelId} ${q.refId}: ${(err as Error).message} in ${expr}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('shows what the produced data implies: the AZ matrix, certificate days, findings per account, a drained rollback', async () => {
    const panel = async (uid: string, title: string, at = now) => {
      const d = dashboards.find((x) => x.uid === uid)!;
      const q = dashboardQueries(d.dashboard).find((x) => x.panelTitle === title)!;
      const range = rangeOf(d);
      return prom.query(interpolate(q.expr, context(d, {}, range, '1m')), at);
    };

    const matrix = await panel('observatory-network', 'Success, source AZ to target AZ');
    const pairs = matrix.map((r) => `${r.metric.source_az}>${r.metric.target_az}`).sort();
    // Every eu-west-1 AZ reaches every AZ of the mesh; us-east-1a reaches the one target with a known AZ.
    expect(pairs).toEqual(
      [
        ...['a', 'b', 'c'].flatMap((s) => ['a', 'b', 'c'].map((t) => `eu-west-1${s}>eu-west-1${t}`)),
        'us-east-1a>eu-west-1b',
      ].sort(),
    );
    expect(matrix.every((r) => Number(r.value[1]) === 1)).toBe(true);

    const [certDays] = await panel('observatory-network', 'Earliest certificate expiry');
    expect(Number(certDays!.value[1])).toBeGreaterThan(44);
    expect(Number(certDays!.value[1])).toBeLessThanOrEqual(45);

    const findings = await panel('observatory-utilization', 'Under-used resources by service and account');
    const byShard = Object.fromEntries(
      findings.map((r) => [`${r.metric.service}/${r.metric.account}`, Number(r.value[1])]),
    );
    expect(byShard).toEqual({
      'ec2/111111111111': 1,
      'ec2/222222222222': 1,
      'rds/111111111111': 1,
      'rds/222222222222': 0,
    });

    const [lag] = await panel('observatory-msk-replication', 'Total lag');
    expect(Number(lag!.value[1])).toBe(0);
    const [phase] = await panel('observatory-msk-replication', 'Phase');
    expect(phase!.metric.phase).toBe('drain');
    // Remaining records and ETA per execution: nothing left and no time to go once drained.
    // (time series panels: read at the drained execution's last poll)
    const lastPoll = new Date(
      Math.max(
        ...produced.filter((p) => p.name === 'msk_rollback_remaining_records').map((p) => p.timestampMs),
      ),
    );
    const [remaining] = await panel('observatory-msk-replication', 'Remaining records', lastPoll);
    expect(remaining!.metric.execution).toBe('orders-to-v3-20250106');
    expect(Number(remaining!.value[1])).toBe(0);
    const [eta] = await panel('observatory-msk-replication', 'ETA', lastPoll);
    expect(Number(eta!.value[1])).toBe(0);
  });

  it('reports a panel that reads a metric nothing produces, or a label its series lack', () => {
    const broken = structuredClone(dashboards[0]!);
    const panel = broken.dashboard.panels!.find((p) => 'targets' in p && p.targets?.length) as unknown as {
      targets: { expr: string; legendFormat?: string }[];
    };
    panel.targets[0]!.expr = 'sum by (source_zone) (probe_sucess{source_region=~"$region"})';
    const other = structuredClone(dashboards[1]!);
    const withLegend = other.dashboard.panels!.find(
      (p) => 'targets' in p && p.targets?.length,
    ) as unknown as {
      targets: { expr: string; legendFormat?: string }[];
    };
    withLegend.targets[0]!.legendFormat = '{{broker}}';

    const problems = referenceProblems([broken, other], seriesIndex(produced)).filter(notRecorded);

    expect(problems).toEqual([
      expect.stringMatching(
        /^observatory-network panel \d+ ".+" A: metric probe_sucess is produced by nothing$/,
      ),
      expect.stringMatching(
        /^observatory-network panel \d+ ".+" A: label source_region is on no series of probe_sucess$/,
      ),
      expect.stringMatching(
        /^observatory-network panel \d+ ".+" A: label source_zone is on no series of probe_sucess$/,
      ),
      expect.stringMatching(
        /^observatory-msk-replication panel \d+ ".+" A: label broker is on no series of msk_rollback_phase$/,
      ),
    ]);
  });

  function context(
    d: DashboardDefinition,
    chosen: Record<string, string>,
    rangeSeconds: number,
    interval: string,
  ): InterpolationContext {
    const variables: Record<string, string> = {};
    for (const v of dashboardVariables(d.dashboard)) variables[v.name] = chosen[v.name] ?? v.allValue ?? '.*';
    return { variables, interval, rateInterval: grafanaRateInterval(interval), rangeSeconds };
  }

  /** Runs a query as Grafana would; resolves with the number of series returned. */
  async function run(
    expr: string,
    instant: boolean,
    rangeSeconds: number,
    interval: string,
  ): Promise<number> {
    if (instant) return (await prom.query(expr, now)).length;
    const start = new Date(now.getTime() - rangeSeconds * 1000);
    const series = await prom.queryRange(expr, start, now, durationSeconds(interval));
    return series.filter((s) => s.values.length > 0).length;
  }

  /** What Grafana asks for a `label_values(selector, label)` variable: the label's values among matching series. */
  async function labelValues(query: string, rangeSeconds: number): Promise<string[]> {
    const { selector, label } = parseLabelValues(query);
    const params = new URLSearchParams({
      start: String(now.getTime() / 1000 - rangeSeconds),
      end: String(now.getTime() / 1000),
    });
    if (selector) params.append('match[]', selector);
    const res = await fetch(`${prom.url}/api/v1/label/${label}/values?${params}`);
    const body = (await res.json()) as { status: string; data: string[]; error?: string };
    if (body.status !== 'success') throw new Error(`label values of ${query} failed: ${body.error}`);
    return body.data;
  }
});
