/**
 * Composes every stack of Infra Observatory from a validated config.
 */
import { type App, Aspects, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { ObservatoryConfig } from './config/schema.ts';
import { MskRollbackStack } from './msk-rollback/msk-rollback-stack.ts';
import { LogGroupEncryption } from './observability/log-encryption.ts';
import { MonitoringStack } from './observability/monitoring-stack.ts';
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
}

/** Options of {@link buildApp}. */
export interface BuildAppOptions {
  /** Run the cdk-nag AwsSolutions checks on synth. @default true */
  readonly nag?: boolean;
}

/**
 * Builds the MonitoringStack and the capability stacks the config enables.
 * @param app the CDK app
 * @param config a validated config
 */
export function buildApp(
  app: App,
  config: ObservatoryConfig,
  options: BuildAppOptions = {},
): ObservatoryStacks {
  const env = { account: config.account, region: config.monitoring.homeRegion };
  const monitoring = new MonitoringStack(app, `${config.project}-Monitoring`, {
    env,
    description: 'Infra Observatory: AMP workspace, alert rules, Alertmanager and alert topic',
    config: config.monitoring,
  });

  const home = config.monitoring.homeRegion;
  const probes = (config.probes?.enabled === false ? [] : (config.probes?.regions ?? [])).map(
    (region) =>
      new ProbeStack(app, `${config.project}-Probes-${region.region}`, {
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
    ? new UtilizationStack(app, `${config.project}-Utilization`, {
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
          new MemberRoleStack(app, `${config.project}-MemberRole-${a.id}`, {
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
    ? new MskRollbackStack(app, `${config.project}-MskRollback`, {
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

  for (const [key, value] of Object.entries({ project: config.project, ...config.tags }))
    Tags.of(app).add(key, value);
  if (config.monitoring.logEncryption) Aspects.of(app).add(new LogGroupEncryption());
  if (options.nag ?? true)
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { writeSuppressionsToCloudFormation: true }));
  return { monitoring, probes, utilization, memberRoles, mskRollback };
}

/** Fixed name of the collector's role, so member accounts can trust it by ARN. */
export function collectorRoleName(project: string): string {
  return `${project}-utilization-collector`;
}
