/**
 * `observatory rollback`: the whole MSK rollback flow from a terminal: check an input and see the MM2
 * config it would run, start an execution (or a dry run), follow it, and send the approve/reject decision
 * a running rollback waits for.
 *
 * ```sh
 * observatory rollback render --input rollback.json --source-brokers b-1...:9098 --target-brokers b-1...:9098
 * observatory rollback start  --input rollback.json [--dry-run]
 * observatory rollback status arn:aws:states:eu-west-1:111111111111:execution:Observatory-MskRollback-Workflow:orders-...
 * observatory rollback approve --token "$TOKEN" --by alice --comment "producers stopped"
 * observatory rollback reject  --token "$TOKEN" --reason "consumers not ready"
 * ```
 * Exit status: 0 on success, 1 when the input is invalid or AWS refused the call, 2 on a usage error or
 * when no AWS region or credentials are available.
 * The AWS SDK clients are imported when a command needs them, so `--help` and `render` stay fast.
 */
import { readFileSync } from 'node:fs';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { DescribeExecutionCommandOutput, HistoryEvent, SFNClient } from '@aws-sdk/client-sfn';
import type { Command } from 'commander';
import { STATE_MACHINE_ARN_OUTPUT } from '../contracts/msk-rollback.ts';
import {
  type ApprovalDecision,
  ApprovalDecisionSchema,
  arnRegion,
  executionConsoleUrl,
  REJECTED_ERROR,
  shellQuote,
} from '../lambdas/msk-rollback/approval.ts';
import {
  type AllowedCluster,
  BUILT_IN_DEFAULTS,
  type ParseResult,
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
  const checked = readAndValidate(opts.input, opts.config, out);
  if (!checked.ok) return checked.status;
  try {
    out.write(
      renderMm2Properties(checked.result.plan, { source: opts.sourceBrokers, target: opts.targetBrokers }),
    );
  } catch (err) {
    out.error(`error: ${(err as Error).message}`);
    return 2;
  }
  return 0;
}

type Checked =
  | { ok: true; raw: Record<string, unknown>; result: Extract<ParseResult, { ok: true }> }
  | { ok: false; status: number };

/**
 * Reads an execution input file and validates it as the ValidateInput function will. Without a config
 * file, both clusters of the input are allowed and named after their ARNs, and the schema's defaults
 * apply; with it, the deployment's clusters and defaults do, exactly as in AWS.
 */
function readAndValidate(file: string, configFile: string | undefined, out: Output): Checked {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    out.error(`error: cannot read ${file}: ${(err as Error).message}`);
    return { ok: false, status: 2 };
  }
  let clusters: AllowedCluster[];
  let defaults: RollbackDefaults = BUILT_IN_DEFAULTS;
  if (configFile) {
    try {
      const section = loadConfig(configFile).mskRollback;
      if (!section) {
        out.error(`error: ${configFile} has no mskRollback section`);
        return { ok: false, status: 2 };
      }
      clusters = section.clusters;
      defaults = section.defaults;
    } catch (err) {
      out.error(err instanceof ConfigError ? err.message : `error: ${(err as Error).message}`);
      return { ok: false, status: 2 };
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
    out.error(`${file}: invalid execution input (${result.problems.length} problems)`);
    for (const p of result.problems) out.error(`  - ${p}`);
    return { ok: false, status: 1 };
  }
  return { ok: true, raw: raw as Record<string, unknown>, result };
}

/** Default name of the deployed MSK rollback stack (`${project}-MskRollback`, project `Observatory`). */
export const DEFAULT_STACK = 'Observatory-MskRollback';

/** Workflow state names the status reads (`STATE` of `lib/msk-rollback/workflow.ts`; a test keeps them equal). */
export const STATUS_STATES = { poll: 'PollReplication', approval: 'RequestApproval' } as const;

/**
 * Turns an AWS SDK error into one line and an exit status: a missing region or missing or rejected
 * credentials are the caller's setup (2), anything else is AWS refusing the call (1).
 */
