/**
 * Bounds of one utilization batch, shared by the config schema (the `utilization.batchMaxRows` and
 * `batchMaxBytes` defaults), the stack (the collect function's environment) and the collector.
 */

/** How large one batch may be: what the store function can hold in memory with margin. */
export interface BatchLimits {
  /** Metric rows per batch. */
  readonly maxRows: number;
  /** Bytes of the batch's JSON (UTF-8). */
  readonly maxBytes: number;
}

/**
 * The default bounds. The store function (1,024 MB) handles one message at a time and holds about nine
 * times a batch's JSON size while it parses, validates and writes it (a 300 MB file took 2.6 GB), so
 * 16 MiB (~150 MB in memory) leaves most of it free; 50,000 rows of ~320 bytes fill the same 16 MiB.
 */
export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxRows: 50_000, maxBytes: 16 * 1024 * 1024 };

/** Environment variables of the collect function that carry the limits. */
export const BATCH_LIMIT_ENV = { maxRows: 'BATCH_MAX_ROWS', maxBytes: 'BATCH_MAX_BYTES' } as const;
