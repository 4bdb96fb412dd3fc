/**
 * Runs every doctor check against the estate a config describes. The AWS side is read through SDK
 * clients handed in by region (tests mock them at the client boundary); Prometheus through a
 * {@link PromQuery}; the judgement is in evaluate.ts.
 */
import {
  AmpClient,
  DescribeAlertManagerDefinitionCommand,
  DescribeWorkspaceCommand,
  ListRuleGroupsNamespacesCommand,
} from '@aws-sdk/client-amp';
import {
  CloudFormationClient,
  DescribeStacksCommand,
  paginateListStackResources,
  type Stack,
  type StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { ExecuteStatementCommand, RDSDataClient } from '@aws-sdk/client-rds-data';
import { GetScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { type PlannedStack, plannedStacks, stackName, VERSION_TAG } from '#contracts/stacks';
import type { ObservatoryConfig } from '../../lib/config/schema.ts';
import {
  dashboardFingerprint,
  evaluateAlertmanager,
  evaluateCollectionFreshness,
  evaluateDashboards,
  evaluateDlq,
  evaluateExecutions,
  evaluateMigrations,
  evaluateProbeFreshness,
  evaluateReportFreshness,
  evaluateRollbackPhases,
  evaluateRuleNamespaces,
  evaluateSchedules,
  evaluateStack,
  evaluateWorkspace,
  type FailedExecution,
  type JournalEntry,
  type ObservedStack,
  type SourceAz,
} from './evaluate.ts';
import { type CheckResult, fail, warn } from './model.ts';
import { activePhases, type PromQuery, probeKeys, QUERIES } from './promql.ts';

/** Reads what drizzle's migrator recorded: one row per applied migration, `created_at` = the journal's `when`. */
export const MIGRATIONS_SQL = 'select created_at from drizzle.__drizzle_migrations order by created_at';

/** SDK clients of one region. */
export interface RegionClients {
  readonly cloudformation: CloudFormationClient;
  readonly amp: AmpClient;
  readonly scheduler: SchedulerClient;
  readonly sqs: SQSClient;
  readonly cloudwatch: CloudWatchClient;
  readonly sfn: SFNClient;
  readonly rdsData: RDSDataClient;
  readonly secrets: SecretsManagerClient;
  readonly sts: STSClient;
}

/** A published dashboard's model, or undefined when Grafana has none with that UID. */
export type GrafanaGet = (
  url: string,
  token: string,
  uid: string,
) => Promise<Record<string, unknown> | undefined>;

/** What {@link runDoctor} needs besides the config. */
export interface DoctorDeps {
  /** Clients of a region (created once per region). */
  readonly clients: (region: string) => RegionClients;
  /** Instant queries against a query URL. */
  readonly promQuery: (queryUrl: string, region: string) => PromQuery;
  /** This checkout's version. */
  readonly version: string;
  /** The config file, for the fixes. */
  readonly configFile: string;
  /** Committed migrations (drizzle/meta/_journal.json). */
  readonly journal: readonly JournalEntry[];
  /** Rule-groups namespaces the Monitoring stack loads. */
  readonly ruleNamespaces: readonly string[];
  /** This checkout's dashboards (loaded only when Grafana is configured). */
  readonly dashboards: () => Promise<
    readonly { uid: string; title: string; dashboard: Record<string, unknown> }[]
  >;
  /** Reads a dashboard from Grafana. */
  readonly grafanaGet: GrafanaGet;
  /** Reads the token from a secret value. */
  readonly tokenFromSecret: (secret: string, arn: string) => string | Promise<string>;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

/** Builds a {@link RegionClients} with the SDK's default credential chain. */
export function sdkClients(region: string): RegionClients {
  const c = { region };
  return {
    cloudformation: new CloudFormationClient(c),
    amp: new AmpClient(c),
    scheduler: new SchedulerClient(c),
    sqs: new SQSClient(c),
    cloudwatch: new CloudWatchClient(c),
    sfn: new SFNClient(c),
    rdsData: new RDSDataClient(c),
    secrets: new SecretsManagerClient(c),
    sts: new STSClient(c),
  };
}

const errorText = (err: unknown) => {
  const e = err as { name?: string; message?: string };
  return `${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e.message ?? String(err)}`;
};

/** Runs a check; an error becomes a failed row naming it. */
async function guard(
  check: string,
  fix: string,
  fn: () => Promise<CheckResult | CheckResult[]>,
): Promise<CheckResult[]> {
  try {
    const r = await fn();
    return Array.isArray(r) ? r : [r];
  } catch (err) {
    if (isCredentialsError(err)) throw err;
    return [fail(check, `could not check: ${errorText(err)}`, fix)];
  }
}

/** Whether an SDK error means there are no usable credentials at all. */
export function isCredentialsError(err: unknown): boolean {
  const name = (err as { name?: string }).name ?? '';
  return (
    name === 'CredentialsProviderError' ||
    name === 'ExpiredTokenException' ||
    name === 'UnrecognizedClientException' ||
    name === 'InvalidClientTokenId'
  );
}

/** A deployed stack: what was observed, its outputs and a lazy listing of its resources. */
interface DeployedStack {
  readonly planned: PlannedStack;
  readonly stack: Stack;
  readonly outputs: Record<string, string>;
  resources(): Promise<StackResourceSummary[]>;
}

/**
 * Runs every check the config calls for; rows come back in a fixed order.
 * @param config the validated config
 * @param deps clients, queries and this checkout's facts
 * @throws the SDK's credentials error when no credentials are available (the caller prints one line)
 */
export async function runDoctor(config: ObservatoryConfig, deps: DoctorDeps): Promise<CheckResult[]> {
  const now = deps.now ?? (() => new Date());
  const home = config.monitoring.homeRegion;
  const clientCache = new Map<string, RegionClients>();
  const clients = (region: string) => {
    let c = clientCache.get(region);
    if (!c) {
      c = deps.clients(region);
      clientCache.set(region, c);
    }
    return c;
  };
  const rows: CheckResult[] = [];
  const permissions = 'check that your credentials may read it (see docs/operating.md, "observatory doctor")';

  // --- credentials and account ----------------------------------------------------------------------
  const identity = await clients(home).sts.send(new GetCallerIdentityCommand({}));
  if (identity.Account !== config.account) {
    return [
      fail(
        'credentials',
        `credentials are for account ${identity.Account}, the config deploys to ${config.account}`,
        `use credentials of account ${config.account} (AWS_PROFILE=...)`,
      ),
    ];
  }

  // --- stacks ---------------------------------------------------------------------------------------
  const deployed = new Map<string, DeployedStack>();
  for (const planned of plannedStacks(config)) {
    if (planned.account !== config.account) {
      rows.push(
        warn(
          `stack ${planned.name}`,
          `in account ${planned.account}, not checked with credentials of ${config.account}`,
          `run doctor again with credentials of ${planned.account} to check it`,
        ),
      );
      continue;
    }
    rows.push(
      ...(await guard(`stack ${planned.name}`, permissions, async () => {
        const cfn = clients(planned.region).cloudformation;
        let stack: Stack | undefined;
        try {
          stack = (await cfn.send(new DescribeStacksCommand({ StackName: planned.name }))).Stacks?.[0];
        } catch (err) {
          if (!/does not exist/.test((err as Error).message)) throw err;
        }
        const observed: ObservedStack | undefined = stack && {
          status: stack.StackStatus ?? 'UNKNOWN',
          ...(stack.StackStatusReason ? { statusReason: stack.StackStatusReason } : {}),
          ...(stack.Tags?.find((t) => t.Key === VERSION_TAG)?.Value
            ? { version: stack.Tags.find((t) => t.Key === VERSION_TAG)!.Value! }
            : {}),
        };
        if (stack) {
          let listed: StackResourceSummary[] | undefined;
          deployed.set(planned.name, {
            planned,
            stack,
            outputs: Object.fromEntries(
              (stack.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']),
            ),
            resources: async () => {
              if (!listed) {
                listed = [];
                for await (const page of paginateListStackResources(
                  { client: cfn },
                  { StackName: planned.name },
                ))
                  listed.push(...(page.StackResourceSummaries ?? []));
              }
              return listed;
            },
          });
        }
        return evaluateStack(planned, observed, deps.version, deps.configFile);
      })),
    );
  }

  // --- AMP --------------------------------------------------------------------------------------------
  const monitoring = deployed.get(stackName.monitoring(config.project));
  const workspaceId =
    'workspaceId' in config.monitoring.workspace
      ? config.monitoring.workspace.workspaceId
      : monitoring?.outputs.WorkspaceId;
  const queryUrl =
    monitoring?.outputs.QueryUrl ??
    (workspaceId
      ? `https://aps-workspaces.${home}.amazonaws.com/workspaces/${workspaceId}/api/v1/query`
      : undefined);
  if (!workspaceId) {
    rows.push(
      fail(
        'amp workspace',
        'workspace ID unknown: the Monitoring stack is missing',
        'deploy the Monitoring stack first',
      ),
    );
  } else {
    const amp = clients(home).amp;
    rows.push(
      ...(await guard('amp workspace', permissions, async () => {
        try {
          const ws = await amp.send(new DescribeWorkspaceCommand({ workspaceId }));
          return evaluateWorkspace(workspaceId, ws.workspace?.status?.statusCode);
        } catch (err) {
          if ((err as Error).name === 'ResourceNotFoundException')
            return evaluateWorkspace(workspaceId, undefined);
          throw err;
        }
      })),
      ...(await guard('amp rules', permissions, async () => {
        const observed: { name: string; statusCode: string; statusReason?: string }[] = [];
        let nextToken: string | undefined;
        do {
          const page = await amp.send(
            new ListRuleGroupsNamespacesCommand({ workspaceId, ...(nextToken ? { nextToken } : {}) }),
          );
          for (const n of page.ruleGroupsNamespaces ?? [])
            observed.push({
              name: n.name ?? '',
              statusCode: n.status?.statusCode ?? 'UNKNOWN',
              ...(n.status?.statusReason ? { statusReason: n.status.statusReason } : {}),
            });
          nextToken = page.nextToken;
        } while (nextToken);
        return evaluateRuleNamespaces(deps.ruleNamespaces, observed);
      })),
      ...(await guard('amp alertmanager', permissions, async () => {
        try {
          const am = await amp.send(new DescribeAlertManagerDefinitionCommand({ workspaceId }));
          return evaluateAlertmanager(
            am.alertManagerDefinition?.status?.statusCode,
            am.alertManagerDefinition?.status?.statusReason,
          );
        } catch (err) {
          if ((err as Error).name === 'ResourceNotFoundException') return evaluateAlertmanager(undefined);
          throw err;
        }
      })),
    );
  }

  // --- freshness over PromQL -------------------------------------------------------------------------
  if (queryUrl) {
    const query = deps.promQuery(queryUrl, home);
    const serverNow = async () => (await query(QUERIES.now))[0]?.value ?? now().getTime() / 1000;
    const queryFix = 'check aps:QueryMetrics permission and the QueryUrl output of the Monitoring stack';
    const probes = config.probes?.enabled === false ? undefined : config.probes;
    if (probes) {
      const expected: SourceAz[] = probes.regions.flatMap((r) =>
        r.availabilityZones.map((az) => ({ region: r.region, az: az.name })),
      );
      rows.push(
        ...(await guard('probes freshness', queryFix, async () => {
          const [fresh, last, t] = await Promise.all([
            query(QUERIES.probesFresh),
            query(QUERIES.probesLastRun),
            serverNow(),
          ]);
          return evaluateProbeFreshness(
            expected,
            new Set(probeKeys(fresh, 'source_region', 'source_az').keys()),
            probeKeys(last, 'region', 'az'),
            t,
          );
        })),
      );
    }
    const u = config.utilization?.enabled ? config.utilization : undefined;
    if (u) {
      rows.push(
        ...(await guard('utilization collection', queryFix, async () => {
          const [last, t] = await Promise.all([query(QUERIES.collectionLastSuccess), serverNow()]);
          const shards = u.accounts.flatMap((a) =>
            u.regions.flatMap((region) => u.services.map((service) => ({ account: a.id, region, service }))),
          );
          const byShard = new Map(
            last.map((s) => [`${s.metric.account}/${s.metric.region}/${s.metric.service}`, s.value]),
          );
          return evaluateCollectionFreshness(shards, byShard, u.schedule, t);
        })),
        ...(await guard('utilization report', queryFix, async () => {
          const [last, t] = await Promise.all([query(QUERIES.reportLastSuccess), serverNow()]);
          return evaluateReportFreshness(last[0]?.value, t);
        })),
      );
    }
    const m = config.mskRollback?.enabled ? config.mskRollback : undefined;
    if (m) {
      const timeouts = { converge: m.defaults.convergeTimeoutMinutes, drain: 30 };
      rows.push(
        ...(await guard('msk-rollback phases', queryFix, async () =>
          evaluateRollbackPhases(
            activePhases(await query(QUERIES.rollbackPhaseAge(Math.max(...Object.values(timeouts)) + 60))),
            timeouts,
          ),
        )),
      );
    }
  }

  // --- schedules --------------------------------------------------------------------------------------
  for (const d of deployed.values()) {
    if (d.planned.role !== 'probes' && d.planned.role !== 'utilization') continue;
    rows.push(
      ...(await guard(`schedules ${d.planned.name}`, permissions, async () => {
        const names = (await d.resources())
          .filter((r) => r.ResourceType === 'AWS::Scheduler::Schedule' && r.PhysicalResourceId)
          .map((r) => r.PhysicalResourceId!);
        const scheduler = clients(d.planned.region).scheduler;
        const states = await Promise.all(
          names.map(async (name) => ({
            name,
            state: (await scheduler.send(new GetScheduleCommand({ Name: name }))).State,
          })),
        );
        return evaluateSchedules(d.planned.name, states);
      })),
    );
  }

  // --- utilization: DLQ, executions, database ----------------------------------------------------------
  const util = deployed.get(stackName.utilization(config.project));
  if (util && config.utilization?.enabled) {
    const c = clients(home);
    rows.push(
      ...(await guard('utilization store DLQ', permissions, async () => {
        const dlq = (await util.resources()).find(
          (r) =>
            r.ResourceType === 'AWS::SQS::Queue' && r.LogicalResourceId?.startsWith('StoreDeadLetterQueue'),
        );
        if (!dlq?.PhysicalResourceId) throw new Error(`no StoreDeadLetterQueue in ${util.planned.name}`);
        const attrs = await c.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: dlq.PhysicalResourceId,
            AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
          }),
        );
        const depth =
          Number(attrs.Attributes?.ApproximateNumberOfMessages ?? 0) +
          Number(attrs.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
        if (depth === 0) return evaluateDlq(0, undefined);
        const end = now();
        const stats = await c.cloudwatch.send(
          new GetMetricStatisticsCommand({
            Namespace: 'AWS/SQS',
            MetricName: 'ApproximateAgeOfOldestMessage',
            Dimensions: [{ Name: 'QueueName', Value: dlq.PhysicalResourceId.split('/').at(-1)! }],
            StartTime: new Date(end.getTime() - 15 * 60_000),
            EndTime: end,
            Period: 300,
            Statistics: ['Maximum'],
          }),
        );
        const newest = (stats.Datapoints ?? []).sort(
          (a, b) => (b.Timestamp?.getTime() ?? 0) - (a.Timestamp?.getTime() ?? 0),
        )[0];
        return evaluateDlq(depth, newest?.Maximum);
      })),
      ...(await guard('utilization executions (24h)', permissions, async () =>
        evaluateExecutions(
          'utilization executions',
          await failedExecutions(c.sfn, util.outputs.StateMachineArn, now()),
        ),
      )),
      ...(await guard(
        'database migrations',
        'check rds-data:ExecuteStatement and secretsmanager:GetSecretValue on the database secret',
        async () => {
          const { DatabaseClusterArn: resourceArn, DatabaseSecretArn: secretArn } = util.outputs;
          if (!resourceArn || !secretArn) throw new Error(`${util.planned.name} has no database outputs`);
          let applied: number[];
          try {
            const res = await c.rdsData.send(
              new ExecuteStatementCommand({
                resourceArn,
                secretArn,
                database: config.utilization!.database.databaseName,
                sql: MIGRATIONS_SQL,
              }),
            );
            applied = (res.records ?? []).map((r) => Number(r[0]?.longValue ?? r[0]?.stringValue ?? 0));
          } catch (err) {
            // Reachable, but never migrated: every committed migration is pending.
            if (
              !/__drizzle_migrations.*does not exist|schema "drizzle" does not exist/.test(
                (err as Error).message,
              )
            )
              throw err;
            applied = [];
          }
          return evaluateMigrations(deps.journal, applied);
        },
      )),
    );
  }

  // --- msk rollback executions ------------------------------------------------------------------------
  const rollback = deployed.get(stackName.mskRollback(config.project));
  if (rollback && config.mskRollback?.enabled) {
    rows.push(
      ...(await guard('msk-rollback executions (24h)', permissions, async () => {
        const sm = (await rollback.resources()).find(
          (r) => r.ResourceType === 'AWS::StepFunctions::StateMachine',
        );
        return evaluateExecutions(
          'msk-rollback executions',
          await failedExecutions(clients(home).sfn, sm?.PhysicalResourceId, now()),
        );
      })),
    );
  }

  // --- Grafana --------------------------------------------------------------------------------------------
  const grafana = config.monitoring.grafana;
  if (grafana) {
    rows.push(
      ...(await guard(
        'grafana dashboards',
        `check secretsmanager:GetSecretValue on ${grafana.tokenSecretArn} and that the token is valid`,
        async () => {
          const secret = await clients(home).secrets.send(
            new GetSecretValueCommand({ SecretId: grafana.tokenSecretArn }),
          );
          const token = await deps.tokenFromSecret(secret.SecretString ?? '', grafana.tokenSecretArn);
          const dashboards = await deps.dashboards();
          const published = new Map<string, string | undefined>();
          for (const d of dashboards) {
            const got = await deps.grafanaGet(grafana.url, token, d.uid);
            published.set(d.uid, got && dashboardFingerprint(got));
          }
          return evaluateDashboards(
            dashboards.map((d) => ({
              uid: d.uid,
              title: d.title,
              fingerprint: dashboardFingerprint(d.dashboard),
            })),
            published,
          );
        },
      )),
    );
  }
  return rows;
}

/** Executions of a state machine that failed, timed out or were aborted in the 24 hours before `now`. */
async function failedExecutions(
  sfn: SFNClient,
  stateMachineArn: string | undefined,
  now: Date,
): Promise<FailedExecution[]> {
  if (!stateMachineArn) throw new Error('state machine ARN unknown (stack output or resource missing)');
  const since = now.getTime() - 24 * 3600_000;
  const out: FailedExecution[] = [];
  for (const statusFilter of ['FAILED', 'TIMED_OUT', 'ABORTED'] as const) {
    // Newest first; one page of 100 per status is plenty for a day of hourly runs.
    const page = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn, statusFilter, maxResults: 100 }),
    );
    for (const e of page.executions ?? []) {
      const stoppedAt = e.stopDate ?? e.startDate;
      if (!stoppedAt || stoppedAt.getTime() < since) continue;
      const detail =
        out.length < 5
          ? await sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }))
          : undefined;
      out.push({
        name: e.name ?? '',
        status: e.status ?? statusFilter,
        stoppedAt,
        ...(detail?.error ? { error: detail.error } : {}),
        ...(detail?.cause ? { cause: detail.cause } : {}),
      });
    }
  }
  return out.sort((a, b) => b.stoppedAt.getTime() - a.stoppedAt.getTime());
}
