/**
 * `observatory alertmanager`: prints the AMP Alertmanager definition for an imported workspace (pipe it
 * to `aws amp put-alert-manager-definition`). The topic ARN and region are checked before anything is
 * printed: a definition naming a topic in another region or a malformed ARN would be accepted by AMP
 * and then fail every notification.
 */
import type { Command } from 'commander';
import { AWS_REGIONS } from '../lib/config/regions.ts';
import { renderAlertmanagerDefinition } from '../lib/observability/alertmanager.ts';

const TOPIC_ARN = /^arn:(aws[a-z-]*):sns:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,256})$/;

/** A checked destination of the Alertmanager definition. */
export interface AlertmanagerTarget {
  readonly topicArn: string;
  readonly region: string;
}

/**
 * Checks the SNS topic ARN and the region the definition signs its requests for.
 * @param topicArn `arn:aws:sns:<region>:<account>:<name>`
 * @param region the topic's region; defaults to the ARN's
 * @throws Error naming the bad value when the ARN is malformed, the region unknown or not the topic's
 */
export function checkAlertmanagerTarget(topicArn: string, region?: string): AlertmanagerTarget {
  const m = TOPIC_ARN.exec(topicArn);
  if (!m)
    throw new Error(
      `--topic-arn "${topicArn}" is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)`,
    );
  const arnRegion = m[2] as string;
  if (!AWS_REGIONS.has(arnRegion))
    throw new Error(`--topic-arn "${topicArn}" names unknown region "${arnRegion}"`);
  if (region !== undefined && !AWS_REGIONS.has(region))
    throw new Error(`--region "${region}" is not an AWS region`);
  if (region !== undefined && region !== arnRegion)
    throw new Error(
      `--region "${region}" is not the topic's region "${arnRegion}" (AMP signs SNS calls for the topic's region)`,
    );
  return { topicArn, region: arnRegion };
}

/** Registers `observatory alertmanager`. */
export function register(program: Command): void {
  program
    .command('alertmanager')
    .description(
      'print the AMP Alertmanager definition (for an imported workspace: pipe to `aws amp put-alert-manager-definition`)',
    )
    .requiredOption('--topic-arn <arn>', 'SNS topic that receives alerts')
    .option('--region <region>', "region of the topic (default: the ARN's)")
    .action((opts: { topicArn: string; region?: string }, command: Command) => {
      let target: AlertmanagerTarget;
      try {
        target = checkAlertmanagerTarget(opts.topicArn, opts.region);
      } catch (err) {
        // A usage error: exit 2 through the program's exit override, like commander's own.
        return command.error(`error: ${(err as Error).message}`, { exitCode: 2 });
      }
      process.stdout.write(renderAlertmanagerDefinition(target));
    });
}
