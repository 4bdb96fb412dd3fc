/**
 * The one source of truth for every option of Infra Observatory.
 *
 * A YAML file (default `config/example.yaml`) is parsed and validated against `ObservatoryConfigSchema`
 * at synth time; every problem is reported by path and synthesis stops before any stack is built.
 * Every object is strict: an unknown key is an error, so a typo never silently falls back to a default.
 */
import { isIPv4 } from 'node:net';
import { z } from 'zod';
import { formatPath } from '#contracts/issues';
import {
  DnsTargetSchema,
  HttpTargetSchema,
  ProbeDiscoverySchema,
  ProbeTargetSchema,
  probeSettings,
  TcpTargetSchema,
} from '#contracts/probes';
import {
  CapacityTrendPolicySchema,
  RightsizingPolicySchema,
  UnderUsePolicySchema,
} from '#contracts/utilization';
import { DEFAULT_BATCH_LIMITS } from '#contracts/utilization-batch';
import { KAFKA_SHA512 } from '../msk-rollback/mm2-image.ts';
import { AWS_REGIONS } from './regions.ts';
import { scheduleProblem } from './schedule.ts';

export { type UnderUsePolicy, UnderUsePolicySchema } from '#contracts/utilization';
// The probe target, discovery and settings schemas are the probe function's contract (zod/mini in
// contracts/probes.ts; classic schemas compose them as they are). Re-exported so config users keep one import.
export { DnsTargetSchema, HttpTargetSchema, ProbeTargetSchema, TcpTargetSchema };

/**
 * A string with a check beyond a regular expression. The message names the value (the issue
 * formatter adds no `, got` to custom issues).
 * @param problem what is wrong with the value, or undefined when it is fine
 */
function checked<T extends z.ZodType<string>>(base: T, problem: (s: string) => string | undefined): T {
  return base.superRefine((s, ctx) => {
    const p = problem(s);
    if (p) ctx.addIssue({ code: 'custom', message: `${p}, got ${JSON.stringify(s)}` });
  }) as T;
}

/**
 * Reports every item whose key an earlier item already has, at the later item, naming the first.
 * @param at path (relative to the refined object) of the item at an index
 */
function unique<T>(
  ctx: z.RefinementCtx,
  items: readonly T[],
  key: (item: T) => string | undefined,
  at: (i: number) => PropertyKey[],
  what: string,
): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const k = key(item);
    if (k === undefined) return;
    const first = seen.get(k);
    if (first === undefined) seen.set(k, i);
    else
      ctx.addIssue({
        code: 'custom',
        path: at(i),
        message: `duplicate ${what} "${k}" (first at ${formatPath(at(first))})`,
      });
  });
}

/** An array of strings that must all differ. */
const uniqueList = <T extends z.ZodType<string>>(item: T, what: string) =>
  z.array(item).superRefine((items, ctx) => unique(ctx, items, String, (i) => [i], what));

const region = checked(z.string(), (s) =>
  AWS_REGIONS.has(s) ? undefined : 'expected an AWS region aws-cdk-lib knows, such as eu-west-1',
);
const accountId = z.string().regex(/^\d{12}$/, 'expected a 12-digit AWS account ID');
const AZ_NAME = /^[a-z]{2,4}(-[a-z]+)+-\d[a-z]$/;
const azName = z.string().regex(AZ_NAME, 'expected an AZ name such as eu-west-1a');
const azId = z.string().regex(/^[a-z0-9]{2,8}-az\d+$/, 'expected an AZ ID such as euw1-az1');
const vpcId = z.string().regex(/^vpc-[0-9a-f]{8,17}$/, 'expected a VPC ID such as vpc-0abc1234');
const subnetId = z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'expected a subnet ID such as subnet-0abc1234');
const securityGroupId = z
  .string()
  .regex(/^sg-[0-9a-f]{8,17}$/, 'expected a security group ID such as sg-0abc1234');
const routeTableId = z
  .string()
  .regex(/^rtb-[0-9a-f]{8,17}$/, 'expected a route table ID such as rtb-0abc1234');
const arn = (service: string) =>
  z.string().regex(new RegExp(`^arn:aws[a-z-]*:${service}:`), `expected an ARN of service ${service}`);
