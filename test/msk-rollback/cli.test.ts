import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient, TaskTimedOut } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { Command } from 'commander';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { register, runDecision, runRender } from '../../cli/rollback.ts';
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
    expect(rollback.commands.map((c) => c.name())).toEqual(['render', 'approve', 'reject']);
  });
});

describe('observatory rollback approve | reject', () => {
  const sfn = mockClient(SFNClient);
  afterEach(() => sfn.reset());

  it('approves with SendTaskSuccess carrying who and why', async () => {
    sfn.on(SendTaskSuccessCommand).resolves({});
    const { out, sink } = capture();
    const status = await runDecision(
      'approve',
      { token: 'tok-1', by: 'alice', comment: 'producers stopped' },
      new SFNClient({ region: 'eu-west-1' }),
      sink,
    );
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
