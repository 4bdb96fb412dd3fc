/**
 * The one source of truth for every option of Infra Observatory.
 *
 * A YAML file (default `config/example.yaml`) is parsed and validated against `ObservatoryConfigSchema`
 * at synth time; every problem is reported by path and synthesis stops before any stack is built.
 * Every object is strict: an unknown key is an error, so a typo never silently falls back to a default.
 */
import { z } from 'zod';
import {
  azName,
  DnsTargetSchema,
  HttpTargetSchema,
  name,
  ProbeDiscoverySchema,
  ProbeTargetSchema,
  probeSettings,
  region,
  TcpTargetSchema,
} from '#contracts/probes';

import { UnderUsePolicySchema } from '#contracts/utilization';

// The probe target and settings schemas are the probe function's contract (zod/mini; classic
// schemas compose them as they are). Re-exported so config users keep one import.
export { DnsTargetSchema, HttpTargetSchema, ProbeTargetSchema, TcpTargetSchema, UnderUsePolicySchema };

const accountId = z.string().regex(/^\d{12}$/, 'expected a 12-digit AWS account ID');
const azId = z.string().regex(/^[a-z0-9]{2,5}-az\d+$/, 'expected an AZ ID such as euw1-az1');
const vpcId = z.string().regex(/^vpc-[0-9a-f]{8,17}$/, 'expected a VPC ID such as vpc-0abc1234');
const subnetId = z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'expected a subnet ID such as subnet-0abc1234');
const securityGroupId = z
  .string()
  .regex(/^sg-[0-9a-f]{8,17}$/, 'expected a security group ID such as sg-0abc1234');
const arn = (service: string) =>
  z.string().regex(new RegExp(`^arn:aws[a-z-]*:${service}:`), `expected an ARN of service ${service}`);
/** A schedule expression accepted by EventBridge Scheduler. */
const schedule = z
  .string()
  .regex(
    /^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$/,
    'expected rate(...) or cron(...)',
  );

/** An Availability Zone of a probe region, with the subnet its probe function is attached to. */
export const AvailabilityZoneSchema = z.strictObject({
  /** AZ name in the deploying account, e.g. eu-west-1a. */
  name: azName,
  /** AZ ID, stable across accounts, e.g. euw1-az1. */
  id: azId,
  /** Private subnet in this AZ for the probe function. */
  subnetId,
});

/** A region the probes run in: one probe function per listed AZ. */
export const ProbeRegionSchema = z.strictObject({
  region,
  vpcId,
  /** CIDR of the VPC, used for egress rules of the probe security groups. */
  vpcCidr: z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'expected a CIDR such as 10.0.0.0/16'),
  availabilityZones: z.array(AvailabilityZoneSchema).min(1, 'expected at least one availability zone'),
  /** Create an interface VPC endpoint for AMP remote-write so private subnets need no NAT. */
  ampVpcEndpoint: z.boolean().default(false),
  /**
   * An interface VPC endpoint (vpce-...) whose per-AZ network interfaces are probed on 443 to fill
   * the AZ-to-AZ matrix with nothing new deployed. When omitted, the AMP endpoint is used if created.
   */
  meshEndpointId: z
    .string()
    .regex(/^vpce-[0-9a-f]{8,17}$/)
    .optional(),
});

export const ProbesSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    schedule: schedule.default('rate(1 minute)'),
    ...probeSettings,
    regions: z.array(ProbeRegionSchema).min(1, 'expected at least one probe region'),
    targets: z.array(ProbeTargetSchema).default([]),
    discovery: ProbeDiscoverySchema,
  })
  .superRefine((probes, ctx) => {
    const seen = new Map<string, number>();
    probes.targets.forEach((t, i) => {
      const first = seen.get(t.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['targets', i, 'name'],
          message: `duplicate target name "${t.name}" (first at targets[${first}])`,
        });
      } else seen.set(t.name, i);
    });
    const regions = new Set<string>();
    probes.regions.forEach((r, i) => {
      if (regions.has(r.region))
        ctx.addIssue({
          code: 'custom',
          path: ['regions', i, 'region'],
          message: `duplicate probe region "${r.region}"`,
        });
      regions.add(r.region);
      r.availabilityZones.forEach((az, j) => {
        if (!az.name.startsWith(r.region)) {
          ctx.addIssue({
            code: 'custom',
            path: ['regions', i, 'availabilityZones', j, 'name'],
            message: `AZ "${az.name}" is not in region ${r.region}`,
          });
        }
      });
    });
    probes.targets.forEach((t, i) => {
      for (const from of t.from ?? []) {
        if (!regions.has(from))
          ctx.addIssue({
            code: 'custom',
            path: ['targets', i, 'from'],
            message: `"${from}" is not a probe region`,
          });
      }
    });
  });

export const UtilizationServiceSchema = z.enum(['ec2', 'rds', 'ecs', 'msk']);

