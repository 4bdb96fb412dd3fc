import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { Command } from 'commander';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_STACK,
  executionName,
  register,
  runDecision,
  runRender,
  runStart,
  runStatus,
  STATUS_STATES,
} from '../../cli/rollback.ts';
import { STATE } from '../../lib/msk-rollback/workflow.ts';
import {
  approvalHistory,
  describeExecution,
  EXECUTION_ARN,
  pollingHistory,
  pollState,
  START,
  STATE_MACHINE_ARN,
  TOKEN,
} from './sfn-history.ts';
import { SOURCE_BROKERS, TARGET_BROKERS } from './world.ts';

const ROOT = join(import.meta.dirname, '../..');
const EXAMPLE = join(ROOT, 'lambdas/msk-rollback/example-input.json');
const dir = mkdtempSync(join(tmpdir(), 'observatory-rollback-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture() {
  const out = { text: '', errors: [] as string[] };
  return { out, sink: { write: (t: string) => (out.text += t), error: (l: string) => out.errors.push(l) } };
}

describe('observatory rollback render', () => {
  it('prints the MM2 properties of the documented example with the config clusters', () => {
    const { out, sink } = capture();
    const status = runRender(
      {
        input: EXAMPLE,
        sourceBrokers: SOURCE_BROKERS,
        targetBrokers: TARGET_BROKERS,
        config: join(ROOT, 'config/example.yaml'),
      },
      sink,
    );
    expect(out.errors).toEqual([]);
    expect(status).toBe(0);
    expect(out.text).toBe(readFileSync(join(import.meta.dirname, 'golden/forward.properties'), 'utf8'));
  });

  it('lists every problem of an invalid input and exits 1', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ name: 'X', topics: { include: ['a,b'] } }));
    const { out, sink } = capture();
    expect(
      runRender({ input: bad, sourceBrokers: SOURCE_BROKERS, targetBrokers: TARGET_BROKERS }, sink),
    ).toBe(1);
    expect(out.errors[0]).toMatch(/bad\.json: invalid execution input \(4 problems\)$/);
    expect(out.errors).toContain('  - sourceClusterArn: required');
    expect(out.text).toBe('');
  });

  it('refuses brokers that are not the IAM listener as a usage error', () => {
    const { out, sink } = capture();
    expect(
      runRender({ input: EXAMPLE, sourceBrokers: 'b-1.x:9092', targetBrokers: TARGET_BROKERS }, sink),
    ).toBe(2);
    expect(out.errors[0]).toBe(
      'error: source bootstrap brokers "b-1.x:9092" are not host:9098 pairs of the MSK IAM listener',
    );
  });

  it('is registered with commander', () => {
    const program = new Command('observatory');
    register(program);
    const rollback = program.commands.find((c) => c.name() === 'rollback')!;
    expect(rollback.commands.map((c) => c.name())).toEqual([
      'render',
      'start',
      'status',
      'approve',
      'reject',
    ]);
  });
});

// One mock per client class for the whole file: a second mockClient(SFNClient) would replace the first.
const sfn = mockClient(SFNClient);
const cfn = mockClient(CloudFormationClient);
afterEach(() => {
  sfn.reset();
  cfn.reset();
});

describe('observatory rollback approve | reject', () => {
  it('approves with SendTaskSuccess carrying who and why', async () => {
    sfn.on(SendTaskSuccessCommand).resolves({});
    const { out, sink } = capture();
    const status = await runDecision(
      'approve',
      { token: 'tok-1', by: 'alice', comment: 'producers stopped' },
      new SFNClient({ region: 'eu-west-1' }),
      sink,
    );
    expect(out.errors).toEqual([]);
    expect(status).toBe(0);
    const input = sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input;
    expect(input.taskToken).toBe('tok-1');
    expect(JSON.parse(input.output!)).toMatchObject({
      approved: true,
      by: 'alice',
      comment: 'producers stopped',
    });
    expect(out.text).toMatch(/^approved/);
  });

  it('rejects with SendTaskFailure and the error the workflow catches', async () => {
    sfn.on(SendTaskFailureCommand).resolves({});
    const { sink } = capture();
    expect(
      await runDecision(
        'reject',
        { token: 'tok-2', reason: 'consumers not ready' },
        new SFNClient({ region: 'eu-west-1' }),
        sink,
      ),
    ).toBe(0);
    expect(sfn.commandCalls(SendTaskFailureCommand)[0]!.args[0].input).toEqual({
      taskToken: 'tok-2',
      error: 'RollbackRejected',
      cause: 'consumers not ready',
    });
  });

  it('explains an expired request', async () => {
    sfn.on(SendTaskSuccessCommand).rejects(new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} }));
    const { out, sink } = capture();
    expect(await runDecision('approve', { token: 'old' }, new SFNClient({ region: 'eu-west-1' }), sink)).toBe(
      1,
    );
    expect(out.errors[0]).toBe(
      'error: TaskTimedOut: Task Timed Out (the request expired, was already answered, or the token is incomplete)',
    );
  });
});

