/**
 * Reads dashboards back: every panel query and variable, Grafana's variable interpolation, and the
 * metric and label names a PromQL expression refers to. The dashboards test uses these to run every
 * query against a real Prometheus and to fail on a name nothing produces; the CLI prints them.
 */
import type { Dashboard, Panel } from '@grafana/grafana-foundation-sdk/dashboard';

/** One query of one panel. */
export interface PanelQuery {
  readonly dashboardUid: string;
  readonly panelId: number;
  readonly panelTitle: string;
  readonly panelType: string;
  readonly refId: string;
  readonly expr: string;
  readonly legendFormat?: string;
  /** Evaluated at one instant (else over the range). */
  readonly instant: boolean;
  readonly format: string;
  /** The panel's minimum interval (`interval`), e.g. `1h`. */
  readonly minInterval?: string;
  /** The variable the panel repeats over. */
  readonly repeat?: string;
}

/** A query variable of a dashboard. */
export interface DashboardVariable {
  readonly name: string;
  readonly type: string;
  /** The variable's query, e.g. `label_values(probe_success, source_region)`. */
  readonly query?: string;
  readonly allValue?: string;
  readonly includeAll: boolean;
  readonly multi: boolean;
}

type AnyPanel = Panel & { panels?: AnyPanel[]; interval?: string; repeat?: string };

/**
 * Every query of every panel (rows' nested panels included), in layout order.
 * @param dashboard a dashboard model
 */
export function dashboardQueries(dashboard: Dashboard): PanelQuery[] {
  const out: PanelQuery[] = [];
  const visit = (p: AnyPanel) => {
    for (const t of (p.targets ?? []) as {
      refId?: string;
      expr?: string;
      legendFormat?: string;
      instant?: boolean;
      format?: string;
    }[]) {
      if (t.expr === undefined) continue;
      out.push({
        dashboardUid: dashboard.uid ?? '',
        panelId: p.id ?? 0,
        panelTitle: p.title ?? '',
        panelType: p.type,
        refId: t.refId ?? '',
        expr: t.expr,
        ...(t.legendFormat !== undefined ? { legendFormat: t.legendFormat } : {}),
        instant: t.instant === true,
        format: t.format ?? 'time_series',
        ...(p.interval ? { minInterval: p.interval } : {}),
        ...(p.repeat ? { repeat: p.repeat } : {}),
      });
    }
    for (const child of p.panels ?? []) visit(child);
  };
  for (const p of (dashboard.panels ?? []) as AnyPanel[]) visit(p);
  return out;
}

/**
 * The dashboard's template variables, in order (query variables carry their query text).
 * @param dashboard a dashboard model
 */
export function dashboardVariables(dashboard: Dashboard): DashboardVariable[] {
  return (dashboard.templating?.list ?? []).map((v) => {
    const raw = v.query as string | { query?: string } | undefined;
    const query = typeof raw === 'string' ? raw : raw?.query;
    return {
      name: v.name,
      type: v.type,
      ...(v.type === 'query' && query !== undefined ? { query } : {}),
      ...(v.allValue !== undefined ? { allValue: v.allValue } : {}),
      includeAll: v.includeAll === true,
      multi: v.multi === true,
    };
  });
}

/** A parsed `label_values(...)` variable query. */
export interface LabelValuesQuery {
  /** The series selector, when the query has one. */
  readonly selector?: string;
  readonly label: string;
}

/**
 * Parses Grafana's `label_values(label)` and `label_values(selector, label)` variable queries.
 * @param query the variable query
 * @throws Error for any other kind of variable query
 */
export function parseLabelValues(query: string): LabelValuesQuery {
  const m = /^\s*label_values\(\s*(?:(.*\S)\s*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/s.exec(query);
  if (!m) throw new Error(`unsupported variable query ${JSON.stringify(query)}: expected label_values(...)`);
  return m[1] !== undefined ? { selector: m[1], label: m[2]! } : { label: m[2]! };
}

/** Values of Grafana's built-in and dashboard variables for {@link interpolate}. */
export interface InterpolationContext {
  /** Dashboard variables by name: the value substituted (`.*` for All, or one value). */
  readonly variables: Readonly<Record<string, string>>;
  /** `$__interval`, e.g. `1m`. */
  readonly interval: string;
  /** `$__rate_interval`, e.g. `4m`. */
  readonly rateInterval: string;
  /** `$__range` in seconds. */
  readonly rangeSeconds: number;
}

const DURATION_UNITS: Record<string, number> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86_400,
  w: 604_800,
  y: 31_536_000,
};

/**
 * Seconds of a Prometheus duration such as `90s`, `1h30m` or `1d`.
 * @throws Error naming the bad value
 */
export function durationSeconds(duration: string): number {
  let total = 0;
  let rest = duration;
  while (rest.length > 0) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/.exec(rest);
    if (!m) throw new Error(`invalid duration ${JSON.stringify(duration)}`);
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  if (duration.length === 0) throw new Error('invalid duration ""');
  return total;
}

/**
 * Substitutes Grafana variables the way the Prometheus data source does: `$__rate_interval`,
 * `$__interval(_ms)`, `$__range(_s|_ms)`, then `$name`, `${name}`, `${name:format}` and `[[name]]`.
 * @param expr a panel query or variable query
 * @param ctx the values
 * @throws Error naming a variable that has no value (a query that refers to an undefined variable)
 */
export function interpolate(expr: string, ctx: InterpolationContext): string {
  const intervalS = durationSeconds(ctx.interval);
  const builtins: Record<string, string> = {
    __rate_interval: ctx.rateInterval,
    __interval: ctx.interval,
    __interval_ms: String(Math.round(intervalS * 1000)),
    __range: `${Math.round(ctx.rangeSeconds)}s`,
    __range_s: String(Math.round(ctx.rangeSeconds)),
    __range_ms: String(Math.round(ctx.rangeSeconds * 1000)),
  };
  return expr.replace(
    /\$\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[a-zA-Z]+)?\}|\[\[([a-zA-Z_][a-zA-Z0-9_]*)\]\]|\$([a-zA-Z_][a-zA-Z0-9_]*)/g,
    (whole, braced?: string, bracketed?: string, plain?: string) => {
      const name = (braced ?? bracketed ?? plain)!;
      const value = builtins[name] ?? ctx.variables[name];
      if (value === undefined)
        throw new Error(`query refers to undefined variable ${whole} in ${JSON.stringify(expr)}`);
      return value;
    },
  );
}