const name = z
  .string()
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'expected 1-63 letters, digits, "_", "." or "-"');
/** A recurring schedule expression EventBridge Scheduler accepts (grammar in `schedule.ts`). */
const schedule = checked(z.string(), scheduleProblem);

/** What is wrong with an IPv4 VPC CIDR block, parsed with node:net rather than a pattern. */
function vpcCidrProblem(s: string): string | undefined {
  const [address = '', prefix, extra] = s.split('/');
  if (prefix === undefined || extra !== undefined || !isIPv4(address) || !/^\d{1,2}$/.test(prefix))
    return 'expected an IPv4 CIDR block such as 10.0.0.0/16';
  const bits = Number(prefix);
  return bits < 16 || bits > 28 ? `a VPC CIDR block is /16 to /28, not /${bits}` : undefined;
}

/** An Availability Zone of a probe region, with the subnet its probe function is attached to. */
export const AvailabilityZoneSchema = z.strictObject({
  /** AZ name in the deploying account, e.g. eu-west-1a. */
  name: azName,
  /** AZ ID, stable across accounts, e.g. euw1-az1. */
  id: azId,
  /** Private subnet in this AZ for the probe function. */
  subnetId,
  /**
   * Route table of that subnet. Only the AMP interface endpoint's import of the VPC reads it; given, the
   * import needs no placeholder and synth prints no warning.
   * @default - unknown to the app (CDK warns once per subnet that it is missing)
   */
  routeTableId: routeTableId.optional(),
});

