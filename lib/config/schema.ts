/**
 * The one source of truth for every option of Infra Observatory.
 *
 * A YAML file (default `config/example.yaml`) is parsed and validated against `ObservatoryConfigSchema`
 * at synth time; every problem is reported by path and synthesis stops before any stack is built.
 * Every object is strict: an unknown key is an error, so a typo never silently falls back to a default.
 */
import { z } from 'zod';

const region = z
  .string()
  .regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/, 'expected an AWS region such as eu-west-1');
const accountId = z.string().regex(/^\d{12}$/, 'expected a 12-digit AWS account ID');
const azName = z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$/, 'expected an AZ name such as eu-west-1a');
const azId = z.string().regex(/^[a-z0-9]{2,5}-az\d+$/, 'expected an AZ ID such as euw1-az1');
const vpcId = z.string().regex(/^vpc-[0-9a-f]{8,17}$/, 'expected a VPC ID such as vpc-0abc1234');
const subnetId = z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'expected a subnet ID such as subnet-0abc1234');
const securityGroupId = z
  .string()
  .regex(/^sg-[0-9a-f]{8,17}$/, 'expected a security group ID such as sg-0abc1234');
const arn = (service: string) =>
  z.string().regex(new RegExp(`^arn:aws[a-z-]*:${service}:`), `expected an ARN of service ${service}`);
const port = z.number().int().min(1, 'expected 1-65535').max(65535, 'expected 1-65535');
const name = z
  .string()
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'expected 1-63 letters, digits, "_", "." or "-"');
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

const targetBase = {
  name,
  /** Region of the target, when known (becomes the target_region label). */
  region: region.optional(),
  /** AZ of the target, when known (becomes the target_az label). */
  az: azName.optional(),
  /** Source regions that probe this target; all probe regions when omitted. */
  from: z.array(region).optional(),
  /** Probe every address the name resolves to separately. */
  allAddresses: z.boolean().default(true),
};

/** A TCP connect target. */
export const TcpTargetSchema = z.strictObject({
  ...targetBase,
  kind: z.literal('tcp'),
  host: z.string().min(1),
  port,
});
/** An HTTP(S) target with optional assertions. */
export const HttpTargetSchema = z.strictObject({
  ...targetBase,
  kind: z.literal('http'),
  url: z.url({ protocol: /^https?$/ }),
  method: z.enum(['GET', 'HEAD']).default('GET'),
  expectStatus: z.array(z.number().int().min(100).max(599)).default([200]),
  bodyRegex: z.string().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  followRedirects: z.boolean().default(false),
  /** Fail the probe when the certificate expires in fewer days than this. */
  certMinDays: z.number().int().min(0).default(14),
});
/** A DNS lookup target. */
export const DnsTargetSchema = z.strictObject({
  ...targetBase,
  kind: z.literal('dns'),
  query: z.string().min(1),
  recordType: z.enum(['A', 'AAAA', 'CNAME', 'TXT', 'SRV']).default('A'),
  expectAnswers: z.array(z.string()).optional(),
});
/** Any probe target. */
export const ProbeTargetSchema = z.discriminatedUnion('kind', [
  TcpTargetSchema,
  HttpTargetSchema,
  DnsTargetSchema,
]);

export const ProbesSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    schedule: schedule.default('rate(1 minute)'),
    /** Fresh TCP connections per target per run. */
    attempts: z.number().int().min(1).max(50).default(5),
    /** Timeout of one attempt. */
    timeoutMs: z.number().int().min(100).max(30_000).default(2_000),
    /** Targets probed at once. */
    concurrency: z.number().int().min(1).max(256).default(16),
    regions: z.array(ProbeRegionSchema).min(1, 'expected at least one probe region'),
    targets: z.array(ProbeTargetSchema).default([]),
    discovery: z
      .strictObject({
        cloudMap: z
          .array(
            z.strictObject({
              namespace: z.string().min(1),
              services: z.array(z.string()).optional(),
              port: port.optional(),
            }),
          )
          .default([]),
        ec2Tags: z
          .strictObject({
            tagKey: z.string().min(1).default('observatory:probe'),
            portTagKey: z.string().min(1).default('observatory:port'),
            defaultPort: port.default(443),
          })
          .optional(),
      })
      .default({ cloudMap: [] }),
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
  /** Days of metric rows kept; whole months past it are dropped (metric_rows is partitioned by month). */
  retentionDays: z.number().int().min(31).max(3660).default(400),
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
    z.strictObject({ create: z.literal(true), alias: name.default('infra-observatory') }),
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
  project: name.default('Observatory'),
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
export type UnderUsePolicy = z.infer<typeof UnderUsePolicySchema>;
export type MskRollbackConfig = z.infer<typeof MskRollbackSchema>;
