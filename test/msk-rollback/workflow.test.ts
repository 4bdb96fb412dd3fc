import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { SIDECAR_RESERVE_MIB } from '../../lambdas/msk-rollback/input.ts';
import { STATE } from '../../lib/msk-rollback/workflow.ts';
import { collectStates, renderWorkflowAsl, runWorkflow, stateError, TASK_TOKEN } from './workflow-harness.ts';
import { EXAMPLE_INPUT, makeWorld } from './world.ts';

// asl-validator ships no type declarations.
const aslValidator = createRequire(import.meta.url)('asl-validator') as (definition: unknown) => {
  isValid: boolean;
  errorsText: (separator?: string) => string;
};

// Fast enough to run: hold 2 minutes, converge within 5 (the minimum), one poll per simulated minute.
const INPUT = {
  ...EXAMPLE_INPUT,
  lagGate: { maxRecords: 1000, holdMinutes: 2, drainMaxRecords: 0 },
  timeouts: { convergeMinutes: 5, approveMinutes: 60, drainMinutes: 5 },
};

let asl: Record<string, unknown>;
beforeAll(() => {
  asl = renderWorkflowAsl();
});

describe('rollback workflow definition', () => {
  it('is valid Amazon States Language', () => {
    const { isValid, errorsText } = aslValidator(asl);
    expect(errorsText('\n')).toBe('');
    expect(isValid).toBe(true);
  });

  it('starts by validating the input and waits for approval with a task token and the input timeout', () => {
    const states = asl.States as Record<string, Record<string, unknown>>;
    expect(asl.StartAt).toBe(STATE.validateInput);
    const approval = states[STATE.requestApproval]!;
    expect(approval.Resource).toBe('arn:aws:states:::lambda:invoke.waitForTaskToken');
    expect(approval.TimeoutSecondsPath).toBe('$.Payload.approvalTimeoutSeconds');
    expect(states[STATE.prepareApproval]!.Parameters).toEqual({
      'approvalTimeoutSeconds.$': '$.plan.approvalTimeoutSeconds',
    });
    expect((approval.Parameters as { Payload: Record<string, string> }).Payload['token.$']).toBe(
      '$$.Task.Token',
    );
  });

  it('routes every failure after the task starts through the stop state', () => {
    const states = asl.States as Record<string, Record<string, unknown>>;
    for (const name of [
      STATE.startReplication,
      STATE.pollReplication,
      STATE.requestApproval,
      STATE.restartReplication,
      STATE.stopReplication,
      STATE.verifyOffsets,
    ]) {
      const catches = states[name]!.Catch as { ErrorEquals: string[]; Next: string }[];
      const all = catches.find((c) => c.ErrorEquals.includes('States.ALL'));
      expect(all?.Next, name).toBe(STATE.stopAfterFailure);
    }
    expect(states[STATE.stopAfterFailure]!.Next).toBe(STATE.failed);
  });

  it('tags the task with the execution and checks Failures of RunTask', () => {
    const states = asl.States as Record<string, Record<string, unknown>>;
    const params = states[STATE.startReplication]!.Parameters as { Tags: Record<string, string>[] };
    expect(params.Tags).toContainEqual({ Key: 'observatory:execution-arn', 'Value.$': '$$.Execution.Id' });
    expect(states[STATE.checkStart]!.Choices).toEqual([
      { Variable: '$.runTask.failures[0]', IsPresent: true, Next: STATE.runTaskFailed },
    ]);
  });
});