/** A region the probes run in: one probe function per listed AZ. */
export const ProbeRegionSchema = z.strictObject({
  region,
  vpcId,
  /** CIDR of the VPC, used for egress rules of the probe security groups. */
  vpcCidr: checked(z.string(), vpcCidrProblem),
  availabilityZones: z
    .array(AvailabilityZoneSchema)
    .min(1, 'expected at least one availability zone')
    .superRefine((azs, ctx) => {
      unique(
        ctx,
        azs,
        (az) => az.name,
        (i) => [i, 'name'],
        'availability zone',
      );
      unique(
        ctx,
        azs,
        (az) => az.id,
        (i) => [i, 'id'],
        'availability zone ID',
      );
      unique(
        ctx,
        azs,
        (az) => az.subnetId,
        (i) => [i, 'subnetId'],
        'subnet',
      );
    }),
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
    /**
     * AWS's own latency reference next to the probes: subscribe to AWS Network Manager
     * Infrastructure Performance for every AZ-ID pair of each probe region and every pair of probe
     * regions, and pull its p50 into AMP (`aws_network_performance_*`).
     */
    awsNetworkPerformance: z
      .strictObject({
        /** Off by default: the subscriptions are account settings another team may own. */
        enabled: z.boolean().default(false),
        /** AWS publishes 5-minute windows; a shorter rate only rereads the same window. */
        schedule: schedule.default('rate(5 minutes)'),
      })
      .default({ enabled: false, schedule: 'rate(5 minutes)' }),
  })
  .superRefine((probes, ctx) => {
    unique(
      ctx,
      probes.targets,
      (t) => t.name,
      (i) => ['targets', i, 'name'],
      'target name',
    );
    unique(
      ctx,
      probes.regions,
      (r) => r.region,
      (i) => ['regions', i, 'region'],
      'probe region',
    );
    const regions = new Set(probes.regions.map((r) => r.region));
    probes.regions.forEach((r, i) => {
      r.availabilityZones.forEach((az, j) => {
        // A malformed name or region already has its own message.
        const comparable = AZ_NAME.test(az.name) && AWS_REGIONS.has(r.region);
        if (comparable && !(az.name.startsWith(r.region) && /^[a-z]$/.test(az.name.slice(r.region.length)))) {
          ctx.addIssue({
            code: 'custom',
            path: ['regions', i, 'availabilityZones', j, 'name'],
            message: `AZ "${az.name}" is not in region ${r.region}`,
          });
        }
      });
    });
    probes.targets.forEach((t, i) => {
      if (t.region !== undefined && !AWS_REGIONS.has(t.region))
        ctx.addIssue({
          code: 'custom',
          path: ['targets', i, 'region'],
          message: `expected an AWS region aws-cdk-lib knows, such as eu-west-1, got ${JSON.stringify(t.region)}`,
        });
      (t.from ?? []).forEach((from, j) => {
        if (!AWS_REGIONS.has(from))
          ctx.addIssue({
            code: 'custom',
            path: ['targets', i, 'from', j],
            message: `expected an AWS region aws-cdk-lib knows, such as eu-west-1, got ${JSON.stringify(from)}`,
          });
        else if (!regions.has(from))
          ctx.addIssue({
            code: 'custom',
            path: ['targets', i, 'from'],
            message: `"${from}" is not a probe region`,
          });
      });
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
  /** External ID required by member roles; the collector sends it with every AssumeRole. */
  externalId: z.string().min(2).max(1224).optional(),
  accounts: z
    .array(z.strictObject({ id: accountId, name }))
    .min(1, 'expected at least one account')
    .superRefine((accounts, ctx) => {
      unique(
        ctx,
        accounts,
        (a) => a.id,
        (i) => [i, 'id'],
        'member account',
      );
      unique(
        ctx,
        accounts,
        (a) => a.name,
        (i) => [i, 'name'],
        'account name',
      );
    }),
  regions: uniqueList(region, 'region').min(1, 'expected at least one region'),
  services: uniqueList(UtilizationServiceSchema, 'service').min(1).default(['ec2', 'rds', 'ecs', 'msk']),
  /** Width of one collection window. */
  lookbackMinutes: z.number().int().min(5).max(1440).default(60),
  /** CloudWatch period of the collected datapoints. */
  periodSeconds: z.union([z.literal(60), z.literal(300), z.literal(3600)]).default(300),
  /** Windows end this long before now, so late CloudWatch datapoints are complete. */
  delayMinutes: z.number().int().min(0).max(60).default(10),
  /**
   * Most metric rows in one batch: a shard with more is split into several batches. The default fits
   * the store function's memory with margin.
   */
  batchMaxRows: z.number().int().min(100).max(1_000_000).default(DEFAULT_BATCH_LIMITS.maxRows),
  /** Most bytes of one batch's JSON: a shard with more is split. Default 16 MiB. */
  batchMaxBytes: z
    .number()
    .int()
    .min(64 * 1024)
    .max(256 * 1024 * 1024)
    .default(DEFAULT_BATCH_LIMITS.maxBytes),
  /** Shards collected at once by the collection workflow. */
  maxConcurrency: z.number().int().min(1).max(40).default(8),
  /** Percentage of shards that may fail before the run fails. */
  toleratedFailurePercent: z.number().min(0).max(100).default(20),
  policy: UnderUsePolicySchema.prefault({}),
  /** Rightsizing: CPU target and memory headroom of a recommended option. */
  rightsizing: RightsizingPolicySchema.prefault({}),
  /** Capacity trends: days fitted, minimum history and fit, thresholds, horizon. */
  trends: CapacityTrendPolicySchema.prefault({}),
  /** UtilizationCapacityForecast fires when a forecast crossing is this many days away or fewer. */
  forecastAlertDays: z.number().int().min(1).max(365).default(14),
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
        .superRefine((t, ctx) => {
          if ((t.above === undefined) === (t.below === undefined))
            ctx.addIssue({
              code: 'custom',
              path: t.above === undefined ? [] : ['below'],
              message:
                t.above === undefined
                  ? 'expected one of "above" or "below"'
                  : `"above" (${t.above}) and "below" (${t.below}) exclude each other: one threshold, one direction`,
            });
        }),
    )
    .superRefine((thresholds, ctx) =>
      unique(
        ctx,
        thresholds,
        (t) => t.name,
        (i) => [i, 'name'],
        'threshold name',
      ),
    )
    .default([]),
  database: z
    .strictObject({
      vpcId,
      subnetIds: uniqueList(subnetId, 'subnet').min(2, 'Aurora needs subnets in at least two AZs'),
      /** Use an existing Aurora cluster instead of creating one. */
      existing: z.strictObject({ clusterArn: arn('rds'), secretArn: arn('secretsmanager') }).optional(),
      /** Aurora capacity units (ACUs), in steps of 0.5; 0 lets the cluster pause. */
      minCapacity: z.number().min(0).max(256).multipleOf(0.5, 'expected a multiple of 0.5 ACU').default(0.5),
      maxCapacity: z.number().min(1).max(256).multipleOf(0.5, 'expected a multiple of 0.5 ACU').default(4),
      deletionProtection: z.boolean().default(true),
      backupRetentionDays: z.number().int().min(1).max(35).default(7),
      /**
       * Seconds between RDS enhanced monitoring samples of the writer's OS (CT.RDS.PR.2); 0 turns it off.
       * The samples go to the account's `RDSOSMetrics` log group.
       */
      monitoringIntervalSeconds: z.literal([0, 1, 5, 10, 15, 30, 60]).default(60),
      databaseName: z
        .string()
        .regex(/^[a-z][a-z0-9_]{0,62}$/)
        .default('observatory'),
    })
    .superRefine((db, ctx) => {
      if (db.minCapacity > db.maxCapacity)
        ctx.addIssue({
          code: 'custom',
          path: ['minCapacity'],
          message: `minCapacity ${db.minCapacity} is above maxCapacity ${db.maxCapacity}`,
        });
    }),
});

export const MskRollbackSchema = z.strictObject({
  enabled: z.boolean().default(true),
  vpcId,
  subnetIds: uniqueList(subnetId, 'subnet').min(1),
  securityGroupIds: uniqueList(securityGroupId, 'security group').min(1),
  /**
   * Apache Kafka release installed in the MirrorMaker 2 image: one whose tarball digest the image pins
   * (`KAFKA_SHA512` in lib/msk-rollback/mm2-image.ts), so every build is verified against the repository.
   */
  kafkaVersion: checked(z.string(), (v) =>
    v in KAFKA_SHA512
      ? undefined
      : `expected a Kafka release the MM2 image pins (${Object.keys(KAFKA_SHA512).join(', ')})`,
  ).default('3.9.1'),
  /** The only clusters a rollback may read from or write to; IAM is scoped to these ARNs. */
  clusters: z
    .array(z.strictObject({ name, arn: arn('kafka') }))
    .min(2, 'expected at least two MSK clusters')
    .superRefine((clusters, ctx) => {
      unique(
        ctx,
        clusters,
        (c) => c.name,
        (i) => [i, 'name'],
        'cluster name',
      );
      unique(
        ctx,
        clusters,
        (c) => c.arn,
        (i) => [i, 'arn'],
        'cluster ARN',
      );
    }),
  defaults: z
    .strictObject({
      maxLagRecords: z.number().int().min(0).default(1000),
      holdMinutes: z.number().int().min(1).default(10),
      convergeTimeoutMinutes: z.number().int().min(5).default(360),
      approvalTimeoutMinutes: z.number().int().min(5).default(1440),
      tasks: z.number().int().min(1).max(10).default(1),
      cpu: z.number().int().default(1024),
      /** Task memory (MiB): 256 go to the ADOT collector sidecar, the rest is MirrorMaker 2's hard limit. */
      memoryMiB: z
        .number()
        .int()
        .min(512, 'expected at least 512 MiB, the smallest Fargate task')
        .default(4096),
    })
    // prefault, not default: zod 4 returns a default as it is, without the fields' own defaults.
    .prefault({}),
});

/** Retention periods CloudWatch Logs accepts, in days. */
export const LOG_RETENTION_DAYS: readonly number[] = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/** Where runbook links point unless `monitoring.runbookBaseUrl` says otherwise. */
export const DEFAULT_RUNBOOK_BASE_URL =
  'https://github.com/infra-observatory/infra-observatory/blob/main/docs/runbooks.md';

/**
 * The AMP workspace: `{ create: true, alias }` creates one, `{ workspaceId }` imports one. One strict
 * object checked by hand rather than a union, so a mistake gets its own message instead of the
 * union's `Invalid input`.
 */
const WorkspaceSchema = z
  .strictObject({
    create: z.literal(true, 'expected true (omit "create" to import a workspace by workspaceId)').optional(),
    alias: name.optional(),
    workspaceId: z
      .string()
      .regex(/^ws-[0-9a-f-]{8,}$/, 'expected an AMP workspace ID such as ws-1234abcd-...')
      .optional(),
  })
  .superRefine((w, ctx) => {
    if (w.create && w.workspaceId !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['workspaceId'],
        message: `"create: true" and "workspaceId" (${w.workspaceId}) exclude each other: create a workspace or import one`,
      });
    else if (!w.create && w.workspaceId === undefined)
      ctx.addIssue({ code: 'custom', message: 'expected "create: true" or "workspaceId: ws-..."' });
    else if (w.workspaceId !== undefined && w.alias !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['alias'],
        message: `"alias" (${w.alias}) applies only to a created workspace, not to workspaceId ${w.workspaceId}`,
      });
  })
  .transform((w): { create: true; alias: string } | { workspaceId: string } =>
    w.workspaceId !== undefined
      ? { workspaceId: w.workspaceId }
      : { create: true, alias: w.alias ?? 'infra-observatory' },
  );