export function awsFailure(err: unknown, what: string): { status: number; line: string } {
  const e = err as Error;
  if (/region is missing/i.test(e.message ?? ''))
    return { status: 2, line: `error: no AWS region: pass --region or set AWS_REGION (${what})` };
  if (e.name === 'CredentialsProviderError')
    return {
      status: 2,
      line: `error: no AWS credentials: set AWS_PROFILE (after \`aws sso login\`) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (${what})`,
    };
  if (
    ['ExpiredTokenException', 'ExpiredToken', 'UnrecognizedClientException', 'InvalidClientTokenId'].includes(
      e.name,
    )
  )
    return {
      status: 2,
      line: `error: AWS rejected the credentials (${e.name}): refresh them, e.g. \`aws sso login\` (${what})`,
    };
  return { status: 1, line: `error: ${what}: ${e.name}: ${e.message}` };
}

async function sfnClient(region: string | undefined): Promise<SFNClient> {
  const { SFNClient } = await import('@aws-sdk/client-sfn');
  return new SFNClient(region ? { region } : {});
}

/** Options of `rollback start`. */
export interface StartOptions {
  input: string;
  dryRun?: boolean;
  stateMachineArn?: string;
  /** @default DEFAULT_STACK */
  stack?: string;
  region?: string;
  config?: string;
  /** @default `<rollback name>-[dry-]<UTC time>` */
  name?: string;
}

/** AWS clients of `rollback start` (tests hand in clients of mocked SDKs). */
export interface StartClients {
  sfn?: SFNClient;
  cloudFormation?: CloudFormationClient;
}

/**
 * Name of an execution: the rollback's name, `dry-` for a dry run, and the UTC start time to the second.
 * Execution names are unique per state machine for 90 days, so two starts a second apart still differ.
 */
