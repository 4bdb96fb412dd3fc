/**
 * The under-use policy: part of the config (deploy time) and of the report function's environment
 * (run time). One definition, imported by the config schema and by the report handler.
 */
import { z } from 'zod';

/** Under-use policy: a resource is reported when every condition of its service holds over `days`. */
export const UnderUsePolicySchema = z.strictObject({
  ec2: z
    .strictObject({
      days: z.number().int().min(1).default(14),
      cpuP95BelowPercent: z.number().min(0).max(100).default(10),
      networkBytesPerDayBelow: z
        .number()
        .min(0)
        .default(5 * 1024 ** 2 * 24),
    })
    .default({ days: 14, cpuP95BelowPercent: 10, networkBytesPerDayBelow: 5 * 1024 ** 2 * 24 }),
  rds: z
    .strictObject({
      days: z.number().int().min(1).default(7),
      maxConnectionsBelow: z.number().min(0).default(1),
    })
    .default({ days: 7, maxConnectionsBelow: 1 }),
  ecs: z
    .strictObject({
      days: z.number().int().min(1).default(14),
      cpuP95BelowPercent: z.number().min(0).max(100).default(20),
      memoryP95BelowPercent: z.number().min(0).max(100).default(20),
    })
    .default({ days: 14, cpuP95BelowPercent: 20, memoryP95BelowPercent: 20 }),
  msk: z
    .strictObject({
      days: z.number().int().min(1).default(14),
      cpuP95BelowPercent: z.number().min(0).max(100).default(10),
      bytesInPerSecBelow: z.number().min(0).default(1024),
    })
    .default({ days: 14, cpuP95BelowPercent: 10, bytesInPerSecBelow: 1024 }),
});

/** A validated under-use policy, defaults applied. */
export type UnderUsePolicy = z.infer<typeof UnderUsePolicySchema>;

/** Rightsizing: what a recommended option must leave free (report.ts, rightsizing.ts). */
export const RightsizingPolicySchema = z.strictObject({
  /** Projected p95 CPU of the recommended option stays at or below this. */
  cpuTargetPercent: z.number().gt(0).max(100).default(40),
  /** Observed p95 memory must fit in the option's memory less this share of it. */
  memoryHeadroomPercent: z.number().min(0).max(90).default(20),
});
export type RightsizingPolicy = z.infer<typeof RightsizingPolicySchema>;

/** Capacity trends: the daily p95 series fitted and the thresholds they are projected to (capacity-trends.ts). */
export const CapacityTrendPolicySchema = z.strictObject({
  /** Days of daily p95 fitted, up to the report's asOf. */
  days: z.number().int().min(3).max(400).default(30),
  /** Fewer days with data than this: no forecast. */
  minDays: z.number().int().min(3).max(400).default(7),
  /** A fit explaining less of the variance than this (R²) gives no forecast. */
  minR2: z.number().min(0).max(1).default(0.5),
  /** CPU p95 threshold a forecast projects to (percent). */
  cpuPercent: z.number().gt(0).max(100).default(80),
  /** Storage used threshold a forecast projects to (percent). */
  storagePercent: z.number().gt(0).max(100).default(90),
  /** Forecasts further out than this are not reported. */
  horizonDays: z.number().int().min(1).max(3650).default(90),
});
export type CapacityTrendPolicy = z.infer<typeof CapacityTrendPolicySchema>;

/** Rightsizing and trend settings the report function runs with (its `ADVICE_POLICY` environment). */
export const AdvicePolicySchema = z.strictObject({
  rightsizing: RightsizingPolicySchema.prefault({}),
  trends: CapacityTrendPolicySchema.prefault({}),
  /** A forecast crossing within this many days raises UtilizationCapacityForecast. */
  forecastAlertDays: z.number().int().min(1).max(365).default(14),
});
export type AdvicePolicy = z.infer<typeof AdvicePolicySchema>;
