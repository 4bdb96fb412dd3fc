/**
 * Building blocks shared by the dashboards: the data source variable, label variables, query and
 * panel helpers over the Grafana Foundation SDK builders, and `finalize`, which turns a builder into
 * the JSON Grafana imports (stable panel IDs, refIds and data source on every query).
 */
import { PanelBuilder as BarGaugePanel } from '@grafana/grafana-foundation-sdk/bargauge';
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import {
  BarGaugeDisplayMode,
  type DataSourceRef,
  GraphDrawStyle,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  StackingConfigBuilder,
  StackingMode,
  VizLegendOptionsBuilder,
  VizOrientation,
} from '@grafana/grafana-foundation-sdk/common';
import {
  type Dashboard,
  DashboardBuilder,
  DashboardCursorSync,
  DashboardLinkBuilder,
  DashboardLinkType,
  DatasourceVariableBuilder,
  type DataTransformerConfig,
  type Panel,
  QueryVariableBuilder,
  type Threshold,
  type ThresholdsConfig,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableHide,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';

/** UID of the AMP data source the publisher creates; dashboards default to it. */
export const DATASOURCE_UID = 'observatory-amp';
/** Name of that data source in Grafana. */
export const DATASOURCE_NAME = 'Infra Observatory (AMP)';
/** Tag on every dashboard of the project; the dashboards link to each other through it. */
export const DASHBOARD_TAG = 'infra-observatory';

/** Every query and panel goes through the `datasource` variable, so an imported file can pick its own. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JavaScript template
export const DATASOURCE: DataSourceRef = { type: 'prometheus', uid: '${datasource}' };

/** A dashboard ready to import or publish. */
export interface DashboardDefinition {
  /** Grafana UID, stable: the publisher upserts and deletes by it. */
  readonly uid: string;
  readonly title: string;
  /** File name of the export, `<uid>.json`. */
  readonly fileName: string;
  /** The dashboard model, as `POST /api/dashboards/db` takes it in `dashboard`. */
  readonly dashboard: Dashboard;
}

/**
 * A new dashboard with the house defaults: read-only in the UI (it is code), browser time zone,
 * one-minute refresh, links to the other project dashboards and the `datasource` variable.
 * @param uid stable UID
 * @param title title
 * @param description what the dashboard answers
 */
export function baseDashboard(uid: string, title: string, description: string): DashboardBuilder {
  return new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags([DASHBOARD_TAG])
    .readonly()
    .timezone('browser')
    .tooltip(DashboardCursorSync.Crosshair)
    .refresh('1m')
    .time({ from: 'now-3h', to: 'now' })
    .link(
      new DashboardLinkBuilder('Infra Observatory')
        .type(DashboardLinkType.Dashboards)
        .tags([DASHBOARD_TAG])
        .asDropdown(true)
        .includeVars(false)
        .keepTime(true),
    )
    .withVariable(
      new DatasourceVariableBuilder('datasource')
        .label('Data source')
        .type('prometheus')
        .current({ text: DATASOURCE_NAME, value: DATASOURCE_UID }),
    );
}

/** Options of {@link labelVariable}. */
export interface LabelVariableOptions {
  /** Shown name. @default - the variable name */
  readonly label?: string;
  /** @default VariableHide.DontHide */
  readonly hide?: VariableHide;
}

/**
 * A multi-value variable over the values of one label (`label_values(selector, label)`), with an
 * "All" option that matches everything, present or not (`.*`).
 * @param name variable name, used as `$name` in queries
 * @param selector series selector whose label values are listed
 * @param label the label
 */
export function labelVariable(
  name: string,
  selector: string,
  label: string,
  opts: LabelVariableOptions = {},
): QueryVariableBuilder {
  const query = `label_values(${selector}, ${label})`;
  return new QueryVariableBuilder(name)
    .label(opts.label ?? name)
    .hide(opts.hide ?? VariableHide.DontHide)
    .datasource(DATASOURCE)
    .query(query)
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ text: ['All'], value: ['$__all'] });
}

