/**
 * The fake estate of the doctor tests: the example config deployed in account 111111111111. AWS answers
 * come from aws-sdk-client-mock with the response shapes of the API references (DescribeStacks,
 * ListStackResources, AMP DescribeWorkspace / ListRuleGroupsNamespaces / DescribeAlertManagerDefinition,
 * Scheduler GetSchedule, SQS GetQueueAttributes, SFN ListExecutions / DescribeExecution, RDS Data
 * ExecuteStatement); samples go to a real Prometheus through the project's remote-write client, made by
 * the functions the Lambdas use to make them.
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
  ListStackResourcesCommand,
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
import { mockClient } from 'aws-sdk-client-mock';
import { PROJECT_VERSION, plannedStacks, VERSION_TAG } from '#contracts/stacks';
import { AdvicePolicySchema, UnderUsePolicySchema } from '#contracts/utilization';
import { pollSamples } from '#msk-rollback/metrics';
import type { PollState } from '#msk-rollback/poll';
import { runSamples } from '#probes/samples';
import { RemoteWriteClient, type Sample } from '#shared/remote-write';
import { selfMetricSamples } from '#shared/self-metrics';
import type { UtilizationReport } from '#utilization/report';
import { reportSamples } from '#utilization/report-gauges';
import { readJournal } from '../../cli/doctor.ts';
import type { ObservatoryConfig } from '../../lib/config/schema.ts';

export const ACCOUNT = '111111111111';
const HOME = 'eu-west-1';
const created = new Date('2026-11-02T09:14:03.412Z');

/** The AWS SDK mocks, for tests to change answers. */
export const mocks = {
  cfn: mockClient(CloudFormationClient),
  amp: mockClient(AmpClient),
  scheduler: mockClient(SchedulerClient),
  sqs: mockClient(SQSClient),
  cloudwatch: mockClient(CloudWatchClient),
  sfn: mockClient(SFNClient),
  rdsData: mockClient(RDSDataClient),
  secrets: mockClient(SecretsManagerClient),
  sts: mockClient(STSClient),
};

const stackArn = (name: string, region: string) =>
  `arn:aws:cloudformation:${region}:${ACCOUNT}:stack/${name}/5b8e2a60-9f1d-11f1-8c3e-0a1b2c3d4e5f`;
export const COLLECTION_ARN = `arn:aws:states:${HOME}:${ACCOUNT}:stateMachine:CollectionC8F1A3B2-Xk3mP9qLw2Za`;
export const ROLLBACK_ARN = `arn:aws:states:${HOME}:${ACCOUNT}:stateMachine:Observatory-MskRollback-Workflow`;
export const DLQ_URL = `https://sqs.${HOME}.amazonaws.com/${ACCOUNT}/Observatory-Utilization-StoreDeadLetterQueue4A1B2C3D-r8TqLm2VwXyZ`;
const WORKSPACE_ID = 'ws-3f8e2b1a-7c4d-4e9f-a1b2-c3d4e5f6a7b8';

/** A DescribeStacks `Stacks[0]` as CloudFormation returns it. */
export function describedStack(
  name: string,
  region: string,
  outputs: Record<string, string> = {},
  overrides: Partial<Stack> = {},
): Stack {
  return {
    StackId: stackArn(name, region),
    StackName: name,
    Description: 'Infra Observatory',
    CreationTime: created,
    LastUpdatedTime: new Date('2026-11-27T18:02:44.091Z'),
    RollbackConfiguration: {},
    StackStatus: 'UPDATE_COMPLETE',
    DisableRollback: false,
    NotificationARNs: [],
    Capabilities: ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM', 'CAPABILITY_AUTO_EXPAND'],
    Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
    Tags: [
      { Key: 'project', Value: 'Observatory' },
      { Key: VERSION_TAG, Value: PROJECT_VERSION },
      { Key: 'team', Value: 'infrastructure' },
    ],
    EnableTerminationProtection: false,
    DriftInformation: { StackDriftStatus: 'NOT_CHECKED' },
    ...overrides,
  };
}

