import { beforeAll, describe, expect, it } from 'vitest';
import {
  BUILT_IN_DEFAULTS,
  HISTORY,
  historyEstimate,
  parseRollbackInput,
} from '../../lambdas/msk-rollback/input.ts';
import { STATE } from '../../lib/msk-rollback/workflow.ts';
import { EXECUTION } from './plans.ts';
import { renderWorkflowAsl, runWorkflow } from './workflow-harness.ts';
import { CLUSTERS, EXAMPLE_INPUT, makeWorld } from './world.ts';

type States = Record<string, Record<string, unknown>>;

/**
 * History events Step Functions writes for one pass through a state (AWS "Step Functions history event
 * types"): entered and exited for Pass, Wait, Choice and Succeed; a Fail state's entry and the
 * ExecutionFailed event; a task adds Scheduled, Started and Succeeded (and Submitted with a task token);
 * a Parallel state adds Started and Succeeded around its branches.
 */
function eventsOf(state: Record<string, unknown>): number {
  switch (state.Type) {
    case 'Task':
      return 5 + (String(state.Resource).endsWith('.waitForTaskToken') ? 1 : 0);
    case 'Parallel':
      return (
        4 +
        (state.Branches as { States: States }[])
          .flatMap((b) => Object.values(b.States))
          .reduce((n, s) => n + eventsOf(s), 0)
      );
    default:
      return 2;
  }
}

const parse = (overrides: Record<string, unknown>) =>
  parseRollbackInput(
    { ...EXAMPLE_INPUT, ...overrides },
    { clusters: CLUSTERS, defaults: BUILT_IN_DEFAULTS, execution: EXECUTION },
  );

let asl: Record<string, unknown>;
let states: States;
beforeAll(() => {
  asl = renderWorkflowAsl();
  states = asl.States as States;
});

describe('execution history budget', () => {
  it('counts the events of a poll and of a restart from the rendered definition', () => {
    expect(states[STATE.waitBeforePoll]!.Next).toBe(STATE.pollReplication);
    expect(states[STATE.pollReplication]!.Next).toBe(STATE.pollDecision);
    const loop = [STATE.waitBeforePoll, STATE.pollReplication, STATE.pollDecision];
    expect(loop.reduce((n, s) => n + eventsOf(states[s]!), 0)).toBe(HISTORY.perPoll);
    const restart = [STATE.restartReplication, STATE.checkRestart, STATE.recordRestartedTask];
    expect(restart.reduce((n, s) => n + eventsOf(states[s]!), 0)).toBe(HISTORY.perRestart);
    // Every other state runs at most once on any path: their sum, with ExecutionStarted and the end event,
    // bounds the rest of an execution.
    const others = Object.entries(states).filter(([name]) => ![...loop, ...restart].includes(name as never));
    expect(2 + others.reduce((n, [, s]) => n + eventsOf(s), 0)).toBeLessThanOrEqual(HISTORY.fixed);
    expect(HISTORY.budget).toBeLessThanOrEqual(HISTORY.limit * 0.8);
  });

  it('refuses an input whose worst case exceeds the budget, naming the fields', () => {
    const r = parse({
      timeouts: { convergeMinutes: 10080, approveMinutes: 60, drainMinutes: 30 },
      pollIntervalSeconds: 60,
    });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problems).toEqual([
      'timeouts.convergeMinutes: timeouts.convergeMinutes 10080 and timeouts.drainMinutes 30 at pollIntervalSeconds 60 allow 10112 polls, 91155 execution history events in the worst case, over the budget of 20000 (Step Functions fails an execution at 25000): lower the timeouts or raise pollIntervalSeconds (at these settings convergeMinutes up to 2173 fits)',
    ]);
    // The longest input the message offers is accepted, one minute more is not.
    expect(parse({ timeouts: { convergeMinutes: 2173, approveMinutes: 60, drainMinutes: 30 } }).ok).toBe(
      true,
    );
    expect(parse({ timeouts: { convergeMinutes: 2174, approveMinutes: 60, drainMinutes: 30 } }).ok).toBe(
      false,
    );
  });

  it('runs the longest allowed input to its converge deadline within the budget', async () => {
    const input = {
      ...EXAMPLE_INPUT,
      lagGate: { maxRecords: 1000, holdMinutes: 2, drainMaxRecords: 0 },
      timeouts: { convergeMinutes: 2173, approveMinutes: 60, drainMinutes: 30 },
    };
    // MM2 copies nothing: the lag never converges, so the converge phase polls until its deadline.
    const world = makeWorld({ rate: 0 });
    const run = await runWorkflow(asl, input, world.handlers);
    expect(run.error?.name).toBe('LagTimedOut');
    expect(world.polls()).toBe(2173 + 1);
    const byName = new Map<string, Record<string, unknown>>(Object.entries(states));
    for (const s of Object.values(states))
      for (const b of (s.Branches as { States: States }[] | undefined) ?? [])
        for (const [n, d] of Object.entries(b.States)) byName.set(n, { ...d, inBranch: true });
    // Branch states are counted by their Parallel state.
    const events =
      2 +
      run.entered.reduce((n, name) => {
        const s = byName.get(name)!;
        return n + (s.inBranch ? 0 : eventsOf(s));
      }, 0);
    const estimate = historyEstimate({ ...input, pollIntervalSeconds: 60, maxTaskRestarts: 3 });
    expect(events).toBeLessThanOrEqual(estimate.worstCaseEvents);
    expect(estimate.worstCaseEvents).toBeLessThanOrEqual(HISTORY.budget);
  }, 300_000);
});