export const UtilizationSchema = z.strictObject({
  enabled: z.boolean().default(true),
  schedule: schedule.default('rate(1 hour)'),
  /** Role the collector assumes in each member account. */
  roleName: z
    .string()
    .regex(/^[\w+=,.@-]{1,64}$/)
    .default('InfraObservatoryReader'),
  /** External ID required by member roles; stored in Secrets Manager when set. */
  externalId: z.string().min(2).max(1224).optional(),
  accounts: z.array(z.strictObject({ id: accountId, name })).min(1, 'expected at least one account'),
  regions: z.array(region).min(1, 'expected at least one region'),
  services: z.array(UtilizationServiceSchema).min(1).default(['ec2', 'rds', 'ecs', 'msk']),
  /** Width of one collection window. */
  lookbackMinutes: z.number().int().min(5).max(1440).default(60),
  /** CloudWatch period of the collected datapoints. */
  periodSeconds: z.union([z.literal(60), z.literal(300), z.literal(3600)]).default(300),
  /** Windows end this long before now, so late CloudWatch datapoints are complete. */
  delayMinutes: z.number().int().min(0).max(60).default(10),
  /** Shards collected at once by the collection workflow. */
  maxConcurrency: z.number().int().min(1).max(40).default(8),
  /** Percentage of shards that may fail before the run fails. */
  toleratedFailurePercent: z.number().min(0).max(100).default(20),
  policy: UnderUsePolicySchema.default({} as never),
  thresholds: z
    .array(
      z
        .strictObject({
          name,
          service: UtilizationServiceSchema,
          metric: z.string().min(1),
          above: z.number().optional(),
          below: z.number().optional(),
          forMinutes: z.number().int().min(1).default(30),
          severity: z.enum(['warning', 'critical']).default('warning'),
        })
        .refine((t) => t.above !== undefined || t.below !== undefined, {
          message: 'expected "above" or "below"',
        }),
    )
    .default([]),
  database: z.strictObject({
    vpcId,
    subnetIds: z.array(subnetId).min(2, 'Aurora needs subnets in at least two AZs'),
    /** Use an existing Aurora cluster instead of creating one. */
    existing: z.strictObject({ clusterArn: arn('rds'), secretArn: arn('secretsmanager') }).optional(),
    minCapacity: z.number().min(0).max(256).default(0.5),
    maxCapacity: z.number().min(1).max(256).default(4),
    deletionProtection: z.boolean().default(true),
    backupRetentionDays: z.number().int().min(1).max(35).default(7),
    databaseName: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,62}$/)
      .default('observatory'),
  }),
});

export const MskRollbackSchema = z.strictObject({
  enabled: z.boolean().default(true),
  vpcId,
  subnetIds: z.array(subnetId).min(1),
  securityGroupIds: z.array(securityGroupId).min(1),
  /** Apache Kafka release installed in the MirrorMaker 2 image. */
  kafkaVersion: z
    .string()
    .regex(/^\d+\.\d+\.\d+$/)
    .default('3.9.1'),
  /** The only clusters a rollback may read from or write to; IAM is scoped to these ARNs. */
  clusters: z.array(z.strictObject({ name, arn: arn('kafka') })).min(2, 'expected at least two MSK clusters'),
  defaults: z
    .strictObject({
      maxLagRecords: z.number().int().min(0).default(1000),
      holdMinutes: z.number().int().min(1).default(10),
      convergeTimeoutMinutes: z.number().int().min(5).default(360),
      approvalTimeoutMinutes: z.number().int().min(5).default(1440),
      tasks: z.number().int().min(1).max(10).default(1),
      cpu: z.number().int().default(1024),
      memoryMiB: z.number().int().default(4096),
    })
    .default({} as never),
});

export const MonitoringSchema = z.strictObject({
  homeRegion: region,
  workspace: z.union([
    z.strictObject({ create: z.literal(true), alias: z._default(name, 'infra-observatory') }),
    z.strictObject({
      workspaceId: z
        .string()
        .regex(/^ws-[0-9a-f-]{8,}$/, 'expected an AMP workspace ID such as ws-1234abcd-...'),
    }),
  ]),
  alertEmails: z.array(z.email()).default([]),
  logRetentionDays: z
    .union(
      [
        1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
        3653,
      ].map((d) => z.literal(d)) as [z.ZodLiteral<number>, ...z.ZodLiteral<number>[]],
    )
    .default(30),
  grafana: z
    .strictObject({
      url: z.url({ protocol: /^https$/ }),
      tokenSecretArn: arn('secretsmanager'),
      folder: z.string().min(1).default('Infra Observatory'),
    })
    .optional(),
});

/** The whole config file. */
export const ObservatoryConfigSchema = z.strictObject({
  /** Prefix of stack names; keep it stable, stack names are a contract. */
  project: z._default(name, 'Observatory'),
  /** Account everything is deployed to. */
  account: accountId,
  tags: z.record(z.string(), z.string()).default({}),
  monitoring: MonitoringSchema,
  probes: ProbesSchema.optional(),
  utilization: UtilizationSchema.optional(),
  mskRollback: MskRollbackSchema.optional(),
});

export type ObservatoryConfig = z.infer<typeof ObservatoryConfigSchema>;
export type MonitoringConfig = z.infer<typeof MonitoringSchema>;
export type ProbesConfig = z.infer<typeof ProbesSchema>;
export type ProbeRegionConfig = z.infer<typeof ProbeRegionSchema>;
export type ProbeTargetConfig = z.infer<typeof ProbeTargetSchema>;
export type UtilizationConfig = z.infer<typeof UtilizationSchema>;
export type { UnderUsePolicy } from '#contracts/utilization';
export type MskRollbackConfig = z.infer<typeof MskRollbackSchema>;