const resource = (logical: string, physical: string, type: string): StackResourceSummary => ({
  LogicalResourceId: logical,
  PhysicalResourceId: physical,
  ResourceType: type,
  LastUpdatedTimestamp: created,
  ResourceStatus: 'CREATE_COMPLETE',
  DriftInformation: { StackResourceDriftStatus: 'NOT_CHECKED' },
});

/** Names of the probe schedules of a region's stack. */
const probeSchedules = (config: ObservatoryConfig, region: string) =>
  config
    .probes!.regions.find((r) => r.region === region)!
    .availabilityZones.map(
      (az) =>
        `Observatory-Probes-${region}-Probe${az.id.replace(/-/g, '')}Schedule1A2B3C-${az.name.slice(-1)}Xw9Lq`,
    );

/**
 * Answers every AWS call of a healthy deployment of `config`, the Prometheus query URL as the
 * Monitoring stack's QueryUrl output.
 */
export function healthyAws(
  config: ObservatoryConfig,
  queryUrl: string,
  ruleNamespaces: readonly string[],
): void {
  for (const m of Object.values(mocks)) m.reset();
  mocks.sts.on(GetCallerIdentityCommand).resolves({
    UserId: 'AROA3XFRBF23EXAMPLE:oncall',
    Account: ACCOUNT,
    Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/Operator/oncall`,
  });
  for (const s of plannedStacks(config)) {
    const outputs: Record<string, string> =
      s.role === 'monitoring'
        ? {
            WorkspaceId: WORKSPACE_ID,
            RemoteWriteUrl: `https://aps-workspaces.${HOME}.amazonaws.com/workspaces/${WORKSPACE_ID}/api/v1/remote_write`,
            QueryUrl: queryUrl,
            AlertTopicArn: `arn:aws:sns:${HOME}:${ACCOUNT}:Observatory-Monitoring-AlertTopic2E3F4A5B-k8Lm2Nq`,
          }
        : s.role === 'utilization'
          ? {
              BatchBucketName: 'observatory-utilization-batches8f2a1c3d-1x2y3z4w5v6u',
              StateMachineArn: COLLECTION_ARN,
              DatabaseClusterArn: `arn:aws:rds:${HOME}:${ACCOUNT}:cluster:observatory-utilization-database1a2b3c4d-x9y8z7w6v5u4`,
              DatabaseSecretArn: `arn:aws:secretsmanager:${HOME}:${ACCOUNT}:secret:ObservatoryUtilizationDatabaseSecret-AbCdEf`,
            }
          : {};
    mocks.cfn
      .on(DescribeStacksCommand, { StackName: s.name })
      .resolves({ Stacks: [describedStack(s.name, s.region, outputs)] });
    const resources =
      s.role === 'probes'
        ? probeSchedules(config, s.region).map((n, i) =>
            resource(`Probe${i}Schedule1A2B3C4D`, n, 'AWS::Scheduler::Schedule'),
          )
        : s.role === 'utilization'
          ? [
              resource(
                'CollectionSchedule5E6F7A8B',
                'Observatory-Utilization-CollectionSchedule5E6F7A8B-Q1w2E3r4T5y6',
                'AWS::Scheduler::Schedule',
              ),
              resource(
                'ReportSchedule9C0D1E2F',
                'Observatory-Utilization-ReportSchedule9C0D1E2F-U7i8O9p0A1s2',
                'AWS::Scheduler::Schedule',
              ),
              resource(
                'HealthSchedule3A4B5C6D',
                'Observatory-Utilization-HealthSchedule3A4B5C6D-D3f4G5h6J7k8',
                'AWS::Scheduler::Schedule',
              ),
              resource('StoreDeadLetterQueue4A1B2C3D', DLQ_URL, 'AWS::SQS::Queue'),
              resource(
                'StoreQueue7E8F9A0B',
                DLQ_URL.replace('StoreDeadLetterQueue4A1B2C3D', 'StoreQueue7E8F9A0B'),
                'AWS::SQS::Queue',
              ),
              resource('Collection2B3C4D5E', COLLECTION_ARN, 'AWS::StepFunctions::StateMachine'),
            ]
          : s.role === 'msk-rollback'
            ? [resource('Workflow193EF7C1', ROLLBACK_ARN, 'AWS::StepFunctions::StateMachine')]
            : [];
    mocks.cfn
      .on(ListStackResourcesCommand, { StackName: s.name })
      .resolves({ StackResourceSummaries: resources });
  }
  const status = <T extends string>(statusCode: T) => ({ statusCode });
  mocks.amp.on(DescribeWorkspaceCommand).resolves({
    workspace: {
      workspaceId: WORKSPACE_ID,
      alias: 'infra-observatory',
      arn: `arn:aws:aps:${HOME}:${ACCOUNT}:workspace/${WORKSPACE_ID}`,
      status: status('ACTIVE'),
      prometheusEndpoint: `https://aps-workspaces.${HOME}.amazonaws.com/workspaces/${WORKSPACE_ID}/`,
      createdAt: created,
      tags: {},
    },
  });
  mocks.amp.on(ListRuleGroupsNamespacesCommand).resolves({
    ruleGroupsNamespaces: ruleNamespaces.map((name) => ({
      arn: `arn:aws:aps:${HOME}:${ACCOUNT}:rulegroupsnamespace/${WORKSPACE_ID}/${name}`,
      name,
      status: status('ACTIVE'),
      createdAt: created,
      modifiedAt: created,
      tags: {},
    })),
  });
  mocks.amp.on(DescribeAlertManagerDefinitionCommand).resolves({
    alertManagerDefinition: {
      status: status('ACTIVE'),
      data: new TextEncoder().encode('alertmanager_config: ...'),
      createdAt: created,
      modifiedAt: created,
    },
  });
  mocks.scheduler.on(GetScheduleCommand).callsFake((input: { Name: string }) => ({
    Arn: `arn:aws:scheduler:${HOME}:${ACCOUNT}:schedule/default/${input.Name}`,
    Name: input.Name,
    GroupName: 'default',
    State: 'ENABLED',
    ScheduleExpression: 'rate(1 minute)',
    FlexibleTimeWindow: { Mode: 'OFF' },
    CreationDate: created,
    LastModificationDate: created,
  }));
  mocks.sqs.on(GetQueueAttributesCommand).resolves({
    Attributes: { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' },
  });
  mocks.cloudwatch
    .on(GetMetricStatisticsCommand)
    .resolves({ Label: 'ApproximateAgeOfOldestMessage', Datapoints: [] });
  mocks.sfn.on(ListExecutionsCommand).resolves({ executions: [] });
  const journal = readJournal();
  mocks.rdsData.on(ExecuteStatementCommand).resolves({
    numberOfRecordsUpdated: 0,
    records: journal.map((e) => [{ longValue: e.when }]),
  });
  mocks.secrets.on(GetSecretValueCommand).resolves({
    ARN: config.monitoring.grafana?.tokenSecretArn,
    Name: 'observatory/grafana-token',
    VersionId: 'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111',
    SecretString: JSON.stringify({ token: 'glsa_test_token' }),
    VersionStages: ['AWSCURRENT'],
    CreatedDate: created,
  });
}

/** A failed collection execution, as ListExecutions and DescribeExecution return it. */
export function failedCollection(stoppedAt: Date): void {
  const executionArn = `arn:aws:states:${HOME}:${ACCOUNT}:execution:CollectionC8F1A3B2-Xk3mP9qLw2Za:7f3e1c2a-run`;
  mocks.sfn.on(ListExecutionsCommand, { stateMachineArn: COLLECTION_ARN, statusFilter: 'FAILED' }).resolves({
    executions: [
      {
        executionArn,
        stateMachineArn: COLLECTION_ARN,
        name: '7f3e1c2a-run',
        status: 'FAILED',
        startDate: new Date(stoppedAt.getTime() - 120_000),
        stopDate: stoppedAt,
      },
    ],
  });
  mocks.sfn.on(DescribeExecutionCommand, { executionArn }).resolves({
    executionArn,
    stateMachineArn: COLLECTION_ARN,
    name: '7f3e1c2a-run',
    status: 'FAILED',
    startDate: new Date(stoppedAt.getTime() - 120_000),
    stopDate: stoppedAt,
    input: '{}',
    error: 'States.ExceedToleratedFailureThreshold',
    cause: 'The specified tolerated failure threshold was exceeded',
  });
}

/** Pushes what the estate's functions push, through the project's remote-write client. */
export async function pushSamples(remoteWriteUrl: string, samples: Sample[]): Promise<void> {
  const client = new RemoteWriteClient({ url: remoteWriteUrl, logger: { warn: () => {}, error: () => {} } });
  const r = await client.write(samples);
  if (!r.ok) throw new Error(`remote write failed: ${JSON.stringify(r.failures)}`);
}

/** One probe run of an AZ at a time: the run gauges and the self-metrics. */
export function probeRun(region: string, az: string, azId: string, atMs: number): Sample[] {
  const source = { region, az, azId };
  return [
    ...runSamples(
      source,
      [],
      { durationSeconds: 1.2, coldStart: false, timedOut: 0, discovered: {}, discoveryFailures: {} },
      atMs,
    ),
    ...selfMetricSamples({
      component: 'probes',
      function: 'probe',
      region,
      az,
      success: true,
      startedAtMs: atMs - 1200,
      endedAtMs: atMs,
    }),
  ];
}

/** The health gauges of a report at `atMs`, every shard last stored `ageSeconds` before. */
export function utilizationHealth(
  config: ObservatoryConfig,
  atMs: number,
  ageSeconds: number,
  withReport: boolean,
): Sample[] {
  const u = config.utilization!;
  // A report with no finding, recommendation or forecast: its health and the advice's alert threshold.
  const report: UtilizationReport = {
    generatedAt: new Date(atMs).toISOString(),
    asOf: new Date(atMs).toISOString(),
    policy: UnderUsePolicySchema.parse({}),
    findings: [],
    totals: [],
    rightsizing: [],
    forecasts: [],
    trends: { series: 0, forecasts: 0, tooLittleHistory: 0, noForecast: 0 },
    advice: AdvicePolicySchema.parse({}),
    shards: u.accounts.flatMap((a) =>
      u.regions.flatMap((region) =>
        u.services.map((service) => ({
          accountId: a.id,
          region,
          service,
          lastSuccessSeconds: atMs / 1000 - ageSeconds,
          lastWindowEndSeconds: atMs / 1000 - ageSeconds - 600,
          rejectedLast24h: 0,
        })),
      ),
    ),
  };
  return reportSamples(report, { findings: withReport });
}

/** The poll samples of a rollback execution, one a minute from `fromMs` to `toMs`. */
export function rollbackPolls(
  execution: string,
  phase: PollState['phase'],
  fromMs: number,
  toMs: number,
): Sample[] {
  const plan = {
    name: 'orders-v3-to-v2',
    direction: 'reverse',
    source: { name: 'orders-v3' },
    target: { name: 'orders-v2' },
    execution: { name: execution },
    lagGate: { maxRecords: 1000, drainMaxRecords: 0 },
  } as unknown as Parameters<typeof pollSamples>[0];
  const out: Sample[] = [];
  for (let t = fromMs; t <= toMs; t += 60_000) {
    const poll = {
      phase,
      restarts: 0,
      polls: 0,
      startedAt: null,
      deadline: null,
      underGateSince: null,
      task: { alive: true },
    } as unknown as PollState;
    out.push(...pollSamples(plan, poll, [{ topic: 'orders', partition: 0, lag: 10 }] as never, t));
  }
  return out;
}