const CREDENTIALS = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'secret' };
const sfnIn = (region = 'eu-west-1') => new SFNClient({ region, credentials: CREDENTIALS });

describe('observatory rollback start', () => {
  const clients = () => ({
    sfn: sfnIn(),
    cloudFormation: new CloudFormationClient({ region: 'eu-west-1', credentials: CREDENTIALS }),
  });
  const stackWithOutput = () =>
    cfn.on(DescribeStacksCommand).resolves({
      $metadata: { httpStatusCode: 200 },
      Stacks: [
        {
          StackId: `arn:aws:cloudformation:eu-west-1:111111111111:stack/${DEFAULT_STACK}/0f6c5e10-d8a1-11f0-8c63-06d2a5a6f2a1`,
          StackName: DEFAULT_STACK,
          CreationTime: new Date('2026-02-01T10:00:00Z'),
          StackStatus: 'UPDATE_COMPLETE',
          Outputs: [
            { OutputKey: 'ConfigBucketName', OutputValue: 'observatory-mskrollback-configbucket' },
            {
              OutputKey: 'StateMachineArn',
              OutputValue: STATE_MACHINE_ARN,
              Description: 'MSK rollback state machine',
            },
          ],
        },
      ],
    });
  const started = (name: string) => ({
    $metadata: { httpStatusCode: 200 },
    executionArn: `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${name}`,
    startDate: START,
  });

  it('validates the input, starts the state machine of the deployed stack with it and prints where to follow it', async () => {
    stackWithOutput();
    sfn.on(StartExecutionCommand).callsFake((input: { name: string }) => started(input.name));
    const { out, sink } = capture();
    const code = await runStart({ input: EXAMPLE }, clients(), sink);
    expect(out.errors).toEqual([]);
    expect(code).toBe(0);
    expect(cfn.commandCalls(DescribeStacksCommand)[0]!.args[0].input).toEqual({ StackName: DEFAULT_STACK });
    const call = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(call.stateMachineArn).toBe(STATE_MACHINE_ARN);
    expect(JSON.parse(call.input!)).toEqual(JSON.parse(readFileSync(EXAMPLE, 'utf8')));
    const name = JSON.parse(readFileSync(EXAMPLE, 'utf8')).name as string;
    expect(call.name).toMatch(new RegExp(`^${name}-\\d{8}T\\d{6}Z$`));
    const arn = `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${call.name}`;
    expect(out.text).toContain(`execution: ${arn}\n`);
    expect(out.text).toContain(
      `console:   https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${arn}\n`,
    );
    expect(out.text).toContain(`follow:    observatory rollback status '${arn}'\n`);
  });

  it('starts a dry run with "dryRun": true in the input and a dry- execution name', async () => {
    sfn.on(StartExecutionCommand).callsFake((input: { name: string }) => started(input.name));
    const { out, sink } = capture();
    expect(
      await runStart({ input: EXAMPLE, dryRun: true, stateMachineArn: STATE_MACHINE_ARN }, clients(), sink),
    ).toBe(0);
    expect(cfn.commandCalls(DescribeStacksCommand)).toHaveLength(0);
    const call = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(JSON.parse(call.input!)).toEqual({ ...JSON.parse(readFileSync(EXAMPLE, 'utf8')), dryRun: true });
    expect(call.name).toMatch(/-dry-\d{8}T\d{6}Z$/);
    expect(out.text).toMatch(/^dry run "/);
  });

  it('names executions by rollback, kind and UTC second', () => {
    const now = new Date('2026-03-02T09:05:07.123Z');
    expect(executionName('orders', false, now)).toBe('orders-20260302T090507Z');
    expect(executionName('orders', true, now)).toBe('orders-dry-20260302T090507Z');
  });

  it('starts nothing when the input is invalid', async () => {
    const bad = join(dir, 'bad-start.json');
    writeFileSync(bad, JSON.stringify({ name: 'orders' }));
    const { out, sink } = capture();
    expect(await runStart({ input: bad, stateMachineArn: STATE_MACHINE_ARN }, clients(), sink)).toBe(1);
    expect(out.errors[0]).toMatch(/bad-start\.json: invalid execution input/);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('says so in one line when the stack has no state machine output or does not exist', async () => {
    cfn.on(DescribeStacksCommand).resolvesOnce({
      Stacks: [
        { StackName: DEFAULT_STACK, StackStatus: 'CREATE_COMPLETE', CreationTime: START, Outputs: [] },
      ],
    });
    const first = capture();
    expect(await runStart({ input: EXAMPLE }, clients(), first.sink)).toBe(1);
    expect(first.out.errors).toEqual([
      `error: stack ${DEFAULT_STACK} has no StateMachineArn output (deployed by an older version): redeploy it or pass --state-machine-arn`,
    ]);
    const missing = new Error(`Stack with id Other does not exist`);
    missing.name = 'ValidationError';
    cfn.on(DescribeStacksCommand).rejects(missing);
    const second = capture();
    expect(await runStart({ input: EXAMPLE, stack: 'Other' }, clients(), second.sink)).toBe(1);
    expect(second.out.errors).toEqual([
      'error: stack Other does not exist in eu-west-1: pass --stack, --region or --state-machine-arn',
    ]);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});

describe('observatory rollback status', () => {
  const NOW = new Date(START.getTime() + 2760 * 1000);

  async function status(history: ReturnType<typeof pollingHistory>, describe = describeExecution()) {
    sfn.on(DescribeExecutionCommand).resolves(describe);
    sfn.on(GetExecutionHistoryCommand).resolves({ $metadata: {}, events: history });
    const { out, sink } = capture();
    const code = await runStatus(EXECUTION_ARN, {}, sfnIn(), sink, () => NOW);
    return { code, out };
  }

  it('reads the state names the workflow defines', () => {
    expect(STATUS_STATES).toEqual({ poll: STATE.pollReplication, approval: STATE.requestApproval });
  });

  it('shows the phase, the lag and how long the gate has held from the newest poll', async () => {
    const { code, out } = await status(pollingHistory());
    expect(code).toBe(0);
    expect(out.errors).toEqual([]);
    const lines = out.text.split('\n');
    expect(lines).toContain('status:    RUNNING (started 2026-03-02T09:00:00.000Z, 46 min ago)');
    expect(lines).toContain('state:     WaitBeforePoll (since 2026-03-02T09:45:00.000Z)');
    expect(lines).toContain(
      'phase:     converge, poll 41 at 2026-03-02T09:45:00.000Z, restarts 1 of 3, deadline 2026-03-02T13:02:00.000Z',
    );
    expect(lines).toContain('task:      RUNNING');
    expect(lines).toContain(
      'lag:       420 records behind over 12 partitions of 3 topics; 2 behind, largest 300 (orders-3)',
    );
    expect(lines).toContain(
      'gate:      open since 2026-03-02T09:40:00.000Z, held 6 of 15 min (at most 1000 records)',
    );
    expect(lines.some((l) => l.startsWith('approval:'))).toBe(false);
    const history = sfn.commandCalls(GetExecutionHistoryCommand)[0]!.args[0].input;
    expect(history).toMatchObject({ executionArn: EXECUTION_ARN, reverseOrder: true });
  });

  it('shows a closed gate with what opens it', async () => {
    const { out } = await status(pollingHistory(pollState({ underGateSince: null })));
    expect(out.text).toContain('gate:      closed (opens at 1000 records or fewer, must hold 15 min)\n');
  });

  it('shows a pending approval with its token, expiry and the commands that answer it', async () => {
    const { code, out } = await status(approvalHistory());
    expect(code).toBe(0);
    const lines = out.text.split('\n');
    expect(lines).toContain('state:     RequestApproval (since 2026-03-02T10:00:00.000Z)');
    expect(lines).toContain('approval:  waiting for a decision, expires 2026-03-02T11:00:00.000Z');
    expect(lines).toContain(`  approve: observatory rollback approve --region eu-west-1 --token '${TOKEN}'`);
    expect(lines).toContain(
      `  reject:  observatory rollback reject --region eu-west-1 --reason 'why' --token '${TOKEN}'`,
    );
  });

  it('shows the error and cause of a failed rollback', async () => {
    const { code, out } = await status(
      pollingHistory(pollState({ action: 'timed_out' })),
      describeExecution({
        status: 'FAILED',
        stopDate: new Date('2026-03-02T13:02:30Z'),
        error: 'LagTimedOut',
        cause: 'lag 12920 above 1000 at the converge deadline 2026-03-02T13:02:00.000Z',
      }),
    );
    expect(code).toBe(0);
    const lines = out.text.split('\n');
    expect(lines).toContain(
      'status:    FAILED (started 2026-03-02T09:00:00.000Z, ended 2026-03-02T13:02:30.000Z)',
    );
    expect(lines).toContain('error:     LagTimedOut');
    expect(lines).toContain(
      'cause:     lag 12920 above 1000 at the converge deadline 2026-03-02T13:02:00.000Z',
    );
    expect(lines.some((l) => l.startsWith('state:'))).toBe(false);
  });

  it('prints the report of a rollback that succeeded', async () => {
    const report = { rollback: 'orders', offsets: { translated: 2, notTranslated: 0 } };
    const { out } = await status(
      pollingHistory(pollState({ phase: 'drain', action: 'drained' })),
      describeExecution({
        status: 'SUCCEEDED',
        stopDate: new Date('2026-03-02T11:00:00Z'),
        output: JSON.stringify(report),
      }),
    );
    expect(out.text).toContain(
      `report:\n${JSON.stringify(report, null, 2)
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n')}\n`,
    );
    expect(out.text).toContain('drain:     done at 0 records or fewer\n');
  });

  it('reads older history pages only until it finds a poll', async () => {
    sfn.on(DescribeExecutionCommand).resolves(describeExecution());
    const [newest, ...rest] = pollingHistory();
    sfn
      .on(GetExecutionHistoryCommand)
      .resolvesOnce({ events: [newest!], nextToken: 'page-2' })
      .resolvesOnce({ events: rest, nextToken: 'page-3' });
    const { out, sink } = capture();
    expect(await runStatus(EXECUTION_ARN, {}, sfnIn(), sink, () => START)).toBe(0);
    const calls = sfn.commandCalls(GetExecutionHistoryCommand).map((c) => c.args[0].input.nextToken);
    expect(calls).toEqual([undefined, 'page-2']);
    expect(out.text).toContain('lag:       420 records behind');
  });

  it('refuses what is not an execution ARN as a usage error without calling AWS', async () => {
    const { out, sink } = capture();
    expect(await runStatus('orders-20260302', {}, sfnIn(), sink)).toBe(2);
    expect(out.errors).toEqual([
      'error: "orders-20260302" is not an execution ARN (arn:aws:states:REGION:ACCOUNT:execution:STATE_MACHINE:NAME)',
    ]);
    expect(sfn.calls()).toHaveLength(0);
  });

  it('reports an unknown execution in one line with exit status 1', async () => {
    sfn
      .on(DescribeExecutionCommand)
      .rejects(
        new ExecutionDoesNotExist({ message: `Execution Does Not Exist: '${EXECUTION_ARN}'`, $metadata: {} }),
      );
    const { out, sink } = capture();
    expect(await runStatus(EXECUTION_ARN, {}, sfnIn(), sink)).toBe(1);
    expect(out.errors).toEqual([
      `error: describing ${EXECUTION_ARN}: ExecutionDoesNotExist: Execution Does Not Exist: '${EXECUTION_ARN}'`,
    ]);
  });
});

describe('observatory rollback without AWS credentials or region', () => {
  const exec = promisify(execFile);
  // The real CLI in a child process: real SDK clients, no mocks, no credential source, no IMDS.
  const run = async (args: string[]) => {
    const home = mkdtempSync(join(dir, 'home-'));
    try {
      await exec(
        process.execPath,
        [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'bin/cli.ts'), ...args],
        {
          cwd: ROOT,
          env: {
            PATH: process.env.PATH,
            HOME: home,
            AWS_CONFIG_FILE: join(home, 'none'),
            AWS_SHARED_CREDENTIALS_FILE: join(home, 'none'),
            AWS_EC2_METADATA_DISABLED: 'true',
          },
        },
      );
      return { code: 0, stderr: '' };
    } catch (err) {
      const e = err as { code: number; stderr: string };
      return { code: e.code, stderr: e.stderr };
    }
  };

  it('status: one line naming the missing credentials, exit 2, no stack trace', async () => {
    const { code, stderr } = await run(['rollback', 'status', EXECUTION_ARN]);
    expect(code).toBe(2);
    expect(stderr.trimEnd().split('\n')).toEqual([
      `error: no AWS credentials: set AWS_PROFILE (after \`aws sso login\`) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (describing ${EXECUTION_ARN})`,
    ]);
  }, 30_000);

  it('start: one line naming the missing region, exit 2, no stack trace', async () => {
    const { code, stderr } = await run(['rollback', 'start', '--input', EXAMPLE]);
    expect(code).toBe(2);
    expect(stderr.trimEnd().split('\n')).toEqual([
      `error: no AWS region: pass --region or set AWS_REGION (reading the outputs of stack ${DEFAULT_STACK})`,
    ]);
  }, 30_000);
});
