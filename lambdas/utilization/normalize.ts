/**
 * GetMetricData results to unified rows, and the batch that carries them (pure).
 */
import type { CollectionWindow, SeriesData, SeriesRef } from './cloudwatch.ts';
import {
  type Batch,
  BatchSchema,
  type MetricRow,
  type ResourceRow,
  type Service,
  type Shard,
} from './rows.ts';

/**
 * Metrics whose presence means a resource's memory is measured. For EC2 that is the CloudWatch agent
 * (flagged per series); RDS and ECS publish memory natively; MSK memory is not collected.
 */
const NATIVE_MEMORY: Partial<Record<Service, string>> = { rds: 'FreeableMemory', ecs: 'MemoryUtilization' };

/** Rows made from a fetch, with what was dropped on the way. */
export interface Normalized {
  readonly rows: MetricRow[];
  /** Datapoints that were not finite numbers or fell outside the window. */
  readonly dropped: number;
  /** Resources with memory (EC2: CloudWatch agent) data in the window. */
  readonly withMemoryData: Set<string>;
}

function naturalKey(r: Pick<MetricRow, 'resourceArn' | 'metric' | 'statistic' | 'periodStart'>): string {
  return `${r.resourceArn}\u0000${r.metric}\u0000${r.statistic}\u0000${r.periodStart}`;
}

/**
 * Turns fetched series into metric rows: the unit comes from the metric definition, `periodStart` is
 * the ISO start of the period on the grid, values are finite, rows are inside the window and unique by
 * natural key (a repeated datapoint keeps the last value), sorted for stable output.
 * @param shard the shard collected
 * @param refs what each returned series is
 * @param series fetched datapoints by query ID
 * @param window the collection window
 */
export function toMetricRows(
  shard: Shard,
  refs: readonly SeriesRef[],
  series: ReadonlyMap<string, SeriesData>,
  window: CollectionWindow,
): Normalized {
  const periodMs = window.periodSeconds * 1000;
  const startMs = window.start.getTime();
  const endMs = window.end.getTime();
  const rows = new Map<string, MetricRow>();
  const withMemoryData = new Set<string>();
  let dropped = 0;
  for (const ref of refs) {
    const data = series.get(ref.id);
    if (!data) continue;
    for (let i = 0; i < data.timestamps.length; i++) {
      const value = data.values[i]!;
      // Timestamps are on the grid when StartTime is; flooring guards against a client clock quirk.
      const ms = Math.floor(data.timestamps[i]!.getTime() / periodMs) * periodMs;
      if (!Number.isFinite(value) || ms < startMs || ms >= endMs) {
        dropped++;
        continue;
      }
      const row: MetricRow = {
        resourceArn: ref.resourceArn,
        accountId: shard.accountId,
        region: shard.region,
        service: ref.service,
        resourceType: ref.resourceType,
        metric: ref.metric,
        statistic: ref.statistic,
        unit: ref.unit,
        periodStart: new Date(ms).toISOString(),
        periodSeconds: window.periodSeconds,
        value,
      };
      rows.set(naturalKey(row), row);
      if (ref.agent || NATIVE_MEMORY[ref.service] === ref.metric) withMemoryData.add(ref.resourceArn);
    }
  }
  const sorted = [...rows.values()].sort(
    (a, b) =>
      a.resourceArn.localeCompare(b.resourceArn) ||
      a.metric.localeCompare(b.metric) ||
      a.statistic.localeCompare(b.statistic) ||
      a.periodStart.localeCompare(b.periodStart),
  );
  return { rows: sorted, dropped, withMemoryData };
}

/** `2024-05-01T10:00:00.000Z` -> `20240501T100000Z`. */
function compact(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

/**
 * A file-name-safe label of a window: `20240501T100000Z_20240501T110000Z_300s`.
 * @param window the collection window
 */
export function windowLabel(window: CollectionWindow): string {
  return `${compact(window.start)}_${compact(window.end)}_${window.periodSeconds}s`;
}

/**
 * The deterministic batch ID of a shard and window: the same inputs always give the same ID, so a
 * re-run of a window is recognised downstream as the same batch.
 * @param shard the shard
 * @param window the collection window
 */
export function batchIdFor(shard: Shard, window: CollectionWindow): string {
  return `${shard.accountId}-${shard.region}-${shard.service}-${windowLabel(window)}`.replace(
    /[^A-Za-z0-9_-]/g,
    '-',
  );
}

/**
 * The S3 key of a batch: `batches/<service>/<account>/<region>/<window>.json`.
 * @param shard the shard
 * @param window the collection window
 */
export function batchKeyFor(shard: Shard, window: CollectionWindow): string {
  return `batches/${shard.service}/${shard.accountId}/${shard.region}/${windowLabel(window)}.json`;
}

/** Everything a batch is made of. */
export interface BatchParts {
  readonly shard: Shard;
  readonly window: CollectionWindow;
  readonly collectedAt: Date;
  readonly resources: readonly ResourceRow[];
  readonly rows: readonly MetricRow[];
  readonly stats: { readonly getMetricDataCalls: number; readonly metricsRequested: number };
}

/**
 * Assembles a version 1 batch and validates it against `BatchSchema`, so a collector bug fails here
 * rather than in the store function.
 * @param parts shard, window, rows and cost
 */
export function buildBatch(parts: BatchParts): Batch {
  return BatchSchema.parse({
    version: 1,
    batchId: batchIdFor(parts.shard, parts.window),
    shard: { accountId: parts.shard.accountId, region: parts.shard.region, service: parts.shard.service },
    window: { start: parts.window.start.toISOString(), end: parts.window.end.toISOString() },
    collectedAt: parts.collectedAt.toISOString(),
    resources: parts.resources,
    rows: parts.rows,
    stats: {
      getMetricDataCalls: parts.stats.getMetricDataCalls,
      metricsRequested: parts.stats.metricsRequested,
    },
  });
}
