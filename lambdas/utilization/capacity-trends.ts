/**
 * Capacity trends (pure): a least-squares line through a resource's daily p95 of a metric and the day
 * it is projected to cross a threshold.
 *
 * x is the day's start in days relative to the report's `asOf` (the last full day is x = -1), y the
 * day's p95. The report has PostgreSQL fit the line (`regr_slope`, `regr_intercept`, `regr_r2`,
 * `regr_syy`, the same least squares as `fitLine`) so only fits leave the database; `forecast`
 * decides from a fit:
 * 1. fewer days with data than `minDays`: no forecast, too little history;
 * 2. a slope of zero or less: not rising, no forecast;
 * 3. R² below `minR2`: the line explains too little of the variation, no forecast;
 * 4. the line at or above the threshold already at asOf: crossing now (0 days);
 * 5. otherwise the crossing x = (threshold - intercept) / slope, reported when within `horizonDays`.
 * The fit's quality travels with every forecast: R² and the residual standard error (the typical
 * distance of a day's p95 from the line, in the metric's unit).
 */
import type { CapacityTrendPolicy } from '#contracts/utilization';

/** A fitted line: y = intercept + slope x, x in days relative to asOf. */
export interface Fit {
  /** Days with data. */
  readonly n: number;
  /** Change per day (metric unit per day). */
  readonly slope: number;
  /** The line's value at asOf. */
  readonly intercept: number;
  /** Share of the variance the line explains (0-1; 1 when every day has the same value). */
  readonly r2: number;
  /** Residual standard error, sqrt(SSE / (n - 2)); undefined below 3 points. */
  readonly residual?: number;
}

/** A forecast, or why there is none. */
export type Forecast =
  | {
      readonly kind: 'forecast';
      /** Days from asOf to the crossing (0: the line is at or above the threshold already). */
      readonly daysToCross: number;
      /** The crossing instant (ISO). */
      readonly crossesAt: string;
      readonly fit: Fit;
    }
  | { readonly kind: 'none'; readonly reason: string; readonly fit?: Fit };

/**
 * Least squares through points (pure).
 * @param points x (days relative to asOf) and y
 * @returns the fit, or undefined below two distinct x
 */
export function fitLine(points: readonly { x: number; y: number }[]): Fit | undefined {
  const n = points.length;
  if (n < 2) return undefined;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const p of points) {
    sxx += (p.x - mx) ** 2;
    sxy += (p.x - mx) * (p.y - my);
    syy += (p.y - my) ** 2;
  }
  if (sxx === 0) return undefined;
  const slope = sxy / sxx;
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return withResidual({ n, slope, intercept: my - slope * mx, r2 }, syy);
}

/**
 * A fit with its residual standard error, from the total sum of squares of y.
 * @param fit n, slope, intercept, R²
 * @param syy sum of (y - mean y)²
 */
export function withResidual(fit: Omit<Fit, 'residual'>, syy: number): Fit {
  if (fit.n < 3) return fit;
  return { ...fit, residual: Math.sqrt(Math.max(0, (syy * (1 - fit.r2)) / (fit.n - 2))) };
}

const DAY_MS = 86_400_000;

/**
 * The forecast of one fit (pure).
 * @param fit the fitted line, or only the count of days when there were too few to fit
 * @param threshold the level the forecast projects to
 * @param asOf the report's end of data
 * @param policy minimum days, minimum R², horizon
 */
export function forecast(
  fit: Fit | { readonly n: number },
  threshold: number,
  asOf: Date,
  policy: Pick<CapacityTrendPolicy, 'minDays' | 'minR2' | 'horizonDays'>,
): Forecast {
  if (fit.n < policy.minDays || !('slope' in fit))
    return { kind: 'none', reason: `too little history: ${fit.n} days of data, ${policy.minDays} needed` };
  if (!(fit.slope > 0)) return { kind: 'none', reason: 'not rising', fit };
  if (fit.r2 < policy.minR2)
    return { kind: 'none', reason: `no clear trend: R² ${fit.r2.toFixed(2)} < ${policy.minR2}`, fit };
  const x = Math.max(0, (threshold - fit.intercept) / fit.slope);
  if (x > policy.horizonDays)
    return { kind: 'none', reason: `crosses in ${Math.round(x)} days, beyond ${policy.horizonDays}`, fit };
  return {
    kind: 'forecast',
    daysToCross: x,
    crossesAt: new Date(asOf.getTime() + x * DAY_MS).toISOString(),
    fit,
  };
}
