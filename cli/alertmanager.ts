/**
 * `observatory alertmanager`: prints the AMP Alertmanager definition for an imported workspace.
 *
 * ```sh
 * observatory alertmanager --topic-arn arn:aws:sns:eu-west-1:111111111111:alerts --region eu-west-1 > am.yaml
 * ```
 */
import type { Command } from 'commander';
import { renderAlertmanagerDefinition } from '../lib/observability/alertmanager.ts';

/**
 * Registers `observatory alertmanager` on the program.
 * @param program the root commander program
 */
export function register(program: Command): void {
  program
    .command('alertmanager')
    .description(
      'print the AMP Alertmanager definition (for an imported workspace: pipe to `aws amp put-alert-manager-definition`)',
    )
    .requiredOption('--topic-arn <arn>', 'SNS topic that receives alerts')
    .requiredOption('--region <region>', 'region of the topic')
    .action((opts: { topicArn: string; region: string }) => {
      process.stdout.write(renderAlertmanagerDefinition({ topicArn: opts.topicArn, region: opts.region }));
    });
}
