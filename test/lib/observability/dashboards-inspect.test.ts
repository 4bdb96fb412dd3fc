/**
 * Reading dashboards back: PromQL name extraction, Grafana variable interpolation, label_values
 * parsing, and the shape every exported dashboard must have to import cleanly.
 */
import { describe, expect, it } from 'vitest';
import { DATASOURCE, DATASOURCE_UID } from '../../../lib/observability/dashboards/common.ts';
import { buildDashboards } from '../../../lib/observability/dashboards/index.ts';
import {
  dashboardQueries,
  dashboardVariables,
  durationSeconds,
  interpolate,
  legendLabels,
  parseLabelValues,
  promqlReferences,
} from '../../../lib/observability/dashboards/inspect.ts';

describe('promqlReferences', () => {
  it('finds metric names and label names, not functions, aggregations, keywords or values', () => {
    expect(
      promqlReferences(
        'sum by (source_az, target) (rate(probe_tcp_attempts{kind="tcp", target=~"a|b"}[5m])) / on (target) group_left(kind) max without (address) (probe_success offset 5m) > bool 0.5',
      ),
    ).toEqual({
      metrics: ['probe_success', 'probe_tcp_attempts'],
      labels: ['address', 'kind', 'source_az', 'target'],
    });
  });

  it('reads aggregations written with the grouping after the body, subqueries and __name__ matchers', () => {
    expect(
      promqlReferences(
        'topk by (execution) (1, max_over_time(timestamp(msk_rollback_phase{x!~"y"})[3h:1m])) and {__name__="up"}',
      ),
    ).toEqual({ metrics: ['msk_rollback_phase', 'up'], labels: ['execution', 'x'] });
    expect(promqlReferences('sum(a_total) by (job) * 86400 - time()')).toEqual({
      metrics: ['a_total'],
      labels: ['job'],
    });
  });

  it('reads legend labels', () => {
    expect(legendLabels('{{source_az}} → {{ target }}')).toEqual(['source_az', 'target']);
    expect(legendLabels(undefined)).toEqual([]);
  });
});

describe('interpolate', () => {
  const ctx = {
    variables: { region: '.*', az: 'eu-west-1a' },
    interval: '2m',
    rateInterval: '4m',
    rangeSeconds: 10_800,
  };

  it('substitutes built-ins and every variable syntax Grafana accepts', () => {
    expect(
      interpolate(
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax under test
        'x{r=~"$region", a=~"${az}", b="[[az]]", c=~"${region:regex}"}[$__rate_interval] $__interval $__interval_ms $__range $__range_s',
        ctx,
      ),
    ).toBe('x{r=~".*", a=~"eu-west-1a", b="eu-west-1a", c=~".*"}[4m] 2m 120000 10800s 10800');
  });

  it('fails on a variable the dashboard does not define', () => {
    expect(() => interpolate('x{t=~"$target"}', ctx)).toThrow('query refers to undefined variable $target');
  });

  it('parses durations the way Prometheus writes them', () => {
    expect(durationSeconds('1h30m')).toBe(5400);
    expect(durationSeconds('26h')).toBe(93_600);
    expect(() => durationSeconds('5 minutes')).toThrow('invalid duration "5 minutes"');
  });
});

describe('parseLabelValues', () => {
  it('reads both forms of label_values and rejects other variable queries', () => {
    expect(parseLabelValues('label_values(probe_success{a="b, c"}, source_az)')).toEqual({
      selector: 'probe_success{a="b, c"}',
      label: 'source_az',
    });
    expect(parseLabelValues('label_values(account)')).toEqual({ label: 'account' });
    expect(() => parseLabelValues('query_result(up)')).toThrow(
      'unsupported variable query "query_result(up)"',
    );
  });
});

describe('exported dashboards', () => {
  const dashboards = buildDashboards();

  it('are Network, MSK replication, Utilization and Pipeline health, with unique stable uids', () => {
    expect(dashboards.map((d) => d.uid)).toEqual([
      'observatory-network',
      'observatory-msk-replication',
      'observatory-utilization',
      'observatory-pipeline-health',
    ]);
    expect(dashboards.map((d) => d.fileName)).toEqual(dashboards.map((d) => `${d.uid}.json`));
  });

  it('give every panel a unique id and every query a refId and the datasource variable', () => {
    for (const d of dashboards) {
      const ids = (d.dashboard.panels ?? []).map((p) => p.id);
      expect(new Set(ids).size, d.uid).toBe(ids.length);
      for (const p of d.dashboard.panels ?? []) {
        for (const t of (p as { targets?: { refId?: string; datasource?: unknown }[] }).targets ?? []) {
          expect(t.refId).toMatch(/^[A-Z]$/);
          expect(t.datasource).toEqual({ type: 'prometheus', uid: DATASOURCE.uid });
        }
      }
      expect(d.dashboard.id).toBeNull();
    }
  });

  it('lay every panel out inside the 24-column grid without overlaps, and give repeated panels a row of their own', () => {
    for (const d of dashboards) {
      const panels = (d.dashboard.panels ?? []).map((p) => ({
        ...p.gridPos!,
        title: p.title,
        type: p.type,
        repeat: (p as { repeat?: string }).repeat,
      }));
      for (const p of panels) expect(p.x + p.w, `${d.uid} ${p.title}`).toBeLessThanOrEqual(24);
      for (const [i, a] of panels.entries()) {
        for (const b of panels.slice(i + 1)) {
          const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
          expect(overlap, `${d.uid}: "${a.title}" overlaps "${b.title}"`).toBe(false);
        }
        if (a.repeat) {
          const sameRow = panels.filter(
            (o) => o !== a && o.type !== 'row' && o.y < a.y + a.h && a.y < o.y + o.h,
          );
          expect(sameRow, `${d.uid}: "${a.title}" repeats into other panels`).toEqual([]);
        }
      }
    }
  });

  it('default the datasource variable to the published AMP data source', () => {
    for (const d of dashboards) {
      const ds = d.dashboard.templating.list?.find((v) => v.name === 'datasource');
      expect(ds).toMatchObject({
        type: 'datasource',
        query: 'prometheus',
        current: { value: DATASOURCE_UID },
      });
    }
  });

  it('offer region, AZ, target and account variables where the data has them', () => {
    const names = (uid: string) =>
      dashboardVariables(dashboards.find((d) => d.uid === uid)!.dashboard).map((v) => v.name);
    expect(names('observatory-network')).toEqual(['datasource', 'region', 'az', 'target', 'tcp_target']);
    expect(names('observatory-utilization')).toEqual(['datasource', 'account', 'service', 'region']);
    expect(names('observatory-msk-replication')).toEqual(['datasource', 'execution', 'topic']);
    expect(names('observatory-pipeline-health')).toEqual(['datasource', 'region', 'component', 'function']);
  });

  it('are built the same way every time (stable files, clean diffs)', () => {
    expect(JSON.stringify(buildDashboards())).toBe(JSON.stringify(dashboards));
    expect(dashboards.reduce((n, d) => n + dashboardQueries(d.dashboard).length, 0)).toBeGreaterThan(70);
  });
});
