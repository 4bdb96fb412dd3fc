import { describe, expect, it } from 'vitest';
import { summarizeLag } from '../../lambdas/msk-rollback/lag.ts';
import { decidePoll, initialPollState, type PollState, taskHealth } from '../../lambdas/msk-rollback/poll.ts';

const plan = {
  lagGate: { maxRecords: 1000, holdMinutes: 10, drainMaxRecords: 0 },
  timeouts: { convergeMinutes: 60, approveMinutes: 60, drainMinutes: 15 },
  maxTaskRestarts: 2,
};
const lag = (n: number) =>
  summarizeLag([{ topic: 't', partition: 0, start: 0, end: n, next: 0, lag: n, state: 'replicating' }]);
const running = taskHealth({ lastStatus: 'RUNNING', desiredStatus: 'RUNNING' });
const t0 = Date.parse('2026-03-02T09:00:00Z');
const at = (minutes: number) => new Date(t0 + minutes * 60_000);

/** Runs polls at the given minutes with the given lags. */
function run(series: [number, number][], state: PollState = initialPollState('converge')): PollState[] {
  const out: PollState[] = [];
  for (const [minute, records] of series) {
    state = decidePoll(plan, state, running, lag(records), at(minute));
    out.push(state);
  }
  return out;
}

describe('replication loop decisions', () => {
  it('converges only after the gate held for the hold period', () => {
    const states = run([
      [0, 5000],
      [1, 900],
      [5, 800],
      [11, 10],
    ]);
    expect(states.map((s) => s.action)).toEqual(['wait', 'wait', 'wait', 'converged']);
    expect(states[3]!.reason).toBe('lag 10 records, at or below 1000 for 10 minutes');
  });

  it('closes the gate again when the lag rises above it', () => {
    const states = run([
      [0, 900],
      [6, 2000],
      [12, 900],
      [20, 900],
      [22, 900],
    ]);
    expect(states.map((s) => s.underGateSince)).toEqual([
      at(0).toISOString(),
      null,
      at(12).toISOString(),
      at(12).toISOString(),
      at(12).toISOString(),
    ]);
    expect(states.map((s) => s.action)).toEqual(['wait', 'wait', 'wait', 'wait', 'converged']);
  });

  it('times out at the converge deadline when the lag stays above the gate', () => {
    const last = run([
      [0, 5000],
      [30, 4000],
      [60, 3000],
    ]).at(-1)!;
    expect(last.action).toBe('timed_out');
    expect(last.reason).toBe('lag 3000 records still above 1000 after 60 minutes');
    expect(last.deadline).toBe(at(60).toISOString());
  });

  it('drains after approval to the drain threshold, or times out naming producers', () => {
    expect(
      run(
        [
          [0, 3],
          [1, 0],
        ],
        initialPollState('drain', 1),
      ).map((s) => s.action),
    ).toEqual(['wait', 'drained']);
    const stuck = run(
      [
        [0, 3],
        [15, 3],
      ],
      initialPollState('drain'),
    ).at(-1)!;
    expect(stuck.action).toBe('timed_out');
    expect(stuck.reason).toContain('are producers still writing to the source?');
  });

  it('restarts a stopped task a bounded number of times, then gives up', () => {
    const dead = taskHealth({
      lastStatus: 'STOPPED',
      desiredStatus: 'STOPPED',
      stoppedReason: 'Essential container in task exited',
    });
    let s = initialPollState('converge');
    const actions: string[] = [];
    for (let i = 0; i < 3; i++) {
      s = decidePoll(plan, s, dead, null, at(i));
      actions.push(`${s.action}:${s.restarts}`);
    }
    expect(actions).toEqual(['restart:1', 'restart:2', 'give_up:2']);
    expect(s.reason).toBe(
      'mm2 task stopped: Essential container in task exited; already restarted 2 of 2 times',
    );
  });

  it('treats a task ECS no longer reports as stopped, and a stopping one as not alive', () => {
    expect(taskHealth(undefined)).toEqual({
      alive: false,
      lastStatus: 'MISSING',
      stoppedReason: 'ecs no longer reports the task',
    });
    expect(taskHealth({ lastStatus: 'RUNNING', desiredStatus: 'STOPPED' }).alive).toBe(false);
    expect(taskHealth({ lastStatus: 'PENDING', desiredStatus: 'RUNNING' }).alive).toBe(true);
  });
});