/** Names a PromQL expression refers to. */
export interface PromqlReferences {
  /** Metric names of its selectors. */
  readonly metrics: string[];
  /** Label names in its matchers and its by / without / on / ignoring / group_x lists. */
  readonly labels: string[];
}

type Token = { kind: 'ident' | 'string' | 'number' | 'punct'; text: string };

const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set([
  ...GROUPING,
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'atan2',
  'inf',
  'nan',
  'start',
  'end',
]);
const MATCH_OPS = new Set(['=', '!=', '=~', '!~']);

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < expr.length && expr[j] !== c) j += expr[j] === '\\' && c !== '`' ? 2 : 1;
      if (j >= expr.length) throw new Error(`unterminated string in ${JSON.stringify(expr)}`);
      tokens.push({ kind: 'string', text: expr.slice(i + 1, j) });
      i = j + 1;
    } else if (c === '[') {
      // Range and subquery durations: nothing to name inside.
      const j = expr.indexOf(']', i);
      if (j < 0) throw new Error(`unterminated [ in ${JSON.stringify(expr)}`);
      i = j + 1;
    } else if (/[0-9.]/.test(c)) {
      const m =
        /^(0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?(?:(?:ms|[smhdwy])(?:[0-9]+(?:ms|[smhdwy]))*)?)/.exec(
          expr.slice(i),
        );
      const text = m?.[0] || c;
      tokens.push({ kind: 'number', text });
      i += text.length;
    } else if (/[a-zA-Z_:]/.test(c)) {
      const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(expr.slice(i))!;
      tokens.push({ kind: 'ident', text: m[0] });
      i += m[0].length;
    } else {
      const two = expr.slice(i, i + 2);
      const op = ['=~', '!~', '!=', '==', '<=', '>='].includes(two) ? two : c;
      tokens.push({ kind: 'punct', text: op });
      i += op.length;
    }
  }
  return tokens;
}

/**
 * The metric and label names a PromQL expression refers to (after variable interpolation).
 * Function and aggregation names, keywords, label values and durations are not names.
 * @param expr a PromQL expression
 */
export function promqlReferences(expr: string): PromqlReferences {
  const tokens = tokenize(expr);
  const metrics = new Set<string>();
  const labels = new Set<string>();
  let inSelector = false;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const next = tokens[i + 1];
    if (t.kind === 'punct') {
      if (t.text === '{') inSelector = true;
      else if (t.text === '}') inSelector = false;
      continue;
    }
    if (t.kind !== 'ident') continue;
    if (inSelector) {
      if (next?.kind === 'punct' && MATCH_OPS.has(next.text)) {
        const value = tokens[i + 2];
        if (t.text === '__name__' && next.text === '=' && value?.kind === 'string') metrics.add(value.text);
        else labels.add(t.text);
      }
      continue;
    }
    if (GROUPING.has(t.text) && next?.kind === 'punct' && next.text === '(') {
      let j = i + 2;
      for (; j < tokens.length && tokens[j]!.text !== ')'; j++) {
        if (tokens[j]!.kind === 'ident') labels.add(tokens[j]!.text);
      }
      i = j;
      continue;
    }
    if (next?.kind === 'punct' && next.text === '(') continue; // a function or an aggregation
    if (next?.kind === 'ident' && (next.text === 'by' || next.text === 'without')) continue; // `sum by (...)`
    if (KEYWORDS.has(t.text.toLowerCase())) continue;
    metrics.add(t.text);
  }
  return { metrics: [...metrics].sort(), labels: [...labels].sort() };
}

/**
 * Label names a legend format refers to (`{{target}} {{ phase }}`).
 * @param legendFormat a Grafana legend format
 */
export function legendLabels(legendFormat: string | undefined): string[] {
  if (!legendFormat) return [];
  return [...legendFormat.matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)].map((m) => m[1]!);
}