/** One PromQL query of a panel. */
export interface QuerySpec {
  readonly expr: string;
  /** Legend format, e.g. `{{target}}`. @default - Grafana's series name */
  readonly legend?: string;
  /** Evaluate at the end of the range only (stats, tables, bar gauges). @default false */
  readonly instant?: boolean;
  /** @default time_series */
  readonly format?: 'time_series' | 'table';
}

function target(spec: QuerySpec): DataqueryBuilder {
  const b = new DataqueryBuilder().datasource(DATASOURCE).expr(spec.expr);
  if (spec.legend !== undefined) b.legendFormat(spec.legend);
  if (spec.instant) b.instant();
  else b.range();
  if (spec.format === 'table') b.format(PromQueryFormat.Table);
  return b;
}

/** Common options of the panel helpers. */
export interface PanelOptions {
  /** Grafana unit id, e.g. `s`, `percentunit`, `short`. @default - none */
  readonly unit?: string;
  /** Width in grid columns (of 24). @default 12 */
  readonly width?: number;
  /** Height in grid rows. @default 8 */
  readonly height?: number;
  readonly min?: number;
  readonly max?: number;
  readonly decimals?: number;
  /** Threshold steps, first with `value: null` (the base colour). @default - green base only */
  readonly thresholds?: Threshold[];
  /** Text shown when the query returns nothing. @default - Grafana's "No data" */
  readonly noValue?: string;
  /** Repeat the panel for each value of this variable. @default - not repeated */
  readonly repeat?: string;
}

/**
 * Green below `value`, `color` from it on: the usual "anything here is a problem" stat.
 * @param value where the colour changes
 * @param color the colour from `value` on
 */
export function warnFrom(value: number, color: 'orange' | 'red' = 'red'): Threshold[] {
  return [
    { value: null, color: 'green' },
    { value, color },
  ];
}

function thresholds(steps: Threshold[] | undefined): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder()
    .mode(ThresholdsMode.Absolute)
    .steps(steps ?? [{ value: null, color: 'green' }]);
}

/** The builder methods every panel kind shares (timeseries, stat, table, bar gauge). */
interface CommonPanelBuilder<T> {
  unit(u: string): T;
  span(w: number): T;
  height(h: number): T;
  min(n: number): T;
  max(n: number): T;
  decimals(n: number): T;
  noValue(s: string): T;
  repeat(v: string): T;
  maxPerRow(n: number): T;
  thresholds(t: cog.Builder<ThresholdsConfig>): T;
  withTarget(t: cog.Builder<cog.Dataquery>): T;
}

function applyCommon<T extends CommonPanelBuilder<T>>(
  b: T,
  queries: readonly QuerySpec[],
  opts: PanelOptions,
): T {
  b.span(opts.width ?? 12).height(opts.height ?? 8);
  if (opts.unit !== undefined) b.unit(opts.unit);
  if (opts.min !== undefined) b.min(opts.min);
  if (opts.max !== undefined) b.max(opts.max);
  if (opts.decimals !== undefined) b.decimals(opts.decimals);
  if (opts.noValue !== undefined) b.noValue(opts.noValue);
  if (opts.repeat !== undefined)
    b.repeat(opts.repeat).maxPerRow(Math.max(1, Math.floor(24 / (opts.width ?? 12))));
  b.thresholds(thresholds(opts.thresholds));
  for (const q of queries) b.withTarget(target(q));
  return b;
}

/** Options of {@link timeseries}. */
export interface TimeseriesOptions extends PanelOptions {
  /** Stack the series. @default false */
  readonly stacked?: boolean;
  /** Draw bars instead of lines. @default false */
  readonly bars?: boolean;
  /** Legend calculations shown in a table legend, e.g. `['mean', 'max']`. @default ['mean', 'max', 'lastNotNull'] */
  readonly legendCalcs?: string[];
}

/**
 * A time series panel.
 * @param title panel title
 * @param description what the panel shows and where the data comes from
 * @param queries its queries
 */