export const MonitoringSchema = z.strictObject({
  homeRegion: region,
  workspace: WorkspaceSchema,
  alertEmails: uniqueList(z.email(), 'e-mail').default([]),
  logRetentionDays: z
    .number()
    .refine((d) => LOG_RETENTION_DAYS.includes(d), {
      error: (issue) =>
        `expected one of the retentions CloudWatch Logs offers (${LOG_RETENTION_DAYS.join(', ')}), got ${JSON.stringify(issue.input)}`,
    })
    .default(30),
  /**
   * Base of the `runbook_url` annotation of every alert: the alert name, lower-cased, is appended as
   * the anchor (`<base>#probetargetdown`).
   * @default docs/runbooks.md of the project repository
   */
  runbookBaseUrl: z.url({ protocol: /^https?$/ }).default(DEFAULT_RUNBOOK_BASE_URL),
  /**
   * Encrypt every log group of the application with a customer managed KMS key (one per region).
   * @default false - CloudWatch Logs' own encryption
   */
  logEncryption: z.boolean().default(false),
  grafana: z
    .strictObject({
      url: z.url({ protocol: /^https$/ }),
      tokenSecretArn: arn('secretsmanager'),
      folder: z.string().min(1).default('Infra Observatory'),
    })
    .optional(),
});

