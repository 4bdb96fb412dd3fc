/**
 * Step Functions responses of a rollback execution, in the shapes the SDK returns (DescribeExecution,
 * GetExecutionHistory with `reverseOrder`): event types, `*EventDetails` fields and JSON-string payloads as
 * AWS records them, e.g. `{"timestamp", "type": "TaskScheduled", "id", "previousEventId",
 * "taskScheduledEventDetails": {"resourceType", "resource", "region", "parameters", "timeoutInSeconds"}}`.
 */
import type { DescribeExecutionCommandOutput, HistoryEvent } from '@aws-sdk/client-sfn';

export const STATE_MACHINE_ARN =
  'arn:aws:states:eu-west-1:111111111111:stateMachine:Observatory-MskRollback-Workflow';
export const EXECUTION_ARN =
  'arn:aws:states:eu-west-1:111111111111:execution:Observatory-MskRollback-Workflow:orders-20260302T090000Z';
export const START = new Date('2026-03-02T09:00:00.000Z');
export const TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAeH2+token/with=chars';
const FUNCTION = 'arn:aws:lambda:eu-west-1:111111111111:function:Observatory-MskRollback-RequestApproval';

const at = (seconds: number) => new Date(START.getTime() + seconds * 1000);

const PLAN = {
  name: 'orders',
  direction: 'forward',
  maxTaskRestarts: 3,
  pollIntervalSeconds: 60,
  lagGate: { maxRecords: 1000, holdMinutes: 15, drainMaxRecords: 0 },
  timeouts: { convergeMinutes: 240, approveMinutes: 60, drainMinutes: 30 },
};

const LAG = {
  totalRecords: 420,
  maxPartitionRecords: 300,
  partitions: 12,
  partitionsBehind: 2,
  partitionsNotStarted: 0,
  topics: 3,
  worst: [
    { topic: 'orders', partition: 3, lag: 300 },
    { topic: 'payments', partition: 0, lag: 120 },
  ],
};

/** The `$.poll` a PollReplication turn leaves. */
export function pollState(overrides: Record<string, unknown> = {}) {
  return {
    phase: 'converge',
    restarts: 1,
    polls: 41,
    startedAt: at(120).toISOString(),
    deadline: at(120 + 240 * 60).toISOString(),
    underGateSince: at(2400).toISOString(),
    action: 'wait',
    reason: 'lag 420 at or below 1000 for 5 of 15 minutes',
    lag: LAG,
    task: { alive: true, lastStatus: 'RUNNING' },
    ...overrides,
  };
}

/** History of a rollback in the poll loop whose last poll left `poll`, newest event first. */
export function pollingHistory(poll = pollState()): HistoryEvent[] {
  const output = JSON.stringify({ plan: PLAN, task: { taskArn: 'arn:aws:ecs:...' }, poll });
  const events: HistoryEvent[] = [
    {
      timestamp: START,
      type: 'ExecutionStarted',
      id: 1,
      previousEventId: 0,
      executionStartedEventDetails: {
        input: '{"name":"orders"}',
        inputDetails: { truncated: false },
        roleArn: 'arn:aws:iam::111111111111:role/Observatory-MskRollback-WorkflowRole',
      },
    },
    {
      timestamp: at(2690),
      type: 'TaskStateEntered',
      id: 400,
      previousEventId: 399,
      stateEnteredEventDetails: {
        name: 'PollReplication',
        input: output,
        inputDetails: { truncated: false },
      },
    },
    {
      timestamp: at(2690),
      type: 'LambdaFunctionScheduled',
      id: 401,
      previousEventId: 400,
      lambdaFunctionScheduledEventDetails: {
        resource: FUNCTION,
        input: '{}',
        inputDetails: { truncated: false },
      },
    },
    {
      timestamp: at(2700),
      type: 'TaskStateExited',
      id: 404,
      previousEventId: 403,
      stateExitedEventDetails: { name: 'PollReplication', output, outputDetails: { truncated: false } },
    },
    {
      timestamp: at(2700),
      type: 'ChoiceStateEntered',
      id: 405,
      previousEventId: 404,
      stateEnteredEventDetails: { name: 'PollDecision', input: output, inputDetails: { truncated: false } },
    },
    {
      timestamp: at(2700),
      type: 'ChoiceStateExited',
      id: 406,
      previousEventId: 405,
      stateExitedEventDetails: { name: 'PollDecision', output, outputDetails: { truncated: false } },
    },
    {
      timestamp: at(2700),
      type: 'WaitStateEntered',
      id: 407,
      previousEventId: 406,
      stateEnteredEventDetails: { name: 'WaitBeforePoll', input: output, inputDetails: { truncated: false } },
    },
  ];
  return events.reverse();
}

/** History of a rollback waiting for the approval decision, newest event first. */
export function approvalHistory(): HistoryEvent[] {
  const payload = {
    token: TOKEN,
    plan: PLAN,
    poll: pollState({ action: 'converged' }),
    approvalTimeoutSeconds: 3600,
  };
  const waiting: HistoryEvent[] = [
    {
      timestamp: at(3600),
      type: 'TaskStateEntered',
      id: 420,
      previousEventId: 419,
      stateEnteredEventDetails: { name: 'RequestApproval', input: '{}', inputDetails: { truncated: false } },
    },
    {
      timestamp: at(3600),
      type: 'TaskScheduled',
      id: 421,
      previousEventId: 420,
      taskScheduledEventDetails: {
        resourceType: 'lambda',
        resource: 'invoke.waitForTaskToken',
        region: 'eu-west-1',
        parameters: JSON.stringify({ FunctionName: FUNCTION, Payload: payload }),
        timeoutInSeconds: 3600,
      },
    },
    {
      timestamp: at(3601),
      type: 'TaskStarted',
      id: 422,
      previousEventId: 421,
      taskStartedEventDetails: { resourceType: 'lambda', resource: 'invoke.waitForTaskToken' },
    },
    {
      timestamp: at(3601),
      type: 'TaskSubmitted',
      id: 423,
      previousEventId: 422,
      taskSubmittedEventDetails: {
        resourceType: 'lambda',
        resource: 'invoke.waitForTaskToken',
        output:
          '{"ExecutedVersion":"$LATEST","Payload":{"subject":"MSK rollback orders: approve cutover?"},"StatusCode":200}',
        outputDetails: { truncated: false },
      },
    },
  ];
  const poll = pollState({ action: 'converged', underGateSince: at(2700).toISOString() });
  return [...waiting.reverse(), ...pollingHistory(poll).filter((e) => (e.id ?? 0) < 405)];
}

/** DescribeExecution of this execution. */
export function describeExecution(
  overrides: Partial<DescribeExecutionCommandOutput> = {},
): DescribeExecutionCommandOutput {
  return {
    $metadata: { httpStatusCode: 200, requestId: '6b0d7a2e-0000-4000-8000-000000000000', attempts: 1 },
    executionArn: EXECUTION_ARN,
    stateMachineArn: STATE_MACHINE_ARN,
    name: 'orders-20260302T090000Z',
    status: 'RUNNING',
    startDate: START,
    input: '{"name":"orders"}',
    inputDetails: { included: true },
    redriveCount: 0,
    redriveStatus: 'NOT_REDRIVABLE',
    redriveStatusReason: 'Execution is RUNNING and cannot be redriven',
    ...overrides,
  };
}
