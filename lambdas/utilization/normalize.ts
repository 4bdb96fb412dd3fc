/**
 * GetMetricData results to unified rows, and the batch that carries them (pure).
 */
import { type BatchLimits, DEFAULT_BATCH_LIMITS } from '#contracts/utilization-batch';
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

const utf8Bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

/** One part under construction. */
interface Part {
  rows: MetricRow[];
  resources: ResourceRow[];
  arns: Set<string>;
  bytes: number;
}

/**
 * Splits a batch into parts within both limits (pure). Rows keep their order and each lands in exactly
 * one part; a part carries the resources its rows belong to (a resource whose rows span two parts is
 * in both: the store upserts it), resources without rows fill the last parts, and the CloudWatch cost
 * (`stats`) travels with the first part only. A batch within the limits comes back unchanged; parts
 * are named `<batchId>-part<k>of<n>`, so a re-run of the same collection makes the same IDs and the
 * store recognises each part's redelivery.
 * @param batch a built batch
 * @param limits bounds of one part @default DEFAULT_BATCH_LIMITS
 * @throws Error when one row or resource alone does not fit in `maxBytes`
 */
export function splitBatch(batch: Batch, limits: BatchLimits = DEFAULT_BATCH_LIMITS): Batch[] {
  if (!(limits.maxRows >= 1) || !(limits.maxBytes >= 1)) {
    throw new Error(`batch limits must be positive, got ${limits.maxRows} rows and ${limits.maxBytes} bytes`);
  }
  if (batch.rows.length <= limits.maxRows && utf8Bytes(batch) <= limits.maxBytes) return [batch];

  // The envelope with the longest part ID this batch can get, and a comma per array item.
  const { rows: _rows, resources: _resources, stats, ...head } = batch;
  const envelope = utf8Bytes({
    ...head,
    batchId: `${batch.batchId}-part99999of99999`,
    resources: [],
    rows: [],
    stats,
  });
  const resourceOf = new Map(batch.resources.map((r) => [r.resourceArn, { r, bytes: utf8Bytes(r) + 1 }]));
  const tooLarge = (what: string, bytes: number) =>
    new Error(
      `${what} takes ${bytes} bytes with the batch envelope, more than batchMaxBytes ${limits.maxBytes}`,
    );

  const parts: Part[] = [];
  const fresh = (): Part => {
    const part = { rows: [], resources: [], arns: new Set<string>(), bytes: envelope };
    parts.push(part);
    return part;
  };
  let part = fresh();
  for (const row of batch.rows) {
    const rowBytes = utf8Bytes(row) + 1;
    const cost = (p: Part) =>
      rowBytes + (p.arns.has(row.resourceArn) ? 0 : (resourceOf.get(row.resourceArn)?.bytes ?? 0));
    if (part.rows.length >= limits.maxRows || part.bytes + cost(part) > limits.maxBytes) {
      if (part.rows.length > 0 || part.resources.length > 0) part = fresh();
      if (part.bytes + cost(part) > limits.maxBytes)
        throw tooLarge(`row ${naturalKey(row)}`, part.bytes + cost(part));
    }
    part.bytes += cost(part);
    const resource = resourceOf.get(row.resourceArn);
    if (resource && !part.arns.has(row.resourceArn)) part.resources.push(resource.r);
    part.arns.add(row.resourceArn);
    part.rows.push(row);
  }
  const placed = new Set(parts.flatMap((p) => [...p.arns]));
  for (const { r, bytes } of resourceOf.values()) {
    if (placed.has(r.resourceArn)) continue;
    if (part.bytes + bytes > limits.maxBytes) part = fresh();
    if (part.bytes + bytes > limits.maxBytes) throw tooLarge(`resource ${r.resourceArn}`, part.bytes + bytes);
    part.resources.push(r);
    part.bytes += bytes;
  }
  const n = parts.length;
  return parts.map((p, i) => ({
    ...head,
    batchId: n === 1 ? batch.batchId : `${batch.batchId}-part${i + 1}of${n}`,
    resources: p.resources,
    rows: p.rows,
    ...(i === 0 && stats ? { stats } : {}),
  }));
}

/**
 * The S3 key of a part of a batch: the batch's key, with `.part<k>of<n>` before `.json` when the batch
 * was split.
 * @param key the whole batch's key (`batchKeyFor`)
 * @param index zero-based part index
 * @param parts number of parts
 */
export function partKeyFor(key: string, index: number, parts: number): string {
  return parts === 1 ? key : key.replace(/\.json$/, `.part${index + 1}of${parts}.json`);
}
