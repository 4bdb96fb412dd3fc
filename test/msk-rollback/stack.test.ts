import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READ_GROUP_PREFIX, STATE_MACHINE_ARN_OUTPUT } from '../../contracts/msk-rollback.ts';
import { SIDECAR_RESERVE_MIB } from '../../lambdas/msk-rollback/input.ts';
import { loadConfig } from '../../lib/config/loader.ts';
import type { MskRollbackConfig } from '../../lib/config/schema.ts';
import { MskRollbackStack } from '../../lib/msk-rollback/msk-rollback-stack.ts';
import { EXAMPLE_CONFIG, type NagFinding, readFindings } from '../support/cdk.ts';

const STACK = 'Observatory-MskRollback';
const config = loadConfig(EXAMPLE_CONFIG).mskRollback as MskRollbackConfig;
let outdir: string;
let template: Template;
let findings: NagFinding[];
let assets: {
  dockerImages: Record<
    string,
    { source: { directory: string; dockerBuildArgs: Record<string, string>; platform?: string } }
  >;
};

type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown };
function statements(): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies).flatMap(
    (p) =>
      (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
        .Statement,
  );
}
const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

beforeAll(() => {
  // Lambda bundling is skipped (esbuild is exercised by the bundle test); the MM2 image asset is staged
  // but never built: synth must not need Docker.
  outdir = mkdtempSync(join(tmpdir(), 'observatory-msk-rollback-'));
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  // Any attempt to run Docker during synth fails: CDK runs Docker through CDK_DOCKER.
  const docker = process.env.CDK_DOCKER;
  process.env.CDK_DOCKER = '/nonexistent/docker';
  const env = { account: '111111111111', region: 'eu-west-1' };
  const monitoring = new Stack(app, 'Monitoring', { env });
  const topic = new sns.Topic(monitoring, 'Alerts', { enforceSSL: true });
  const stack = new MskRollbackStack(app, STACK, {
    env,
    config,
    alertTopic: topic,
    remoteWriteUrl:
      'https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234abcd-0000/api/v1/remote_write',
    workspaceArn: 'arn:aws:aps:eu-west-1:111111111111:workspace/ws-1234abcd-0000',
    logRetention: logs.RetentionDays.ONE_MONTH,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  findings = [];
  try {
    app.synth();
  } catch (err) {
    if (!String(err).includes('Validation failed')) throw err;
    findings = readFindings(join(outdir, 'validation-report.json'));
  }
  if (docker === undefined) delete process.env.CDK_DOCKER;
  else process.env.CDK_DOCKER = docker;
  template = Template.fromJSON(JSON.parse(readFileSync(join(outdir, `${STACK}.template.json`), 'utf8')));
  assets = JSON.parse(readFileSync(join(outdir, `${STACK}.assets.json`), 'utf8'));
  expect(stack.stateMachine).toBeDefined();
}, 120_000);
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('MskRollbackStack', () => {
  it('has no open cdk-nag AwsSolutions finding', () => {
    expect(findings.filter((f) => f.path.startsWith(`${STACK}/`))).toEqual([]);
  });

  it('stages the MM2 image as a Docker asset, built at deploy time with the pinned Kafka release', () => {
    const images = Object.values(assets.dockerImages);
    expect(images).toHaveLength(1);
    const { source } = images[0]!;
    expect(source.platform).toBe('linux/amd64');
    expect(source.dockerBuildArgs).toMatchObject({
      KAFKA_VERSION: '3.9.1',
      SCALA_VERSION: '2.13',
      MSK_IAM_AUTH_VERSION: '2.2.0',
      JMX_EXPORTER_VERSION: '1.0.1',
      // the default release has a pinned checksum, so the build never falls back to Apache's .sha512
      KAFKA_SHA512: expect.stringMatching(/^[0-9A-F]{128}$/),
    });
    expect(readFileSync(join(outdir, source.directory, 'Dockerfile'), 'utf8')).toContain(
      'ENTRYPOINT ["/usr/local/bin/mm2-entrypoint"]',
    );
    expect(readFileSync(join(outdir, source.directory, 'entrypoint.sh'), 'utf8')).toContain(
      'connect-mirror-maker.sh',
    );
  });

  it('never grants kafka-cluster actions on a wildcard cluster', () => {
    const kafkaStatements = statements().filter((s) =>
      list(s.Action).some((a) => a.startsWith('kafka-cluster:')),
    );
    expect(kafkaStatements.length).toBeGreaterThanOrEqual(12);
    const allowed = config.clusters.map((c) => c.arn.split(':cluster/')[1]!);
    for (const s of kafkaStatements) {
      for (const r of list(s.Resource)) {
        expect(typeof r, JSON.stringify(r)).toBe('string');
        const m =
          /^arn:aws:kafka:eu-west-1:111111111111:(cluster|topic|group)\/(.+?)(\/\*|\/observatory-read-\*)?$/.exec(
            r as string,
          );
        expect(m, r as string).not.toBeNull();
        expect(allowed, r as string).toContain(m![2]);
      }
    }
    // DeleteGroup only on the throwaway read groups, never on the pipeline's groups.
    const deletes = kafkaStatements.filter((s) => list(s.Action).includes('kafka-cluster:DeleteGroup'));
    expect(deletes.length).toBe(3);
    for (const s of deletes)
      for (const r of list(s.Resource)) expect(r).toMatch(/:group\/[^/]+\/[^/]+\/observatory-read-\*$/);
    const mskControl = statements().filter((s) => list(s.Action).some((a) => a.startsWith('kafka:')));
    for (const s of mskControl)
      expect(list(s.Resource).sort()).toEqual(config.clusters.map((c) => c.arn).sort());
  });

  it.each(['DiscoverTopics', 'PollReplication', 'VerifyOffsets'])(
    'lets %s describe every group but alter and delete only its own observatory-read-* groups',
    (fn) => {
      const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
        JSON.stringify((p as { Properties: { Roles: unknown } }).Properties.Roles).includes(fn),
      ) as { Properties: { PolicyDocument: { Statement: Statement[] } } }[];
      expect(policies).toHaveLength(1);
      const groupGrants = new Map<string, Set<string>>();
      for (const st of policies[0]!.Properties.PolicyDocument.Statement)
        for (const r of list(st.Resource))
          if (typeof r === 'string' && r.includes(':group/'))
            for (const a of list(st.Action)) groupGrants.set(r, (groupGrants.get(r) ?? new Set()).add(a));
      const readGroups = `/${READ_GROUP_PREFIX}*`;
      for (const c of config.clusters) {
        const [, nameAndUuid] = c.arn.split(':cluster/');
        const groups = `arn:aws:kafka:eu-west-1:111111111111:group/${nameAndUuid}`;
        expect([...(groupGrants.get(`${groups}/*`) ?? [])]).toEqual(['kafka-cluster:DescribeGroup']);
        expect([...(groupGrants.get(`${groups}${readGroups}`) ?? [])].sort()).toEqual([
          'kafka-cluster:AlterGroup',
          'kafka-cluster:DeleteGroup',
        ]);
      }
      expect(groupGrants.size).toBe(config.clusters.length * 2);
    },
  );

  it("lets DiscoverTopics describe every configured cluster, which the dry run's DescribeLogDirs needs", () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify((p as { Properties: { Roles: unknown } }).Properties.Roles).includes('DiscoverTopics'),
    ) as { Properties: { PolicyDocument: { Statement: Statement[] } } }[];
    const described = policies[0]!.Properties.PolicyDocument.Statement.filter((st) =>
      list(st.Action).includes('kafka-cluster:DescribeCluster'),
    ).flatMap((st) => list(st.Resource));
    expect(described.sort()).toEqual(config.clusters.map((c) => c.arn).sort());
  });

  it('lets the MM2 task replicate, read its config and remote-write, and nothing else', () => {
    const policies = template.findResources('AWS::IAM::Policy');
    const taskPolicy = Object.values(policies).find((p) =>
      JSON.stringify((p as { Properties: { Roles: unknown } }).Properties.Roles).includes(
        'Mm2TaskDefinitionTaskRole',
      ),
    ) as { Properties: { PolicyDocument: { Statement: Statement[] } } };
    const actions = taskPolicy.Properties.PolicyDocument.Statement.flatMap((st) => list(st.Action)).sort();
    expect(actions).toEqual(
      [
        'aps:RemoteWrite',
        's3:GetObject',
        'kafka-cluster:AlterGroup',
        'kafka-cluster:AlterTopic',
        'kafka-cluster:AlterTopicDynamicConfiguration',
        'kafka-cluster:Connect',
        'kafka-cluster:CreateTopic',
        'kafka-cluster:DescribeCluster',
        'kafka-cluster:DescribeClusterDynamicConfiguration',
        'kafka-cluster:DescribeGroup',
        'kafka-cluster:DescribeTopic',
        'kafka-cluster:DescribeTopicDynamicConfiguration',
        'kafka-cluster:ReadData',
        'kafka-cluster:WriteData',
        'kafka-cluster:WriteDataIdempotently',
      ].sort(),
    );
  });

  it('runs MM2 with an ADOT sidecar on Fargate in a cluster with Container Insights', () => {
    template.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      RequiresCompatibilities: ['FARGATE'],
      NetworkMode: 'awsvpc',
      Cpu: '1024',
      Memory: '4096',
      RuntimePlatform: { CpuArchitecture: 'X86_64', OperatingSystemFamily: 'LINUX' },
      ContainerDefinitions: [
        Match.objectLike({
          Name: 'mm2',
          Essential: true,
          // Hard limits (CT.ECS.PR.7): the collector's share is the one the JVM heap is sized around.
          Memory: 4096 - SIDECAR_RESERVE_MIB,
          PortMappings: [Match.objectLike({ ContainerPort: 9404 })],
          LogConfiguration: Match.objectLike({ LogDriver: 'awslogs' }),
        }),
        Match.objectLike({
          Name: 'adot-collector',
          Essential: false,
          Memory: SIDECAR_RESERVE_MIB,
          MemoryReservation: SIDECAR_RESERVE_MIB,
          Image: 'public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0',
          Environment: Match.arrayWith([
            Match.objectLike({
              Name: 'AOT_CONFIG_CONTENT',
              Value: Match.stringLikeRegexp('prometheusremotewrite'),
            }),
          ]),
        }),
      ],
    });
  });

  it('exports the state machine ARN for `observatory rollback start`', () => {
    template.hasOutput(STATE_MACHINE_ARN_OUTPUT, { Value: { Ref: Match.stringLikeRegexp('^Workflow') } });
  });

  it('runs both containers as non-root users on read-only root file systems, writing only to task volumes', () => {
    const td = Object.values(template.findResources('AWS::ECS::TaskDefinition'))[0] as {
      Properties: {
        Volumes: { Name: string; Host?: unknown }[];
        ContainerDefinitions: {
          Name: string;
          User?: string;
          ReadonlyRootFilesystem?: boolean;
          MountPoints?: { SourceVolume: string; ContainerPath: string; ReadOnly: boolean }[];
        }[];
      };
    };
    // Fargate ephemeral bind mounts: no host path, no EFS, no Docker volume driver.
    expect(td.Properties.Volumes).toEqual([{ Name: 'mm2-home' }, { Name: 'tmp' }]);
    const byName = new Map(td.Properties.ContainerDefinitions.map((c) => [c.Name, c]));
    const mm2 = byName.get('mm2')!;
    const adot = byName.get('adot-collector')!;
    for (const c of [mm2, adot]) {
      expect(c.ReadonlyRootFilesystem, c.Name).toBe(true);
      expect(Number(c.User), c.Name).toBeGreaterThanOrEqual(1000);
    }
    expect(mm2.User).toBe('1001');
    expect(mm2.MountPoints).toEqual([
      { SourceVolume: 'mm2-home', ContainerPath: '/opt/mm2', ReadOnly: false },
      { SourceVolume: 'tmp', ContainerPath: '/tmp', ReadOnly: false },
    ]);
    expect(adot.MountPoints).toEqual([{ SourceVolume: 'tmp', ContainerPath: '/tmp', ReadOnly: false }]);
    // Fargate seeds a bind mount from the image (owner and mode included) only where the image declares
    // a VOLUME at the same path, so every writable mount of the MM2 container must be one, owned by its user.
    const image = Object.values(assets.dockerImages)[0]!.source.directory;
    const dockerfile = readFileSync(join(outdir, image, 'Dockerfile'), 'utf8');
    const volumes = JSON.parse(/^VOLUME (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    expect(volumes.sort()).toEqual(mm2.MountPoints!.map((m) => m.ContainerPath).sort());
    expect(dockerfile).toMatch(/^USER 1001$/m);
    expect(dockerfile).toContain('chown -R 1001:1001 /opt/mm2');
    expect(dockerfile).toContain('chmod 1777 /tmp');
  });

  it('logs every state machine event with execution data and traces it', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: `${STACK}-Workflow`,
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
    });
  });

  it('stops the tasks of aborted, timed-out and failed executions from an EventBridge rule', () => {
    const rule = Object.values(template.findResources('AWS::Events::Rule'))[0] as {
      Properties: {
        EventPattern: { source: string[]; 'detail-type': string[]; detail: { status: string[] } };
        Targets: { Arn: unknown; RetryPolicy: unknown }[];
      };
    };
    expect(rule.Properties.EventPattern.source).toEqual(['aws.states']);
    expect(rule.Properties.EventPattern['detail-type']).toEqual(['Step Functions Execution Status Change']);
    expect(rule.Properties.EventPattern.detail.status).toEqual(['ABORTED', 'TIMED_OUT', 'FAILED']);
    expect(JSON.stringify(rule.Properties.Targets[0]!.Arn)).toMatch(/StopReplication/);
    expect(rule.Properties.Targets[0]!.RetryPolicy).toEqual({
      MaximumEventAgeInSeconds: 21600,
      MaximumRetryAttempts: 8,
    });
  });

  it('attaches the functions that speak Kafka to the task subnets and security groups', () => {
    const fns = template.findResources('AWS::Lambda::Function', {
      Properties: { VpcConfig: Match.anyValue() },
    });
    const descriptions = Object.values(fns)
      .map((f) => (f as { Properties: { Description: string } }).Properties.Description)
      .sort();
    expect(descriptions).toEqual([
      'MSK rollback: select topics and groups',
      'MSK rollback: task health, lag, gate',
      'MSK rollback: verify group offsets and report',
    ]);
    for (const f of Object.values(fns)) {
      expect((f as { Properties: { VpcConfig: unknown } }).Properties.VpcConfig).toEqual({
        SubnetIds: config.subnetIds,
        SecurityGroupIds: config.securityGroupIds,
      });
    }
  });
});
