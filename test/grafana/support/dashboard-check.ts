/**
 * Checks dashboards against the series the project produces: every metric a panel or variable query
 * reads must be produced, and every label it matches, groups by or shows in a legend must be on the
 * series it reads. Also Grafana's interval arithmetic and value escaping, to run queries as Grafana would.
 */
import type { DashboardDefinition } from '../../../lib/observability/dashboards/common.ts';
import {
  dashboardQueries,
  dashboardVariables,
  durationSeconds,
  type InterpolationContext,
  interpolate,
  legendLabels,
  parseLabelValues,
  promqlReferences,
} from '../../../lib/observability/dashboards/inspect.ts';

/** Metric name -> every label name seen on its series. */
export type SeriesIndex = Map<string, Set<string>>;

/** Indexes produced samples by metric name. */
export function seriesIndex(
  samples: Iterable<{ name: string; labels: Readonly<Record<string, string>> }>,
): SeriesIndex {
  const index: SeriesIndex = new Map();
  for (const s of samples) {
    const labels = index.get(s.name) ?? new Set<string>();
    index.set(s.name, labels);
    for (const l of Object.keys(s.labels)) labels.add(l);
  }
  return index;
}

/** The context used for static checks: every variable at All. */
export function allContext(definition: DashboardDefinition): InterpolationContext {
  const variables = Object.fromEntries(
    dashboardVariables(definition.dashboard).map((v) => [v.name, v.allValue ?? '.*']),
  );
  return { variables, interval: '1m', rateInterval: '4m', rangeSeconds: 3 * 3600 };
}

function check(
  where: string,
  expr: string,
  extraLabels: readonly string[],
  index: SeriesIndex,
  problems: string[],
): void {
  const refs = promqlReferences(expr);
  const available = new Set<string>();
  for (const m of refs.metrics) {
    const labels = index.get(m);
    if (!labels) problems.push(`${where}: metric ${m} is produced by nothing`);
    else for (const l of labels) available.add(l);
  }
  if (refs.metrics.length === 0) problems.push(`${where}: query reads no metric: ${expr}`);
  for (const l of new Set([...refs.labels, ...extraLabels])) {
    if (l !== '__name__' && !available.has(l)) {
      problems.push(`${where}: label ${l} is on no series of ${refs.metrics.join(', ') || '(nothing)'}`);
    }
  }
}

/**
 * Every reference to a metric or label that nothing produces, as readable lines (empty when sound).
 * @param definitions the dashboards
 * @param index the produced series
 */
export function referenceProblems(definitions: readonly DashboardDefinition[], index: SeriesIndex): string[] {
  const problems: string[] = [];
  for (const d of definitions) {
    const ctx = allContext(d);
    for (const v of dashboardVariables(d.dashboard)) {
      if (v.query === undefined) continue;
      const where = `${d.uid} variable ${v.name}`;
      let parsed: ReturnType<typeof parseLabelValues>;
      try {
        parsed = parseLabelValues(interpolate(v.query, ctx));
      } catch (err) {
        problems.push(`${where}: ${(err as Error).message}`);
        continue;
      }
      check(where, parsed.selector ?? '', [parsed.label], index, problems);
    }
    for (const q of dashboardQueries(d.dashboard)) {
      const where = `${d.uid} panel ${q.panelId} "${q.panelTitle}" ${q.refId}`;
      let expr: string;
      try {
        expr = interpolate(q.expr, ctx);
      } catch (err) {
        problems.push(`${where}: ${(err as Error).message}`);
        continue;
      }
      check(where, expr, legendLabels(q.legendFormat), index, problems);
    }
  }
  return problems;
}

const NICE = ['1m', '2m', '5m', '10m', '15m', '30m', '1h', '2h', '3h', '6h', '12h', '1d'];

/**
 * `$__interval` as Grafana computes it for a panel: the range over about 1000 points, rounded up to a
 * nice interval, never below the panel's minimum interval or the data source's 1m scrape interval.
 */
export function grafanaInterval(rangeSeconds: number, minInterval?: string): string {
  const floor = Math.max(60, minInterval ? durationSeconds(minInterval) : 0);
  const wanted = Math.max(floor, rangeSeconds / 1000);
  return NICE.find((n) => durationSeconds(n) >= wanted) ?? '1d';
}

/** `$__rate_interval`: max(`$__interval` + scrape interval, 4 x scrape interval), scrape interval 1m. */
export function grafanaRateInterval(interval: string): string {
  return `${Math.max(durationSeconds(interval) + 60, 240)}s`;
}

/**
 * A single value of a multi-value variable as Grafana's Prometheus data source puts it in a regex
 * matcher: regex metacharacters escaped, backslashes doubled for the PromQL string.
 */
export function regexValue(value: string): string {
  return value.replace(/[\\^$*+?.()|[\]{}]/g, '\\\\$&');
}