describe('rollback workflow, run locally', () => {
  it("sizes the MM2 container's hard memory limit from the execution's task size, less the collector's share", async () => {
    const world = makeWorld();
    const started: {
      Overrides: { Memory: string; ContainerOverrides: { Name: string; Memory?: number }[] };
    }[] = [];
    const run = await runWorkflow(
      { ...asl },
      { ...INPUT, mm2: { ...(EXAMPLE_INPUT.mm2 as object), cpu: 2048, memoryMiB: 8192 } },
      {
        ...world.handlers,
        StartReplication: (input) => {
          started.push(input as never);
          return world.handlers.StartReplication!(input);
        },
      },
    );
    expect(run.error).toBeUndefined();
    expect(started[0]?.Overrides.Memory).toBe('8192');
    expect(started[0]?.Overrides.ContainerOverrides.find((c) => c.Name === 'mm2')?.Memory).toBe(
      8192 - SIDECAR_RESERVE_MIB,
    );
  });

  it('replicates, waits for the gate, asks for approval, drains, stops the task and reports', async () => {
    const world = makeWorld();
    const run = await runWorkflow(asl, INPUT, world.handlers);
    expect(run.error).toBeUndefined();
    expect(run.entered.slice(0, 3)).toEqual([
      STATE.validateInput,
      STATE.validateClusters,
      STATE.resolveBrokers,
    ]);
    expect(run.entered.slice(3, 5).sort()).toEqual([STATE.getSourceBrokers, STATE.getTargetBrokers].sort());
    expect(run.entered.slice(5, 13)).toEqual([
      STATE.discoverTopics,
      STATE.renderConfig,
      STATE.isDryRun,
      STATE.startReplication,
      STATE.checkStart,
      STATE.recordTask,
      STATE.initPoll,
      STATE.waitBeforePoll,
    ]);
    expect(run.entered).toContain(STATE.requestApproval);
    expect(run.entered.slice(-6)).toEqual([
      STATE.pollDecision,
      STATE.waitForOffsetSync,
      STATE.stopReplication,
      STATE.verifyOffsets,
      STATE.checkOffsets,
      STATE.succeeded,
    ]);
    expect(run.entered).not.toContain(STATE.stopAfterFailure);
    expect(run.entered).not.toContain(STATE.restartReplication);

    // The one task was stopped by StopReplication, nothing is left running.
    expect(world.ecs.runCalls).toHaveLength(1);
    expect(world.ecs.live()).toEqual([]);
    expect(world.ecs.stopCalls.map((c) => c.reason)).toEqual([
      'msk rollback: cutover approved and lag drained',
    ]);

    // Approval request carried the token and the commands; the report is the output.
    const approval = world.notifier.messages[0]!;
    expect(approval.message).toContain(
      `npx observatory rollback approve --region eu-west-1 --token '${TASK_TOKEN}'`,
    );
    expect(approval.message).toContain(
      'aws stepfunctions send-task-failure --region eu-west-1 --error RollbackRejected',
    );
    const report = run.output as {
      offsets: { groups: { group: string; translated: boolean }[] };
      topics: string[];
    };
    expect(report.topics).toEqual(['orders.created', 'payments.settled']);
    expect(report.offsets.groups.map((g) => [g.group, g.translated])).toEqual([
      ['billing', true],
      ['orders-service', true],
    ]);
    expect(world.notifier.messages.at(-1)!.subject).toBe('MSK rollback orders-to-v3: done');

    // The config the task reads was stored, and lag samples went out on every poll.
    expect([...world.store.objects.keys()]).toEqual(['executions/orders-to-v3-run-1/mm2.properties']);
    const totals = world.sink.samples
      .filter((s) => s.name === 'msk_rollback_lag_records_total')
      .map((s) => s.value);
    expect(totals.length).toBe(world.polls());
    expect(totals[0]).toBeGreaterThan(1000);
    expect(totals.at(-1)).toBe(0);
  });

  it('fails at the first state listing every problem of a bad input', async () => {
    const world = makeWorld();
    const bad = {
      ...INPUT,
      name: 'Orders To V3',
      topics: { include: [] },
      mm2: { cpu: 1000 },
      colour: 'blue',
    };
    const run = await runWorkflow(asl, bad, world.handlers);
    expect(run.entered).toEqual([STATE.validateInput]);
    expect(run.error?.name).toBe('InvalidInput');
    expect(run.error?.cause).toContain('name: expected 1-40 lowercase letters');
    expect(run.error?.cause).toContain('topics.include: expected at least one topic include pattern');
    expect(run.error?.cause).toContain('colour: unknown key');
    expect(run.error?.cause).toContain('mm2.cpu: cpu 1000 is not a Fargate size');
    expect(run.error?.cause).toContain('(4 problems)');
    expect(world.ecs.runCalls).toHaveLength(0);
  });

  it('fails and stops everything when RunTask returns Failures', async () => {
    const world = makeWorld({
      runFailures: [
        [{ Arn: 'arn:aws:ecs:eu-west-1:111111111111:container-instance/x', Reason: 'RESOURCE:ENI' }],
      ],
    });
    const run = await runWorkflow(asl, INPUT, world.handlers);
    expect(run.error?.name).toBe('RunTaskFailed');
    expect(run.error?.cause).toContain('RESOURCE:ENI');
    expect(run.entered.slice(-5)).toEqual([
      STATE.startReplication,
      STATE.checkStart,
      STATE.runTaskFailed,
      STATE.stopAfterFailure,
      STATE.failed,
    ]);
    expect(world.ecs.live()).toEqual([]);
  });

  it('restarts a task that died mid-run and still completes', async () => {
    const world = makeWorld({ crashAtPoll: 2 });
    const run = await runWorkflow(asl, INPUT, world.handlers);
    expect(run.error).toBeUndefined();
    expect(run.entered).toContain(STATE.restartReplication);
    expect(run.entered).toContain(STATE.recordRestartedTask);
    expect(run.entered.at(-1)).toBe(STATE.succeeded);
    expect(world.ecs.runCalls).toHaveLength(2);
    // The crashed task stopped by itself; the replacement was stopped by the workflow.
    expect(world.ecs.stopCalls).toHaveLength(1);
    expect(world.ecs.stopCalls[0]!.taskArn).toMatch(/task2$/);
    expect(world.ecs.live()).toEqual([]);
    const restarts = world.sink.samples
      .filter((s) => s.name === 'msk_rollback_task_restarts_total')
      .map((s) => s.value);
    expect(Math.max(...restarts)).toBe(1);
  });

  it('times out and stops the task when the lag never converges', async () => {
    const world = makeWorld({ rate: 10 });
    const run = await runWorkflow(asl, INPUT, world.handlers);
    expect(run.error?.name).toBe('LagTimedOut');
    expect(run.error?.cause).toMatch(/lag \d+ records still above 1000 after 5 minutes/);
    expect(run.entered.slice(-4)).toEqual([
      STATE.pollDecision,
      STATE.lagTimedOut,
      STATE.stopAfterFailure,
      STATE.failed,
    ]);
    expect(run.entered).not.toContain(STATE.requestApproval);
    expect(world.ecs.stopCalls.map((c) => c.reason)).toEqual(['msk rollback: LagTimedOut']);
    expect(world.ecs.live()).toEqual([]);
  });

  it('stops the task when the cutover is rejected', async () => {
    const world = makeWorld({ decision: stateError('RollbackRejected', 'consumers not ready') });
    const run = await runWorkflow(asl, INPUT, world.handlers);
    expect(run.error).toEqual({ name: 'RollbackRejected', cause: 'consumers not ready' });
    expect(run.entered.slice(-3)).toEqual([STATE.requestApproval, STATE.stopAfterFailure, STATE.failed]);
    expect(run.entered).not.toContain(STATE.stopReplication);
    expect(world.ecs.stopCalls.map((c) => c.reason)).toEqual(['msk rollback: RollbackRejected']);
    expect(world.ecs.live()).toEqual([]);
  });

  it('stops the task when nobody decides before the approval timeout', async () => {
    const world = makeWorld({ decision: 'never' });
    // Same definition with a one-second approval timeout instead of the input's minutes.
    const quick = structuredClone(asl);
    const approval = (quick.States as Record<string, Record<string, unknown>>)[STATE.requestApproval]!;
    delete approval.TimeoutSecondsPath;
    approval.TimeoutSeconds = 1;
    const run = await runWorkflow(quick, INPUT, world.handlers);
    expect(run.error?.name).toBe('ApprovalTimedOut');
    expect(run.error?.cause).toBe('no decision within 60 minutes');
    expect(run.entered.slice(-4)).toEqual([
      STATE.requestApproval,
      STATE.approvalTimedOut,
      STATE.stopAfterFailure,
      STATE.failed,
    ]);
    expect(world.ecs.stopCalls.map((c) => c.reason)).toEqual(['msk rollback: ApprovalTimedOut']);
    expect(world.ecs.live()).toEqual([]);
  });

  it('passes the gate in reverse when only 1 of 4 partitions receives records, and translates its group', async () => {
    // Reverse: MM2 starts at the log end. The 4 selected partitions retain 10,000 records; only
    // orders.created-0 gets new ones (and its consumer keeps up), until the cutover is approved.
    const world = makeWorld({
      direction: 'reverse',
      setup: (source) => {
        source.groups.clear();
        source.setGroup('orders-service', 'Empty', [{ topic: 'orders.created', partition: 0, offset: 5000 }]);
      },
      produce: (_poll, phase, source) => {
        if (phase !== 'converge') return;
        source.produce('orders.created', 0, 50);
        source.commit('orders-service', [
          { topic: 'orders.created', partition: 0, offset: source.topics.get('orders.created')![0]!.end },
        ]);
      },
    });
    const run = await runWorkflow(
      asl,
      {
        ...INPUT,
        name: 'orders-back-to-v2',
        direction: 'reverse',
        sourceClusterArn: EXAMPLE_INPUT.targetClusterArn,
        targetClusterArn: EXAMPLE_INPUT.sourceClusterArn,
        groups: { include: ['orders-service'] },
      },
      world.handlers,
    );
    expect(run.error).toBeUndefined();
    expect(run.entered.at(-1)).toBe(STATE.succeeded);
    const totals = world.sink.samples.filter((s) => s.name === 'msk_rollback_lag_records_total');
    expect(Math.max(...totals.map((s) => s.value))).toBeLessThanOrEqual(50);
    const report = run.output as { offsets: { groups: { group: string; translated: boolean }[] } };
    expect(report.offsets.groups).toMatchObject([{ group: 'orders-service', translated: true }]);
    // The idle partitions were never copied: reverse does not replay history into the old cluster.
    const copied = world.target.topics.get('orders.created')!.map((p) => p.end);
    expect(copied.slice(1)).toEqual([0, 0]);
    expect(copied[0]).toBeGreaterThan(0);
  });

  it('fails with OffsetsNotTranslated after stopping the task and publishing the report', async () => {
    // billing has consumers on the target already: MM2 does not overwrite the offsets of an active group.
    const world = makeWorld({
      setup: (_source, target) =>
        target.setGroup('billing', 'Stable', [{ topic: 'payments.settled', partition: 0, offset: 7 }]),
    });
    const run = await runWorkflow(asl, INPUT, world.handlers);
    expect(run.error?.name).toBe('OffsetsNotTranslated');
    expect(run.error?.cause).toBe(
      '1 consumer group(s) not translated (replication is stopped; the report went to the alert topic): billing: group is Stable on the target: MM2 does not overwrite the offsets of a group with active members; stop its consumers on the target and run again',
    );
    expect(run.entered.slice(-4)).toEqual([
      STATE.stopReplication,
      STATE.verifyOffsets,
      STATE.checkOffsets,
      STATE.offsetsNotTranslated,
    ]);
    expect(world.ecs.stopCalls.map((c) => c.reason)).toEqual([
      'msk rollback: cutover approved and lag drained',
    ]);
    expect(world.ecs.live()).toEqual([]);
    const published = world.notifier.messages.at(-1)!;
    expect(published.subject).toBe('MSK rollback orders-to-v3: FAILED, 1 group(s) not translated');
    expect(published.message).toContain('FAIL billing: group is Stable on the target');
    expect(published.message).toContain('OK   orders-service');
  });

  it('succeeds when the only untranslated group is listed in groups.optional', async () => {
    const world = makeWorld({
      setup: (_source, target) =>
        target.setGroup('billing', 'Stable', [{ topic: 'payments.settled', partition: 0, offset: 7 }]),
    });
    const run = await runWorkflow(
      asl,
      { ...INPUT, groups: { ...(EXAMPLE_INPUT.groups as object), optional: ['bill.*'] } },
      world.handlers,
    );
    expect(run.error).toBeUndefined();
    expect(run.entered.at(-1)).toBe(STATE.succeeded);
    expect(run.output).toMatchObject({
      outcome: 'succeeded',
      offsets: { translated: 1, notTranslated: 1, failed: [] },
    });
    expect(world.notifier.messages.at(-1)!.subject).toBe(
      'MSK rollback orders-to-v3: done, 1 optional group(s) not translated',
    );
  });

  it('ends a dry run with the plan, without starting a task', async () => {
    const world = makeWorld();
    const run = await runWorkflow(asl, { ...INPUT, dryRun: true }, world.handlers);
    expect(run.error).toBeUndefined();
    expect(run.entered.slice(-4)).toEqual([
      STATE.renderConfig,
      STATE.isDryRun,
      STATE.dryRunPlan,
      STATE.dryRunSucceeded,
    ]);
    expect(world.ecs.runCalls).toHaveLength(0);
    expect(world.ecs.stopCalls).toHaveLength(0);
    expect(run.output).toEqual({
      dryRun: true,
      rollback: 'orders-to-v3',
      direction: 'forward',
      source: 'orders-v2',
      target: 'orders-v3',
      topics: ['orders.created', 'payments.settled'],
      partitions: 4,
      groups: ['billing', 'orders-service'],
      retainedRecords: 10_000,
      // 10,000 records of 200 bytes on the leaders; the followers are a record behind on 3 of 4 partitions.
      retainedBytes: { bytes: 2_000_000, replicaBytes: 5_998_800, partitionsWithoutSize: 0 },
      task: { cpu: 1024, memoryMiB: 4096, heapMiB: 2662, mm2Tasks: 4 },
      config: 's3://observatory-msk-rollback-configs/executions/orders-to-v3-run-1/mm2.properties',
      configSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      lagGate: INPUT.lagGate,
      timeouts: INPUT.timeouts,
      historyBudget: { worstCaseEvents: expect.any(Number), budget: 20_000 },
    });
  });

  it('gives up with ReplicationTaskFailed when the task dies and no restart is left', async () => {
    const world = makeWorld({ crashAtPoll: 2 });
    const run = await runWorkflow(asl, { ...INPUT, maxTaskRestarts: 0 }, world.handlers);
    expect(run.error?.name).toBe('ReplicationTaskFailed');
    expect(run.error?.cause).toContain('already restarted 0 of 0 times');
    expect(run.entered.slice(-3)).toEqual([
      STATE.replicationTaskFailed,
      STATE.stopAfterFailure,
      STATE.failed,
    ]);
    expect(world.ecs.live()).toEqual([]);
  });

  it('names a failed stop in the Error and Cause, with the error that led to it', async () => {
    const world = makeWorld({
      rate: 10,
      stopFails: { StopReplicationAfterFailure: stateError('Ecs.ServerException', 'ecs is unavailable') },
    });
    const run = await runWorkflow(asl, INPUT, world.handlers);
    expect(run.error?.name).toBe('StopReplicationFailed');
    expect(run.error?.cause).toMatch(
      /^stopping the MM2 task failed \(Ecs\.ServerException: ecs is unavailable\) after LagTimedOut: lag \d+ records still above 1000 after 5 minutes\. Tasks may still run/,
    );
    expect(run.entered.slice(-3)).toEqual([STATE.stopAfterFailure, STATE.stopFailed, STATE.failed]);
  });

  it('fails with the stop error when stopping after the drain fails, and still stops the task', async () => {
    const world = makeWorld({
      stopFails: { StopReplication: stateError('Ecs.ServerException', 'ecs is unavailable') },
    });
    const run = await runWorkflow(asl, INPUT, world.handlers);
    expect(run.error).toEqual({ name: 'Ecs.ServerException', cause: 'ecs is unavailable' });
    expect(run.entered).not.toContain(STATE.verifyOffsets);
    expect(run.entered.slice(-2)).toEqual([STATE.stopAfterFailure, STATE.failed]);
    expect(world.ecs.live()).toEqual([]);
  });

  it('has a local handler for every task state it runs', () => {
    const tasks = collectStates(asl)
      .filter((s) => s.type === 'Task')
      .map((s) => s.name);
    expect(Object.keys(makeWorld().handlers).sort()).toEqual([...tasks].sort());
  });
});
