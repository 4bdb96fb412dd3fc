/**
 * `observatory rollback`: check an MSK rollback input and see the MM2 config it would run, and send the
 * approve/reject decision a running rollback waits for.
 *
 * ```sh
 * observatory rollback render --input rollback.json --source-brokers b-1...:9098 --target-brokers b-1...:9098
 * observatory rollback approve --token "$TOKEN" --by alice --comment "producers stopped"
 * observatory rollback reject  --token "$TOKEN" --reason "consumers not ready"
 * ```
 * Exit status: 0 on success, 1 when the input is invalid or the decision was not accepted, 2 on a usage error.
 */
import { readFileSync } from 'node:fs';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { Command } from 'commander';
import {
  type ApprovalDecision,
  ApprovalDecisionSchema,
  REJECTED_ERROR,
} from '../lambdas/msk-rollback/approval.ts';
import {
  type AllowedCluster,
  BUILT_IN_DEFAULTS,
  parseRollbackInput,
  type RollbackDefaults,
} from '../lambdas/msk-rollback/input.ts';
import { renderMm2Properties } from '../lambdas/msk-rollback/mm2-config.ts';
import { ConfigError, loadConfig } from '../lib/config/loader.ts';

/** Where a command writes. */
export interface Output {
  write(text: string): void;
  error(line: string): void;
}

const STD: Output = { write: (t) => process.stdout.write(t), error: (l) => console.error(l) };

/** Options of `rollback render`. */
export interface RenderOptions {
  input: string;
  sourceBrokers: string;
  targetBrokers: string;
  config?: string;
}

/**
 * Validates an execution input and prints the MM2 properties it would run.
 * Without `--config`, both clusters of the input are allowed and named after their ARNs, and the
 * schema's defaults apply; with it, the deployment's clusters and defaults do, exactly as in AWS.
 * @returns the exit status
 */
export function runRender(opts: RenderOptions, out: Output = STD): number {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(opts.input, 'utf8'));
  } catch (err) {
    out.error(`error: cannot read ${opts.input}: ${(err as Error).message}`);
    return 2;
  }
  let clusters: AllowedCluster[];
  let defaults: RollbackDefaults = BUILT_IN_DEFAULTS;
  if (opts.config) {
    try {
      const section = loadConfig(opts.config).mskRollback;
      if (!section) {
        out.error(`error: ${opts.config} has no mskRollback section`);
        return 2;
      }
      clusters = section.clusters;
      defaults = section.defaults;
    } catch (err) {
      out.error(err instanceof ConfigError ? err.message : `error: ${(err as Error).message}`);
      return 2;
    }
  } else {
    const r = raw as { sourceClusterArn?: unknown; targetClusterArn?: unknown };
    clusters = [r.sourceClusterArn, r.targetClusterArn]
      .filter((a): a is string => typeof a === 'string')
      .map((arn) => ({ arn, name: arn.split('/')[1] ?? arn }));
  }
  const result = parseRollbackInput(raw, {
    clusters,
    defaults,
    execution: {
      executionArn: 'arn:aws:states:local:000000000000:execution:render:local',
      executionName: 'local',
      startTime: new Date().toISOString(),
      stateMachineArn: 'arn:aws:states:local:000000000000:stateMachine:render',
    },
  });
  if (!result.ok) {
    out.error(`${opts.input}: invalid execution input (${result.problems.length} problems)`);
    for (const p of result.problems) out.error(`  - ${p}`);
    return 1;
  }
  try {
    out.write(renderMm2Properties(result.plan, { source: opts.sourceBrokers, target: opts.targetBrokers }));
  } catch (err) {
    out.error(`error: ${(err as Error).message}`);
    return 2;
  }
  return 0;
}

/** Options of `rollback approve` and `rollback reject`. */
export interface DecisionOptions {
  token: string;
  region?: string;
  by?: string;
  comment?: string;
  reason?: string;
}

/**
 * Sends a decision: SendTaskSuccess with `{approved: true, ...}`, or SendTaskFailure with error
 * `RollbackRejected` and the reason as cause.
 * @returns the exit status
 */
export async function runDecision(
  kind: 'approve' | 'reject',
  opts: DecisionOptions,
  client: SFNClient = new SFNClient(opts.region ? { region: opts.region } : {}),
  out: Output = STD,
): Promise<number> {
  try {
    if (kind === 'approve') {
      const decision: ApprovalDecision = ApprovalDecisionSchema.parse({
        approved: true,
        by: opts.by ?? process.env.USER,
        comment: opts.comment,
        at: new Date().toISOString(),
      });
      await client.send(
        new SendTaskSuccessCommand({ taskToken: opts.token, output: JSON.stringify(decision) }),
      );
      out.write('approved: the rollback drains the lag, stops replication and verifies consumer offsets\n');
    } else {
      await client.send(
        new SendTaskFailureCommand({
          taskToken: opts.token,
          error: REJECTED_ERROR,
          cause: (opts.reason ?? '').slice(0, 32768),
        }),
      );
      out.write('rejected: the rollback stops replication and ends without cutover\n');
    }
    return 0;
  } catch (err) {
    const e = err as Error;
    const hint =
      e.name === 'TaskTimedOut' || e.name === 'InvalidToken' || e.name === 'TaskDoesNotExist'
        ? ' (the request expired, was already answered, or the token is incomplete)'
        : '';
    out.error(`error: ${e.name}: ${e.message}${hint}`);
    return 1;
  }
}

/**
 * Registers `observatory rollback` on the program.
 * @param program the root commander program
 */
export function register(program: Command): void {
  const rollback = program
    .command('rollback')
    .description('MSK rollbacks: check an input, approve or reject a cutover');
  rollback
    .command('render')
    .description('validate an execution input and print the MirrorMaker 2 properties it would run')
    .requiredOption('-i, --input <file>', 'execution input (JSON)')
    .requiredOption('--source-brokers <list>', 'IAM bootstrap brokers of the source (host:9098,...)')
    .requiredOption('--target-brokers <list>', 'IAM bootstrap brokers of the target (host:9098,...)')
    .option('-c, --config <file>', 'use the clusters and defaults of this config file')
    .action((opts: RenderOptions) => {
      process.exitCode = runRender(opts);
    });
  rollback
    .command('approve')
    .description('approve the cutover a rollback is waiting for')
    .requiredOption('-t, --token <token>', 'task token from the approval request')
    .option('--region <region>', 'region of the state machine (default: the AWS SDK default)')
    .option('--by <name>', 'who approves (default: $USER)')
    .option('--comment <text>', 'recorded in the execution and the report')
    .action(async (opts: DecisionOptions) => {
      process.exitCode = await runDecision('approve', opts);
    });
  rollback
    .command('reject')
    .description('reject the cutover: replication is stopped and nothing is cut over')
    .requiredOption('-t, --token <token>', 'task token from the approval request')
    .requiredOption('--reason <text>', 'why (the execution fails with it)')
    .option('--region <region>', 'region of the state machine (default: the AWS SDK default)')
    .action(async (opts: DecisionOptions) => {
      process.exitCode = await runDecision('reject', opts);
    });
}
