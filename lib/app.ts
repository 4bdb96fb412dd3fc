/**
 * Composes every stack of Infra Observatory from a validated config.
 */
import { type App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { ObservatoryConfig } from './config/schema.ts';
import { MonitoringStack } from './observability/monitoring-stack.ts';

/** The stacks built for a config. */
export interface ObservatoryStacks {
  readonly monitoring: MonitoringStack;
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

  for (const [key, value] of Object.entries({ project: config.project, ...config.tags }))
    Tags.of(app).add(key, value);
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { monitoring };
}