export function timeseries(
  title: string,
  description: string,
  queries: readonly QuerySpec[],
  opts: TimeseriesOptions = {},
): TimeseriesPanel {
  const b = new TimeseriesPanel()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .lineWidth(1)
    .fillOpacity(opts.stacked ? 60 : 10)
    .legend(
      new VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(LegendDisplayMode.Table)
        .placement(LegendPlacement.Bottom)
        .calcs(opts.legendCalcs ?? ['mean', 'max', 'lastNotNull']),
    );
  if (opts.bars) b.drawStyle(GraphDrawStyle.Bars);
  if (opts.stacked) b.stacking(new StackingConfigBuilder().mode(StackingMode.Normal));
  return applyCommon(b, queries, opts);
}

/**
 * A single-value panel showing the last value of each series.
 * @param title panel title
 * @param description what the value means
 * @param queries its queries (usually one, instant)
 */
export function stat(
  title: string,
  description: string,
  queries: readonly QuerySpec[],
  opts: PanelOptions = {},
): StatPanel {
  const b = new StatPanel()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
  return applyCommon(b, queries, { width: 6, height: 4, ...opts });
}

/** Options of {@link table}. */
export interface TableOptions extends PanelOptions {
  /** Transformations applied in order, e.g. grouping to a matrix. @default - none */
  readonly transformations?: DataTransformerConfig[];
}

/**
 * A table panel over instant queries in table format.
 * @param title panel title
 * @param description what a row means
 * @param queries its queries (instant, table format)
 */
export function table(
  title: string,
  description: string,
  queries: readonly QuerySpec[],
  opts: TableOptions = {},
): TablePanel {
  const b = new TablePanel().title(title).description(description).datasource(DATASOURCE);
  for (const t of opts.transformations ?? []) b.withTransformation(t);
  return applyCommon(b, queries, opts);
}

/**
 * A horizontal bar gauge, one bar per series (last value).
 * @param title panel title
 * @param description what a bar means
 * @param queries its queries
 */
export function barGauge(
  title: string,
  description: string,
  queries: readonly QuerySpec[],
  opts: PanelOptions = {},
): BarGaugePanel {
  const b = new BarGaugePanel()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .orientation(VizOrientation.Horizontal)
    .displayMode(BarGaugeDisplayMode.Gradient)
    .showUnfilled(true)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
  return applyCommon(b, queries, opts);
}

/**
 * The "grouping to matrix" transformation: rows of `rowField`, columns of `columnField`, cells of
 * the query's value, for the AZ-to-AZ matrices.
 */
export function groupingToMatrix(rowField: string, columnField: string): DataTransformerConfig {
  return {
    id: 'groupingToMatrix',
    options: { rowField, columnField, valueField: 'Value', emptyValue: 'empty' },
  };
}

/** Type guard for row panels in a built dashboard. */
function isRow(p: { type: string }): p is { type: 'row'; panels?: Panel[] } & Panel {
  return p.type === 'row';
}

/**
 * Builds the dashboard and makes it import-ready: panel IDs from 1 in layout order, refIds A, B, ...
 * per panel, the `datasource` variable on every query, and a null dashboard ID (Grafana assigns it).
 * @param builder the dashboard builder
 */
export function finalize(builder: DashboardBuilder): DashboardDefinition {
  // A JSON round trip drops the SDK's marker methods, leaving exactly what Grafana stores.
  const dashboard = JSON.parse(JSON.stringify(builder.build())) as Dashboard;
  dashboard.id = null;
  let id = 1;
  const visit = (panel: Panel) => {
    panel.id = id++;
    (panel.targets ?? []).forEach((t, i) => {
      const q = t as { refId?: string; datasource?: DataSourceRef };
      q.refId = String.fromCharCode(65 + i);
      q.datasource = DATASOURCE;
    });
  };
  for (const p of dashboard.panels ?? []) {
    visit(p as Panel);
    if (isRow(p as Panel)) for (const child of (p as { panels?: Panel[] }).panels ?? []) visit(child);
  }
  const uid = dashboard.uid;
  if (!uid) throw new Error(`dashboard ${JSON.stringify(dashboard.title)} has no uid`);
  return { uid, title: dashboard.title ?? uid, fileName: `${uid}.json`, dashboard };
}
