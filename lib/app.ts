/**
 * Composes every stack of Infra Observatory from a validated config.
 */
import { Aspects, type Stage, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PROJECT_VERSION, stackName, VERSION_TAG } from '#contracts/stacks';
import { loadConfig } from './config/loader.ts';
import type { ObservatoryConfig } from './config/schema.ts';
import { MskRollbackStack } from './msk-rollback/msk-rollback-stack.ts';
import { LogGroupEncryption } from './observability/log-encryption.ts';
import { MonitoringStack } from './observability/monitoring-stack.ts';
import { ReleasePipelineStack } from './pipeline/release-pipeline-stack.ts';
import { ProbeStack } from './probes/probe-stack.ts';
import { MemberRoleStack } from './utilization/member-role-stack.ts';
import { UtilizationStack } from './utilization/utilization-stack.ts';

/** The stacks built for a config. */
export interface ObservatoryStacks {
  readonly monitoring: MonitoringStack;
  /** One per probe region, in config order. */
  readonly probes: ProbeStack[];
  readonly utilization?: UtilizationStack;
  /** One per utilization member account. */
  readonly memberRoles: MemberRoleStack[];
  readonly mskRollback?: MskRollbackStack;
  /** The release pipeline, when the config has a `pipeline` section. */
  readonly pipeline?: ReleasePipelineStack;
}

/** Options of {@link buildApp}. */
export interface BuildAppOptions {
  /** Run the cdk-nag AwsSolutions checks on synth. @default true */
  readonly nag?: boolean;
  /**
   * The config file the app was built from; the release pipeline synthesizes it again.
   * @default 'config/example.yaml'
   */
  readonly configFile?: string;
  /** Build the release pipeline of a `pipeline` section. @default true */
  readonly pipeline?: boolean;
}

/**
 * Builds the MonitoringStack and the capability stacks the config enables.
 * @param app the CDK app, or a pipeline stage
 * @param config a validated config
 */
export function buildApp(
  app: Stage,
  config: ObservatoryConfig,
  options: BuildAppOptions = {},
): ObservatoryStacks {
  const env = { account: config.account, region: config.monitoring.homeRegion };
  const monitoring = new MonitoringStack(app, stackName.monitoring(config.project), {
    stackName: stackName.monitoring(config.project),
    env,
    description: 'Infra Observatory: AMP workspace, alert rules, Alertmanager and alert topic',
    config: config.monitoring,
  });

  const home = config.monitoring.homeRegion;
  const probes = (config.probes?.enabled === false ? [] : (config.probes?.regions ?? [])).map(
    (region) =>
      new ProbeStack(app, stackName.probes(config.project, region.region), {
        stackName: stackName.probes(config.project, region.region),
        env: { account: config.account, region: region.region },
        crossRegionReferences: region.region !== home,
        description: `Infra Observatory: network probes of ${region.region}, one function per AZ`,
        probes: config.probes!,
        region,
        remoteWriteUrl: monitoring.remoteWriteUrl,
        workspaceArn: monitoring.workspaceArn,
        ampRegion: home,
        alertTopic: region.region === home ? monitoring.alertTopic : undefined,
        alertEmails: config.monitoring.alertEmails,
        logRetention: monitoring.logRetention,
      }),
  );

  const u = config.utilization;
  const utilization = u?.enabled
    ? new UtilizationStack(app, stackName.utilization(config.project), {
        stackName: stackName.utilization(config.project),
        env,
        description:
          'Infra Observatory: utilization collection, idempotent storage in Aurora PostgreSQL, under-use report',
        config: u,
        alertTopic: monitoring.alertTopic,
        alertKey: monitoring.alertKey,
        remoteWriteUrl: monitoring.remoteWriteUrl,
        workspaceArn: monitoring.workspaceArn,
        logRetention: monitoring.logRetention,
        collectorRoleName: collectorRoleName(config.project),
      })
    : undefined;
  const memberRoles = u?.enabled
    ? u.accounts.map(
        (a) =>
          new MemberRoleStack(app, stackName.memberRole(config.project, a.id), {
            stackName: stackName.memberRole(config.project, a.id),
            env: { account: a.id, region: home },
            description: `Infra Observatory: read-only role for the utilization collector in ${a.name}`,
            roleName: u.roleName,
            collectorRoleArn: `arn:aws:iam::${config.account}:role/${collectorRoleName(config.project)}`,
            externalId: u.externalId,
          }),
      )
    : [];

  const m = config.mskRollback;
  const mskRollback = m?.enabled
    ? new MskRollbackStack(app, stackName.mskRollback(config.project), {
        stackName: stackName.mskRollback(config.project),
        env,
        description: 'Infra Observatory: MSK rollback workflow running MirrorMaker 2 on ECS Fargate',
        config: m,
        alertTopic: monitoring.alertTopic,
        alertKey: monitoring.alertKey,
        remoteWriteUrl: monitoring.remoteWriteUrl,
        workspaceArn: monitoring.workspaceArn,
        logRetention: monitoring.logRetention,
      })
    : undefined;

  const p = config.pipeline;
  const pipeline =
    p && (options.pipeline ?? true)
      ? new ReleasePipelineStack(app, `${config.project}-Pipeline`, {
          env,
          description: 'Infra Observatory: release pipeline, from a git tag to every environment',
          pipeline: p,
          configFile: options.configFile ?? 'config/example.yaml',
          logRetention: monitoring.logRetention,
          environments: p.environments.map((e) => ({
            name: e.name,
            protected: e.protected,
            file: e.config,
            config: loadConfig(e.config),
          })),
          // Each environment's stacks keep their own names (stackName above), so doctor finds them.
          buildStage: (stage, c) => buildApp(stage, c, { nag: false, pipeline: false }),
        })
      : undefined;

  for (const [key, value] of Object.entries({ project: config.project, ...config.tags }))
    Tags.of(app).add(key, value);
  // `observatory doctor` compares this tag with its own version.
  Tags.of(app).add(VERSION_TAG, PROJECT_VERSION);
  if (config.monitoring.logEncryption) Aspects.of(app).add(new LogGroupEncryption());
  if (options.nag ?? true)
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { writeSuppressionsToCloudFormation: true }));
  return { monitoring, probes, utilization, memberRoles, mskRollback, pipeline };
}

/** Fixed name of the collector's role, so member accounts can trust it by ARN. */
export function collectorRoleName(project: string): string {
  return `${project}-utilization-collector`;
}