export function executionName(rollback: string, dryRun: boolean, now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${rollback}-${dryRun ? 'dry-' : ''}${stamp}`;
}

async function stateMachineFromStack(
  stack: string,
  region: string | undefined,
  client: CloudFormationClient | undefined,
): Promise<string> {
  const cfn = await import('@aws-sdk/client-cloudformation');
  const cf = client ?? new cfn.CloudFormationClient(region ? { region } : {});
  let outputs: { OutputKey?: string; OutputValue?: string }[];
  try {
    const res = await cf.send(new cfn.DescribeStacksCommand({ StackName: stack }));
    outputs = res.Stacks?.[0]?.Outputs ?? [];
  } catch (err) {
    if ((err as Error).name === 'ValidationError' && /does not exist/.test((err as Error).message))
      throw new UsageError(
        `error: stack ${stack} does not exist in ${await cf.config.region()}: pass --stack, --region or --state-machine-arn`,
      );
    throw err;
  }
  const arn = outputs.find((o) => o.OutputKey === STATE_MACHINE_ARN_OUTPUT)?.OutputValue;
  if (!arn)
    throw new UsageError(
      `error: stack ${stack} has no ${STATE_MACHINE_ARN_OUTPUT} output (deployed by an older version): redeploy it or pass --state-machine-arn`,
    );
  return arn;
}

/** A problem of the caller's making, reported as one line with exit status 1. */
class UsageError extends Error {}

/**
 * Validates an execution input locally, then starts the rollback state machine with it (with
 * `"dryRun": true` for a dry run) and prints the execution ARN and its console URL.
 * The state machine comes from `--state-machine-arn`, or else from the deployed stack's output.
 * @returns the exit status
 */
export async function runStart(
  opts: StartOptions,
  clients: StartClients = {},
  out: Output = STD,
): Promise<number> {
  const checked = readAndValidate(opts.input, opts.config, out);
  if (!checked.ok) return checked.status;
  const stack = opts.stack ?? DEFAULT_STACK;
  let step = `reading the outputs of stack ${stack}`;
  try {
    const stateMachineArn =
      opts.stateMachineArn ?? (await stateMachineFromStack(stack, opts.region, clients.cloudFormation));
    step = `starting ${stateMachineArn}`;
    const { StartExecutionCommand } = await import('@aws-sdk/client-sfn');
    // The state machine's own region, whatever the SDK default is.
    const sfn = clients.sfn ?? (await sfnClient(opts.region ?? arnRegion(stateMachineArn)));
    const dryRun = opts.dryRun ?? false;
    const input = dryRun ? { ...checked.raw, dryRun: true } : checked.raw;
    const res = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn,
        name: opts.name ?? executionName(checked.result.plan.name, dryRun, new Date()),
        input: JSON.stringify(input),
      }),
    );
    const arn = res.executionArn as string;
    out.write(
      [
        `${dryRun ? 'dry run' : 'rollback'} "${checked.result.plan.name}" started: ${checked.result.plan.source.name} -> ${checked.result.plan.target.name} (${checked.result.plan.direction})`,
        `execution: ${arn}`,
        `console:   ${executionConsoleUrl(arn)}`,
        `follow:    observatory rollback status ${shellQuote(arn)}`,
        '',
      ].join('\n'),
    );
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      out.error(err.message);
      return 1;
    }
    const f = awsFailure(err, step);
    out.error(f.line);
    return f.status;
  }
}

/** Options of `rollback status`. */
export interface StatusOptions {
  /** @default - the region of the execution ARN */
  region?: string;
}

/** What a poll left in the execution (`$.poll` and the gate of `$.plan`). */
interface PollSnapshot {
  poll: {
    phase?: string;
    polls?: number;
    restarts?: number;
    deadline?: string | null;
    underGateSince?: string | null;
    action?: string;
    reason?: string;
    lag?: {
      totalRecords: number;
      maxPartitionRecords: number;
      partitions: number;
      partitionsBehind: number;
      topics: number;
      worst?: { topic: string; partition: number; lag: number }[];
    } | null;
    task?: { lastStatus?: string };
  };
  plan?: {
    maxTaskRestarts?: number;
    lagGate?: { maxRecords?: number; holdMinutes?: number; drainMaxRecords?: number };
  };
}

function parseJson(text: string | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const minutesBetween = (from: string | Date, to: Date) =>
  Math.max(0, Math.floor((to.getTime() - new Date(from).getTime()) / 60_000));

/**
 * Describes an execution for a person: status, current state, phase, lag, gate hold, a pending approval
 * with its token and the commands that answer it, and the report or the failure's error and cause.
 * Pure: reads DescribeExecution and the history (newest event first).
 * @param execution DescribeExecution's response
 * @param newestFirst history events, newest first (GetExecutionHistory with `reverseOrder`)
 * @param now the time of the call
 * @returns the lines to print
 */
export function describeRollback(
  execution: Pick<
    DescribeExecutionCommandOutput,
    'executionArn' | 'status' | 'startDate' | 'stopDate' | 'output' | 'error' | 'cause'
  >,
  newestFirst: readonly HistoryEvent[],
  now: Date,
): string[] {
  const arn = execution.executionArn ?? '';
  const region = arnRegion(arn);
  const lines = [`execution: ${arn}`, `console:   ${executionConsoleUrl(arn)}`];
  const started = execution.startDate ? execution.startDate.toISOString() : 'unknown';
  lines.push(
    execution.stopDate
      ? `status:    ${execution.status} (started ${started}, ended ${execution.stopDate.toISOString()})`
      : `status:    ${execution.status} (started ${started}, ${minutesBetween(started, now)} min ago)`,
  );

  // The state the execution is in: the newest state entered and not yet left.
  const exited = new Set<string>();
  let current: HistoryEvent | undefined;
  for (const e of newestFirst) {
    if (e.stateExitedEventDetails?.name) exited.add(e.stateExitedEventDetails.name);
    const entered = e.stateEnteredEventDetails?.name;
    if (entered && !exited.has(entered)) {
      current = e;
      break;
    }
  }
  if (execution.status === 'RUNNING' && current?.stateEnteredEventDetails?.name)
    lines.push(
      `state:     ${current.stateEnteredEventDetails.name} (since ${current.timestamp?.toISOString() ?? 'unknown'})`,
    );

  const lastPoll = newestFirst.find((e) => e.stateExitedEventDetails?.name === STATUS_STATES.poll);
  const snapshot = parseJson(lastPoll?.stateExitedEventDetails?.output) as PollSnapshot | undefined;
  if (snapshot?.poll) {
    const { poll, plan } = snapshot;
    const restarts = `restarts ${poll.restarts ?? 0}${plan?.maxTaskRestarts === undefined ? '' : ` of ${plan.maxTaskRestarts}`}`;
    lines.push(
      `phase:     ${poll.phase ?? 'unknown'}, poll ${poll.polls ?? 0} at ${lastPoll?.timestamp?.toISOString() ?? 'unknown'}, ${restarts}${poll.deadline ? `, deadline ${poll.deadline}` : ''}`,
    );
    if (poll.task?.lastStatus) lines.push(`task:      ${poll.task.lastStatus}`);
    const lag = poll.lag;
    if (lag) {
      const worst = lag.worst?.[0];
      lines.push(
        `lag:       ${lag.totalRecords} records behind over ${lag.partitions} partitions of ${lag.topics} topics; ${lag.partitionsBehind} behind, largest ${lag.maxPartitionRecords}${worst ? ` (${worst.topic}-${worst.partition})` : ''}`,
      );
    }
    const gate = plan?.lagGate;
    if (poll.phase === 'converge' && gate) {
      lines.push(
        poll.underGateSince
          ? `gate:      open since ${poll.underGateSince}, held ${minutesBetween(poll.underGateSince, now)} of ${gate.holdMinutes} min (at most ${gate.maxRecords} records)`
          : `gate:      closed (opens at ${gate.maxRecords} records or fewer, must hold ${gate.holdMinutes} min)`,
      );
    } else if (poll.phase === 'drain' && gate)
      lines.push(`drain:     done at ${gate.drainMaxRecords ?? 0} records or fewer`);
    if (poll.reason) lines.push(`last poll: ${poll.action ?? ''}: ${poll.reason}`);
  }

  if (execution.status === 'RUNNING' && current?.stateEnteredEventDetails?.name === STATUS_STATES.approval) {
    const scheduled = newestFirst.find(
      (e) => e.type === 'TaskScheduled' && (e.id ?? 0) > (current?.id ?? 0),
    )?.taskScheduledEventDetails;
    const params = parseJson(scheduled?.parameters) as { Payload?: { token?: string } } | undefined;
    const token = params?.Payload?.token;
    const expires =
      scheduled?.timeoutInSeconds && current.timestamp
        ? `, expires ${new Date(current.timestamp.getTime() + scheduled.timeoutInSeconds * 1000).toISOString()}`
        : '';
    lines.push(`approval:  waiting for a decision${expires}`);
    if (token) {
      lines.push(
        `  approve: observatory rollback approve --region ${region} --token ${shellQuote(token)}`,
        `  reject:  observatory rollback reject --region ${region} --reason 'why' --token ${shellQuote(token)}`,
      );
    } else lines.push('  (the task token is not in the history: see the approval notification)');
  }

  if (execution.status === 'SUCCEEDED') {
    const report = parseJson(execution.output);
    lines.push(
      'report:',
      ...JSON.stringify(report ?? execution.output ?? null, null, 2)
        .split('\n')
        .map((l) => `  ${l}`),
    );
  } else if (execution.error || execution.cause) {
    lines.push(`error:     ${execution.error ?? '(none)'}`, `cause:     ${execution.cause ?? '(none)'}`);
  }
  return lines;
}

/** History pages read at most: the last poll and the pending approval are among the newest events. */
const HISTORY_PAGES = 4;

/**
 * Prints the state of a rollback execution (DescribeExecution + the newest history events).
 * @returns the exit status
 */
export async function runStatus(
  executionArn: string,
  opts: StatusOptions = {},
  client?: SFNClient,
  out: Output = STD,
  now: () => Date = () => new Date(),
): Promise<number> {
  if (!/^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[^:]+:[^:]+$/.test(executionArn)) {
    out.error(
      `error: "${executionArn}" is not an execution ARN (arn:aws:states:REGION:ACCOUNT:execution:STATE_MACHINE:NAME)`,
    );
    return 2;
  }
  try {
    const { DescribeExecutionCommand, GetExecutionHistoryCommand } = await import('@aws-sdk/client-sfn');
    const sfn = client ?? (await sfnClient(opts.region ?? arnRegion(executionArn)));
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < HISTORY_PAGES; page++) {
      const res = await sfn.send(
        new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 500, nextToken }),
      );
      events.push(...(res.events ?? []));
      nextToken = res.nextToken;
      const hasPoll = events.some((e) => e.stateExitedEventDetails?.name === STATUS_STATES.poll);
      if (!nextToken || hasPoll) break;
    }
    out.write(`${describeRollback(execution, events, now()).join('\n')}\n`);
    return 0;
  } catch (err) {
    const f = awsFailure(err, `describing ${executionArn}`);
    out.error(f.line);
    return f.status;
  }
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
  client?: SFNClient,
  out: Output = STD,
): Promise<number> {
  try {
    const { SendTaskFailureCommand, SendTaskSuccessCommand } = await import('@aws-sdk/client-sfn');
    const sfn = client ?? (await sfnClient(opts.region));
    if (kind === 'approve') {
      const decision: ApprovalDecision = ApprovalDecisionSchema.parse({
        approved: true,
        by: opts.by ?? process.env.USER,
        comment: opts.comment,
        at: new Date().toISOString(),
      });
      await sfn.send(new SendTaskSuccessCommand({ taskToken: opts.token, output: JSON.stringify(decision) }));
      out.write('approved: the rollback drains the lag, stops replication and verifies consumer offsets\n');
    } else {
      await sfn.send(
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
    if (e.name === 'TaskTimedOut' || e.name === 'InvalidToken' || e.name === 'TaskDoesNotExist') {
      out.error(
        `error: ${e.name}: ${e.message} (the request expired, was already answered, or the token is incomplete)`,
      );
      return 1;
    }
    const f = awsFailure(err, `sending the ${kind} decision`);
    out.error(f.status === 1 ? `error: ${e.name}: ${e.message}` : f.line);
    return f.status;
  }
}

/**
 * Registers `observatory rollback` on the program.
 * @param program the root commander program
 */
export function register(program: Command): void {
  const rollback = program
    .command('rollback')
    .description('MSK rollbacks: check an input, start and follow a rollback, approve or reject a cutover');
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
    .command('start')
    .description('validate an execution input and start the rollback state machine with it')
    .requiredOption('-i, --input <file>', 'execution input (JSON)')
    .option('--dry-run', 'validate, discover and render, and report what it would do, without starting MM2')
    .option(
      '--state-machine-arn <arn>',
      'state machine to start (default: the StateMachineArn output of --stack)',
    )
    .option('--stack <name>', 'deployed MSK rollback stack', DEFAULT_STACK)
    .option('--region <region>', 'region of the stack (default: the AWS SDK default)')
    .option('-c, --config <file>', 'validate against the clusters and defaults of this config file')
    .option('--name <name>', 'execution name (default: <rollback name>-<UTC time>)')
    .action(async (opts: StartOptions) => {
      process.exitCode = await runStart(opts);
    });
  rollback
    .command('status')
    .description('show an execution: phase, lag, gate, pending approval, report or failure')
    .argument('<execution-arn>', 'execution ARN (printed by `rollback start`)')
    .option('--region <region>', 'region (default: the region of the ARN)')
    .action(async (executionArn: string, opts: StatusOptions) => {
      process.exitCode = await runStatus(executionArn, opts);
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
