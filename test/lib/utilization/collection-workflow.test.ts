import aslValidator from 'asl-validator';
import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import { SummaryEventSchema, summarizeCollection } from '../../../lambdas/utilization/collection-summary.ts';
import { buildCollectionDefinition, CollectionStates } from '../../../lib/utilization/collection-workflow.ts';
import { renderAsl } from '../../support/asl.ts';

const shards = ['111111111111', '222222222222'].flatMap((accountId) =>
  ['ec2', 'rds', 'ecs', 'msk', 'ec2']
    .slice(0, 4)
    .flatMap((service) => [{ accountId, region: 'eu-west-1', service }]),
);

function render(toleratedFailurePercent: number) {
  const stack = new Stack(new App(), 'Workflow', { env: { account: '999999999999', region: 'eu-west-1' } });
  const collectFunction = lambda.Function.fromFunctionArn(
    stack,
    'Collect',
    'arn:aws:lambda:eu-west-1:999999999999:function:collect',
  );
  const summaryFunction = lambda.Function.fromFunctionArn(
    stack,
    'Summary',
    'arn:aws:lambda:eu-west-1:999999999999:function:summary',
  );
  const sm = new sfn.StateMachine(stack, 'Collection', {
    definitionBody: sfn.DefinitionBody.fromChainable(
      buildCollectionDefinition(stack, {
        collectFunction,
        shards,
        collectParams: { roleName: 'Reader', lookbackMinutes: 60, periodSeconds: 300, delayMinutes: 10 },
        maxConcurrency: 3,
        toleratedFailurePercent,
        summaryFunction,
      }),
    ),
  });
  return renderAsl(sm);
}

/** Runs the workflow locally; the collect Lambda and CloudWatch are local functions. */
async function run(definition: Record<string, unknown>, failing: Record<string, string>) {
  const invocations: { shard: { accountId: string; service: string }; roleName: string }[] = [];
  const metrics: unknown[] = [];
  const machine = new StateMachine(definition as never, {
    validationOptions: { checkArn: true, checkPaths: true },
  });
  const execution = machine.run(
    {},
    {
      context: {
        Execution: {
          Id: 'arn:aws:states:eu-west-1:999999999999:execution:collection:run-1',
          StartTime: '2026-11-26T08:00:00.000Z',
        },
      },
      overrides: {
        taskResourceLocalHandlers: {
          [CollectionStates.collectShard]: async (input: any) => {
            invocations.push(input);
            const key = `${input.shard.accountId}/${input.shard.service}`;
            if (failing[key]) {
              const err = new Error(failing[key]);
              err.name = failing[key]!.startsWith('role') ? 'ShardError' : 'Error';
              throw err;
            }
            return { shard: input.shard, status: 'ok', batchId: `b-${key}`, rows: 12 };
          },
          // The real summary function's pure core, so the verdict logic under test is the shipped one.
          [CollectionStates.summarize]: async (input: any) => {
            metrics.push(input);
            return summarizeCollection(SummaryEventSchema.parse(input)) as any;
          },
        },
        retryIntervalOverrides: { [CollectionStates.collectShard]: 0, [CollectionStates.summarize]: 0 },
      },
    },
  );
  try {
    return { output: (await execution.result) as any, error: undefined, invocations, metrics };
  } catch (err) {
    if (err instanceof ExecutionError) return { output: undefined, error: err, invocations, metrics };
    throw err;
  }
}

describe('collection workflow', () => {
  it('renders ASL that asl-validator accepts', () => {
    const { isValid, errorsText } = aslValidator(render(25) as never);
    expect(errorsText()).toBe('');
    expect(isValid).toBe(true);
  });

  it('collects every shard once with the collection parameters', async () => {
    const result = await run(render(25), {});
    expect(result.error).toBeUndefined();
    expect(result.invocations.map((i) => `${i.shard.accountId}/${i.shard.service}`).sort()).toEqual(
      shards.map((s) => `${s.accountId}/${s.service}`).sort(),
    );
    expect(result.invocations.every((i) => i.roleName === 'Reader')).toBe(true);
    // Every shard gets the execution's start time ($$.Execution.StartTime, constant for a run in AWS;
    // the local engine re-stamps it per Map iteration, so only its presence is asserted here).
    for (const i of result.invocations as any[])
      expect(i.runStartedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/);
    expect(result.output).toMatchObject({ shards: 8, succeeded: 8, failed: [], withinTolerance: true });
  });

  it('reports a failing shard with its account and reason and still succeeds within tolerance', async () => {
    const result = await run(render(25), {
      '222222222222/rds': 'role InfraObservatoryReader in 222222222222 denied: AccessDenied',
    });
    expect(result.error).toBeUndefined();
    expect(result.output).toMatchObject({ shards: 8, succeeded: 7, withinTolerance: true });
    expect(result.output.failed).toEqual([
      {
        accountId: '222222222222',
        region: 'eu-west-1',
        service: 'rds',
        error: 'ShardError',
        reason: expect.stringContaining('AccessDenied'),
      },
    ]);
    expect(result.metrics).toHaveLength(1);
  });

  it('fails the run when more shards fail than tolerated, after the summary published the heartbeat', async () => {
    const result = await run(render(25), {
      '111111111111/ec2': 'boom',
      '111111111111/rds': 'boom',
      '222222222222/ecs': 'role missing',
    });
    expect(result.error?.message).toContain('3 of 8 shards failed, more than the tolerated 25%');
    expect(result.error?.message).toContain('role missing');
    expect(result.metrics).toHaveLength(1);
    expect((result.metrics[0] as { results: unknown[] }).results).toHaveLength(8);
  });
});
