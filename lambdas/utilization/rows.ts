/**
 * The unified row format of utilization data, and the batch file that carries rows from the collect
 * function to the store function (S3 claim check) and from `observatory store FILE`.
 *
 * Every service's CloudWatch datapoints become `MetricRow`s; every discovered resource a `ResourceRow`.
 * The natural key of a metric row is (resourceArn, metric, statistic, periodStart, periodSeconds).
 */
import { z } from 'zod';

/** Services the collector understands. */
export const SERVICES = ['ec2', 'rds', 'ecs', 'msk'] as const;
export type Service = (typeof SERVICES)[number];

/** CloudWatch standard units accepted in rows. */
export const UNITS = [
  'Seconds',
  'Microseconds',
  'Milliseconds',
  'Bytes',
  'Kilobytes',
  'Megabytes',
  'Gigabytes',
  'Terabytes',
  'Bits',
  'Kilobits',
  'Megabits',
  'Gigabits',
  'Terabits',
  'Percent',
  'Count',
  'Bytes/Second',
  'Kilobytes/Second',
  'Megabytes/Second',
  'Gigabytes/Second',
  'Terabytes/Second',
  'Bits/Second',
  'Kilobits/Second',
  'Megabits/Second',
  'Gigabits/Second',
  'Terabits/Second',
  'Count/Second',
  'None',
] as const;

/** CloudWatch statistics the collector requests. */
export const STATISTICS = [
  'Average',
  'Maximum',
  'Minimum',
  'Sum',
  'SampleCount',
  'p50',
  'p90',
  'p95',
  'p99',
] as const;

const arnString = z
  .string()
  .regex(/^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:.+$/, 'expected a resource ARN');

/** One datapoint of one metric of one resource. */
export const MetricRowSchema = z
  .strictObject({
    resourceArn: arnString,
    accountId: z.string().regex(/^\d{12}$/),
    region: z.string().min(1),
    service: z.enum(SERVICES, { error: (i) => `unknown service ${JSON.stringify(i.input)}` }),
    resourceType: z.string().min(1),
    metric: z.string().min(1).max(255),
    statistic: z.enum(STATISTICS),
    unit: z.enum(UNITS, { error: (i) => `bad unit ${JSON.stringify(i.input)}` }),
    /** ISO-8601 start of the period, on the period grid (periodStart % periodSeconds == 0). */
    periodStart: z.iso.datetime({ offset: true }),
    periodSeconds: z.number().int().positive(),
    value: z
      .number()
      .refine(Number.isFinite, 'value must be a finite number (NaN and Infinity are rejected)'),
  })
  .superRefine((row, ctx) => {
    const ms = Date.parse(row.periodStart);
    if ((ms / 1000) % row.periodSeconds !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['periodStart'],
        message: `${row.periodStart} is not on the ${row.periodSeconds}s period grid`,
      });
    }
  });
export type MetricRow = z.infer<typeof MetricRowSchema>;

/** A discovered resource with the capacity needed to turn metrics into percentages. */
export const ResourceRowSchema = z.strictObject({
  resourceArn: arnString,
  accountId: z.string().regex(/^\d{12}$/),
  region: z.string().min(1),
  service: z.enum(SERVICES),
  resourceType: z.string().min(1),
  name: z.string(),
  state: z.string(),
  tags: z.record(z.string(), z.string()),
  /** vcpu, memoryMiB, storageGiB, brokers, ... whatever the service has. */
  capacity: z.record(z.string(), z.number()),
  /**
   * Descriptive strings the report needs to price the resource, by service: ec2 `instanceType`,
   * `platform` (`Linux/UNIX` | `Windows`), `tenancy`; rds `instanceClass`, `engine`, `multiAz`
   * (`true` | `false`); ecs `launchType` (`FARGATE` | `EC2`), `cpuArchitecture` (`X86_64` | `ARM64`),
   * `operatingSystemFamily` (`LINUX`, `WINDOWS_SERVER_2022_CORE`, ...; absent when not named);
   * msk `brokerType` (`kafka.m5.large`). Optional: a resource without them is reported unpriced.
   */
  attributes: z.record(z.string(), z.string()).optional(),
  /** False when memory/disk come from nowhere (no CloudWatch agent): never reported idle on those. */
  hasAgentMetrics: z.boolean(),
  observedAt: z.iso.datetime({ offset: true }),
});
export type ResourceRow = z.infer<typeof ResourceRowSchema>;

/** The shard a batch was collected for. */
export const ShardSchema = z.strictObject({
  accountId: z.string().regex(/^\d{12}$/),
  region: z.string().min(1),
  service: z.enum(SERVICES),
});
export type Shard = z.infer<typeof ShardSchema>;

/** A batch file, version 1. Its `batchId` is deterministic: the same shard and window give the same ID. */
export const BatchSchema = z.strictObject({
  version: z.literal(1),
  batchId: z.string().min(1).max(200),
  shard: ShardSchema,
  window: z.strictObject({ start: z.iso.datetime({ offset: true }), end: z.iso.datetime({ offset: true }) }),
  collectedAt: z.iso.datetime({ offset: true }),
  resources: z.array(ResourceRowSchema),
  rows: z.array(MetricRowSchema),
  /** CloudWatch cost of collecting this batch. */
  stats: z
    .strictObject({ getMetricDataCalls: z.number().int().min(0), metricsRequested: z.number().int().min(0) })
    .optional(),
});
export type Batch = z.infer<typeof BatchSchema>;
