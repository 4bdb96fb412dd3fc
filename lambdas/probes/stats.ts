/**
 * Small pure statistics used by the probe engine.
 */

/** Distribution of a set of latencies, in the unit of the input. */
export interface LatencyStats {
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly max: number;
  readonly mean: number;
}

/**
 * Quantile by linear interpolation between closest ranks (numpy's default, Hyndman-Fan type 7).
 * @param sorted values sorted ascending, at least one
 * @param q quantile in [0, 1]
 */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new Error('quantile of an empty set');
  if (q < 0 || q > 1) throw new Error(`quantile out of range: ${q}`);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (pos - lo);
}

/**
 * Min, p50, p90, max and mean of a set of values.
 * @param values any order; an empty set gives `null`
 */
export function latencyStats(values: readonly number[]): LatencyStats | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((x, y) => x - y);
  return {
    min: sorted[0]!,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    max: sorted[sorted.length - 1]!,
    mean: values.reduce((s, v) => s + v, 0) / values.length,
  };
}

/**
 * Jitter as the mean absolute difference of consecutive values (in the order measured), as ping
 * tools report it. Fewer than two values give 0.
 * @param values in measurement order
 */
export function jitter(values: readonly number[]): number {
  if (values.length < 2) return 0;
  let sum = 0;
  for (let i = 1; i < values.length; i++) sum += Math.abs(values[i]! - values[i - 1]!);
  return sum / (values.length - 1);
}