/** One environment the release pipeline deploys, in order. */
export const PipelineEnvironmentSchema = z.strictObject({
  /** Stage name in the pipeline, e.g. staging, production. */
  name,
  /** The environment's own config file (path from the repository root); synthesized by the pipeline. */
  config: z.string().regex(/^[\w./-]+\.ya?ml$/, 'expected a relative path of a .yaml file'),
  /** A manual approval in the pipeline comes before this environment. */
  protected: z.boolean().default(false),
});

/**
 * The release pipeline (optional): a CodePipeline V2 that a git tag starts, which tests, synthesizes
 * and deploys every environment in order.
 */
export const PipelineSchema = z
  .strictObject({
    /** CodeStar (CodeConnections) connection to GitHub, GitLab or Bitbucket. */
    connectionArn: z
      .string()
      .regex(
        /^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection\/[0-9a-f-]{36}$/,
        'expected a connection ARN such as arn:aws:codeconnections:eu-west-1:111111111111:connection/<uuid>',
      ),
    /** Repository as owner/name (GitLab: group/subgroup/name). */
    repository: z.string().regex(/^[\w.-]+(\/[\w.-]+)+$/, 'expected owner/name'),
    /** Branch the tags are cut from; the source action reads it. */
    branch: z.string().min(1).default('main'),
    /** Glob patterns of the git tags that start a release (CodePipeline allows at most 8). */
    tags: z
      .array(z.string().min(1).max(255))
      .min(1)
      .max(8, 'expected at most 8 tag patterns')
      .default(['v*']),
    /** Environments, deployed in this order. */
    environments: z.array(PipelineEnvironmentSchema).min(1, 'expected at least one environment'),
  })
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    p.environments.forEach((e, i) => {
      if (seen.has(e.name))
        ctx.addIssue({
          code: 'custom',
          path: ['environments', i, 'name'],
          message: `duplicate environment "${e.name}"`,
        });
      seen.add(e.name);
    });
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
  pipeline: PipelineSchema.optional(),
});

export type ObservatoryConfig = z.infer<typeof ObservatoryConfigSchema>;
export type MonitoringConfig = z.infer<typeof MonitoringSchema>;
export type ProbesConfig = z.infer<typeof ProbesSchema>;
export type ProbeRegionConfig = z.infer<typeof ProbeRegionSchema>;
export type ProbeTargetConfig = z.infer<typeof ProbeTargetSchema>;
export type UtilizationConfig = z.infer<typeof UtilizationSchema>;
export type MskRollbackConfig = z.infer<typeof MskRollbackSchema>;
export type PipelineConfig = z.infer<typeof PipelineSchema>;
