/**
 * The under-use policy: part of the config (`utilization.policy`, composed by lib/config/schema.ts) and
 * what the report function receives as `UNDERUSE_POLICY`. One definition for both sides.
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

/** An under-use policy with its defaults applied. */
export type UnderUsePolicy = z.infer<typeof UnderUsePolicySchema>;
