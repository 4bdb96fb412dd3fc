/**
 * The MSK rollback workflow definition (Step Functions, JSONPath), built by {@link buildRollbackDefinition}
 * from the functions and ECS pieces it drives. Holds no business logic: every decision is made by a
 * function and returned as data the Choice states route on.
 *
 * ```
 * ValidateInput -> ValidateClusters -> ResolveBootstrapBrokers -> DiscoverTopics -> RenderConfig -> IsDryRun
 *   dry run -> DryRunPlan -> DryRunSucceeded (the plan is the output; no task starts)
 *   -> StartReplication -> CheckStartReplication -> RecordTask -> InitPoll
 *   -> WaitBeforePoll -> PollReplication -> PollDecision
 *        wait      -> WaitBeforePoll
 *        restart   -> RestartReplication -> CheckRestartReplication -> RecordRestartedTask -> WaitBeforePoll
 *        converged -> PrepareApproval -> RequestApproval (task token) -> StartDrain -> WaitBeforePoll
 *        drained   -> WaitForOffsetSync -> StopReplication -> VerifyOffsets -> CheckOffsets
 *                       -> RollbackSucceeded, or OffsetsNotTranslated (a required group was not translated)
 *        timed_out -> LagTimedOut, give_up -> ReplicationTaskFailed
 * every failure after StartReplication, rejection, approval timeout
 *   -> StopReplicationAfterFailure -> RollbackFailed
 *      (if that stop fails too -> StopFailed -> RollbackFailed with StopReplicationFailed, both errors in Cause)
 * ```
 * Failures before StartReplication fail the execution where they happen: no task exists yet.
 * Aborted and timed-out executions are cleaned up by an EventBridge rule (see `MskRollbackStack`).
 */
import { Duration, Stack } from 'aws-cdk-lib';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { COLLECTOR_MEMORY_MIB } from './mm2-task.ts';

/** State names: the workflow's contract with tests, the runbook and the dashboards. */
export const STATE = {
  validateInput: 'ValidateInput',
  validateClusters: 'ValidateClusters',
  resolveBrokers: 'ResolveBootstrapBrokers',
  getSourceBrokers: 'GetSourceBootstrapBrokers',
  getTargetBrokers: 'GetTargetBootstrapBrokers',
  discoverTopics: 'DiscoverTopics',
  renderConfig: 'RenderConfig',
  startReplication: 'StartReplication',
  checkStart: 'CheckStartReplication',
  runTaskFailed: 'RunTaskFailed',
  recordTask: 'RecordTask',
  initPoll: 'InitPoll',
  waitBeforePoll: 'WaitBeforePoll',
  pollReplication: 'PollReplication',
  pollDecision: 'PollDecision',
  restartReplication: 'RestartReplication',
  checkRestart: 'CheckRestartReplication',
  recordRestartedTask: 'RecordRestartedTask',
  lagTimedOut: 'LagTimedOut',
  replicationTaskFailed: 'ReplicationTaskFailed',
  prepareApproval: 'PrepareApproval',
  requestApproval: 'RequestApproval',
  approvalTimedOut: 'ApprovalTimedOut',
  startDrain: 'StartDrain',
  waitForOffsetSync: 'WaitForOffsetSync',
  stopReplication: 'StopReplication',
  verifyOffsets: 'VerifyOffsets',
  checkOffsets: 'CheckOffsets',
  offsetsNotTranslated: 'OffsetsNotTranslated',
  succeeded: 'RollbackSucceeded',
  isDryRun: 'IsDryRun',
  dryRunPlan: 'DryRunPlan',
  dryRunSucceeded: 'DryRunSucceeded',
  stopAfterFailure: 'StopReplicationAfterFailure',
  stopFailed: 'StopFailed',
  failed: 'RollbackFailed',
} as const;

/** Error names the workflow raises itself (functions raise InvalidInput, ClusterValidationFailed, ...). */
export const WORKFLOW_ERROR = {
  runTaskFailed: 'RunTaskFailed',
  lagTimedOut: 'LagTimedOut',
  taskFailed: 'ReplicationTaskFailed',
  approvalTimedOut: 'ApprovalTimedOut',
  rejected: 'RollbackRejected',
  offsetsNotTranslated: 'OffsetsNotTranslated',
  stopFailed: 'StopReplicationFailed',
} as const;

/** Tag RunTask puts on every MM2 task (must match `EXECUTION_TAG` of the stop function). */
export const EXECUTION_TAG = 'observatory:execution-arn';

/** The functions the workflow invokes. */
export interface RollbackFunctions {
  readonly validateInput: lambda.IFunction;
  readonly validateClusters: lambda.IFunction;
  readonly discoverTopics: lambda.IFunction;
  readonly renderConfig: lambda.IFunction;
  readonly pollReplication: lambda.IFunction;
  readonly requestApproval: lambda.IFunction;
  readonly stopReplication: lambda.IFunction;
  readonly verifyOffsets: lambda.IFunction;
}

/** Props of {@link buildRollbackDefinition}. */
export interface RollbackWorkflowProps {
  readonly functions: RollbackFunctions;
  /** ECS cluster the MM2 task runs in. */
  readonly cluster: ecs.ICluster;
  /** The MM2 task definition (its task and execution roles are passed to RunTask). */
  readonly taskDefinition: ecs.TaskDefinition;
  /** Container names in the task definition. */
  readonly containers: { readonly mm2: string; readonly collector: string };
  readonly subnetIds: readonly string[];
  readonly securityGroupIds: readonly string[];
  /** The MSK clusters a rollback may use (GetBootstrapBrokers is allowed on these only). */
  readonly kafkaClusterArns: readonly string[];
}

const LAMBDA_TRANSIENT = [
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

/** Errors that a retry cannot fix: fail at once. */
const DETERMINISTIC = ['InvalidInput', 'ClusterValidationFailed', 'NoMatchingTopics'];

/**
 * Builds the workflow definition.
 * @param parent scope under which a `RollbackStates` construct holds the states
 * @param props functions, ECS pieces and network
 * @returns the chain to give `DefinitionBody.fromChainable`
 */
export function buildRollbackDefinition(parent: Construct, props: RollbackWorkflowProps): sfn.IChainable {
  // States live in their own scope so their names (= construct ids) cannot clash with the caller's constructs.
  const scope = new Construct(parent, 'RollbackStates');
  const fn = props.functions;
  const invoke = (
    id: string,
    f: lambda.IFunction,
    payload: Record<string, unknown>,
    resultPath: string,
    retry = true,
  ) => {
    const state = new tasks.LambdaInvoke(scope, id, {
      lambdaFunction: f,
      payload: sfn.TaskInput.fromObject(payload),
      payloadResponseOnly: true,
      resultPath,
      retryOnServiceExceptions: false,
    });
    state.addRetry({
      errors: LAMBDA_TRANSIENT,
      interval: Duration.seconds(2),
      maxAttempts: 6,
      backoffRate: 2,
      jitterStrategy: sfn.JitterType.FULL,
    });
    if (retry) {
      state.addRetry({ errors: DETERMINISTIC, maxAttempts: 0 });
      state.addRetry({
        errors: ['States.TaskFailed'],
        interval: Duration.seconds(20),
        maxAttempts: 3,
        backoffRate: 2,
      });
    }
    return state;
  };
  const plan = sfn.JsonPath.objectAt('$.plan');
  const brokers = sfn.JsonPath.objectAt('$.brokers');

  // Failure path: stop every task of this execution, then fail with the error that led here.
  const failed = new sfn.Fail(scope, STATE.failed, {
    errorPath: '$.error.Error',
    causePath: '$.error.Cause',
  });
  const stopAfterFailure = invoke(
    STATE.stopAfterFailure,
    fn.stopReplication,
    { executionArn: sfn.JsonPath.executionId, reason: sfn.JsonPath.stringAt('$.error.Error') },
    '$.stopped',
  );
  // A failed stop must not hide behind the error that led here: both go into the execution's Error/Cause.
  const stopFailed = new sfn.Pass(scope, STATE.stopFailed, {
    parameters: {
      Error: WORKFLOW_ERROR.stopFailed,
      'Cause.$':
        "States.Format('stopping the MM2 task failed ({}: {}) after {}: {}. Tasks may still run: the clean-up rule retries when the execution ends; check ECS for tasks tagged observatory:execution-arn with this execution', $.cleanupError.Error, $.cleanupError.Cause, $.error.Error, $.error.Cause)",
    },
    resultPath: '$.error',
  }).next(failed);
  stopAfterFailure.addCatch(stopFailed, { errors: ['States.ALL'], resultPath: '$.cleanupError' });
  stopAfterFailure.next(failed);
  const onError = { errors: ['States.ALL'], resultPath: '$.error' };
  const failWith = (id: string, error: string, cause: string) =>
    new sfn.Pass(scope, id, { parameters: { Error: error, 'Cause.$': cause }, resultPath: '$.error' }).next(
      stopAfterFailure,
    );

  // Pre-flight.
  const validateInput = new tasks.LambdaInvoke(scope, STATE.validateInput, {
    lambdaFunction: fn.validateInput,
    payload: sfn.TaskInput.fromObject({
      input: sfn.JsonPath.entirePayload,
      execution: {
        id: sfn.JsonPath.executionId,
        name: sfn.JsonPath.executionName,
        startTime: sfn.JsonPath.executionStartTime,
      },
      stateMachineArn: sfn.JsonPath.stateMachineId,
    }),
    payloadResponseOnly: true,
    // The plan goes beside the raw input (whose keys the input schema fixes, so none can clash with the
    // workflow's own `$.plan`, `$.poll`, ...). ResultPath "$" would drop the raw input, but
    // aws-local-stepfunctions 3 mishandles it, and the tests run this very definition.
    resultPath: '$.plan',
    retryOnServiceExceptions: false,
  });
  validateInput.addRetry({
    errors: LAMBDA_TRANSIENT,
    interval: Duration.seconds(2),
    maxAttempts: 6,
    backoffRate: 2,
  });
  const validateClusters = invoke(STATE.validateClusters, fn.validateClusters, { plan }, '$.clusters');
  const getBrokers = (id: string, path: string) => {
    const state = new tasks.CallAwsService(scope, id, {
      service: 'kafka',
      action: 'getBootstrapBrokers',
      iamAction: 'kafka:GetBootstrapBrokers',
      iamResources: [...props.kafkaClusterArns],
      parameters: { ClusterArn: sfn.JsonPath.stringAt(path) },
      resultSelector: { 'iam.$': '$.BootstrapBrokerStringSaslIam' },
    });
    state.addRetry({
      errors: [
        'Kafka.TooManyRequestsException',
        'Kafka.ServiceUnavailableException',
        'Kafka.InternalServerErrorException',
      ],
      interval: Duration.seconds(5),
      maxAttempts: 4,
      backoffRate: 2,
    });
    return state;
  };
  const resolveBrokers = new sfn.Parallel(scope, STATE.resolveBrokers, {
    resultSelector: { 'source.$': '$[0].iam', 'target.$': '$[1].iam' },
    resultPath: '$.brokers',
  })
    .branch(getBrokers(STATE.getSourceBrokers, '$.plan.source.arn'))
    .branch(getBrokers(STATE.getTargetBrokers, '$.plan.target.arn'));
  const discoverTopics = invoke(STATE.discoverTopics, fn.discoverTopics, { plan, brokers }, '$.discovery');
  const renderConfig = invoke(STATE.renderConfig, fn.renderConfig, { plan, brokers }, '$.config');

  // Replication task.
  const runTask = (id: string) => {
    const td = props.taskDefinition;
    const stack = Stack.of(scope);
    const state = new tasks.CallAwsService(scope, id, {
      service: 'ecs',
      action: 'runTask',
      iamAction: 'ecs:RunTask',
      iamResources: [
        stack.formatArn({ service: 'ecs', resource: 'task-definition', resourceName: `${td.family}:*` }),
      ],
      additionalIamStatements: [
        new iam.PolicyStatement({
          actions: ['iam:PassRole'],
          resources: [td.taskRole.roleArn, ...(td.executionRole ? [td.executionRole.roleArn] : [])],
          conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
        }),
        new iam.PolicyStatement({
          actions: ['ecs:TagResource'],
          resources: [
            stack.formatArn({
              service: 'ecs',
              resource: 'task',
              resourceName: `${props.cluster.clusterName}/*`,
            }),
          ],
          conditions: { StringEquals: { 'ecs:CreateAction': 'RunTask' } },
        }),
      ],
      parameters: {
        Cluster: props.cluster.clusterArn,
        TaskDefinition: td.taskDefinitionArn,
        LaunchType: 'FARGATE',
        PlatformVersion: 'LATEST',
        Count: 1,
        StartedBy: 'observatory-msk-rollback',
        EnableECSManagedTags: true,
        NetworkConfiguration: {
          AwsvpcConfiguration: {
            Subnets: [...props.subnetIds],
            SecurityGroups: [...props.securityGroupIds],
            AssignPublicIp: 'DISABLED',
          },
        },
        Overrides: {
          Cpu: sfn.JsonPath.stringAt('$.config.cpu'),
          Memory: sfn.JsonPath.stringAt('$.config.memory'),
          ContainerOverrides: [
            {
              Name: props.containers.mm2,
              // The MM2 container's hard limit follows the execution's task size, less the collector's share.
              Memory: sfn.JsonPath.mathAdd(
                sfn.JsonPath.numberAt('$.plan.mm2.memoryMiB'),
                -COLLECTOR_MEMORY_MIB,
              ),
              Environment: sfn.JsonPath.listAt('$.config.mm2Environment'),
            },
            {
              Name: props.containers.collector,
              Environment: sfn.JsonPath.listAt('$.config.collectorEnvironment'),
            },
          ],
        },
        Tags: [
          { Key: EXECUTION_TAG, Value: sfn.JsonPath.executionId },
          { Key: 'observatory:rollback', Value: sfn.JsonPath.stringAt('$.plan.name') },
        ],
      },
      resultSelector: { 'tasks.$': '$.Tasks', 'failures.$': '$.Failures' },
      resultPath: '$.runTask',
    });
    state.addRetry({
      errors: ['Ecs.ThrottlingException', 'Ecs.ServerException'],
      interval: Duration.seconds(5),
      maxAttempts: 4,
      backoffRate: 2,
    });
    state.addCatch(stopAfterFailure, onError);
    return state;
  };
  const runTaskFailed = failWith(
    STATE.runTaskFailed,
    'RunTaskFailed',
    'States.JsonToString($.runTask.failures)',
  );
  const recordTask = (id: string) =>
    new sfn.Pass(scope, id, {
      parameters: { 'taskArn.$': '$.runTask.tasks[0].TaskArn' },
      resultPath: '$.task',
    });

  // Poll loop, shared by the converge and drain phases.
  const waitBeforePoll = new sfn.Wait(scope, STATE.waitBeforePoll, {
    time: sfn.WaitTime.secondsPath('$.plan.pollIntervalSeconds'),
  });
  const poll = invoke(
    STATE.pollReplication,
    fn.pollReplication,
    {
      plan,
      brokers,
      taskArn: sfn.JsonPath.stringAt('$.task.taskArn'),
      poll: sfn.JsonPath.objectAt('$.poll'),
    },
    '$.poll',
  );
  poll.addCatch(stopAfterFailure, onError);

  const restart = runTask(STATE.restartReplication);
  restart.next(
    new sfn.Choice(scope, STATE.checkRestart)
      .when(sfn.Condition.isPresent('$.runTask.failures[0]'), runTaskFailed)
      .otherwise(recordTask(STATE.recordRestartedTask).next(waitBeforePoll)),
  );

  const requestApproval = new tasks.LambdaInvoke(scope, STATE.requestApproval, {
    lambdaFunction: fn.requestApproval,
    integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
    payload: sfn.TaskInput.fromObject({
      token: sfn.JsonPath.taskToken,
      plan,
      poll: sfn.JsonPath.objectAt('$.poll'),
      approvalTimeoutSeconds: sfn.JsonPath.numberAt('$.plan.approvalTimeoutSeconds'),
    }),
    // `$.Payload.approvalTimeoutSeconds` exists both in the state input (PrepareApproval puts it there)
    // and in the effective input (the Parameters above): the timeout resolves whichever one an
    // interpreter reads (AWS documents the state input; aws-local-stepfunctions 3 reads the other).
    taskTimeout: sfn.Timeout.at('$.Payload.approvalTimeoutSeconds'),
    resultPath: '$.approval',
    retryOnServiceExceptions: false,
  });
  requestApproval.addRetry({
    errors: LAMBDA_TRANSIENT,
    interval: Duration.seconds(2),
    maxAttempts: 6,
    backoffRate: 2,
  });
  requestApproval.addCatch(
    failWith(
      STATE.approvalTimedOut,
      WORKFLOW_ERROR.approvalTimedOut,
      "States.Format('no decision within {} minutes', $.plan.timeouts.approveMinutes)",
    ),
    { errors: ['States.Timeout'], resultPath: '$.error' },
  );
  requestApproval.addCatch(stopAfterFailure, onError);

  const startDrain = new sfn.Pass(scope, STATE.startDrain, {
    // The drain phase starts its own clock and gate; restarts count over the whole execution.
    // (Times absent here are read as null by PollReplication.)
    // The baseline and the last lag measurement carry over: lag keeps its meaning, the drain rate its start.
    parameters: {
      phase: 'drain',
      'restarts.$': '$.poll.restarts',
      polls: 0,
      'baseline.$': '$.poll.baseline',
      'lag.$': '$.poll.lag',
      'polledAt.$': '$.poll.polledAt',
    },
    resultPath: '$.poll',
  });
  requestApproval.next(startDrain);
  const prepareApproval = new sfn.Pass(scope, STATE.prepareApproval, {
    parameters: { 'approvalTimeoutSeconds.$': '$.plan.approvalTimeoutSeconds' },
    resultPath: '$.Payload',
  }).next(requestApproval);
  startDrain.next(waitBeforePoll);

  const stopReplication = invoke(
    STATE.stopReplication,
    fn.stopReplication,
    { executionArn: sfn.JsonPath.executionId, reason: 'cutover approved and lag drained' },
    '$.stopped',
  );
  stopReplication.addCatch(stopAfterFailure, onError);
  const verify = invoke(
    STATE.verifyOffsets,
    fn.verifyOffsets,
    {
      plan,
      brokers,
      approval: sfn.JsonPath.objectAt('$.approval'),
      stopped: sfn.JsonPath.objectAt('$.stopped'),
    },
    '$.report',
  );
  verify.addCatch(stopAfterFailure, onError);
  const drained = new sfn.Wait(scope, STATE.waitForOffsetSync, {
    time: sfn.WaitTime.secondsPath('$.plan.offsetSyncWaitSeconds'),
  })
    .next(stopReplication)
    .next(verify)
    .next(
      // The task is stopped and the report published by now: only the verdict is left to route.
      new sfn.Choice(scope, STATE.checkOffsets)
        .when(
          sfn.Condition.stringEquals('$.report.outcome', 'offsets_not_translated'),
          new sfn.Fail(scope, STATE.offsetsNotTranslated, {
            error: WORKFLOW_ERROR.offsetsNotTranslated,
            causePath: '$.report.cause',
          }),
        )
        .otherwise(new sfn.Succeed(scope, STATE.succeeded, { outputPath: '$.report' })),
    );

  const decision = new sfn.Choice(scope, STATE.pollDecision)
    .when(sfn.Condition.stringEquals('$.poll.action', 'converged'), prepareApproval)
    .when(sfn.Condition.stringEquals('$.poll.action', 'drained'), drained)
    .when(sfn.Condition.stringEquals('$.poll.action', 'restart'), restart)
    .when(
      sfn.Condition.stringEquals('$.poll.action', 'timed_out'),
      failWith(STATE.lagTimedOut, WORKFLOW_ERROR.lagTimedOut, '$.poll.reason'),
    )
    .when(
      sfn.Condition.stringEquals('$.poll.action', 'give_up'),
      failWith(STATE.replicationTaskFailed, WORKFLOW_ERROR.taskFailed, '$.poll.reason'),
    )
    .otherwise(waitBeforePoll);
  waitBeforePoll.next(poll).next(decision);

  const start = runTask(STATE.startReplication);
  start.next(
    new sfn.Choice(scope, STATE.checkStart)
      .when(sfn.Condition.isPresent('$.runTask.failures[0]'), runTaskFailed)
      .otherwise(
        recordTask(STATE.recordTask)
          .next(
            new sfn.Pass(scope, STATE.initPoll, {
              // Times absent here are read as null by PollReplication; the baseline (where MM2 starts each
              // partition) was recorded by DiscoverTopics just before the task started.
              parameters: {
                phase: 'converge',
                restarts: 0,
                polls: 0,
                'baseline.$': '$.discovery.baseline',
              },
              resultPath: '$.poll',
            }),
          )
          .next(waitBeforePoll),
      ),
  );

  // Dry run: everything up to the rendered config, then the plan as the output; no task is started.
  const dryRunPlan = new sfn.Pass(scope, STATE.dryRunPlan, {
    parameters: {
      dryRun: true,
      'rollback.$': '$.plan.name',
      'direction.$': '$.plan.direction',
      'source.$': '$.plan.source.name',
      'target.$': '$.plan.target.name',
      'topics.$': '$.discovery.topics',
      'partitions.$': '$.discovery.partitions',
      'groups.$': '$.discovery.groups',
      'retainedRecords.$': '$.discovery.retainedRecords',
      'retainedBytes.$': '$.discovery.retainedBytes',
      task: {
        'cpu.$': '$.plan.mm2.cpu',
        'memoryMiB.$': '$.plan.mm2.memoryMiB',
        'heapMiB.$': '$.config.heapMiB',
        'mm2Tasks.$': '$.plan.mm2.tasks',
      },
      'config.$': '$.config.s3Uri',
      'configSha256.$': '$.config.sha256',
      'lagGate.$': '$.plan.lagGate',
      'timeouts.$': '$.plan.timeouts',
      'historyBudget.$': '$.plan.historyBudget',
    },
    outputPath: '$',
  }).next(new sfn.Succeed(scope, STATE.dryRunSucceeded));
  const isDryRun = new sfn.Choice(scope, STATE.isDryRun)
    .when(sfn.Condition.booleanEquals('$.plan.dryRun', true), dryRunPlan)
    .otherwise(start);

  return validateInput
    .next(validateClusters)
    .next(resolveBrokers)
    .next(discoverTopics)
    .next(renderConfig)
    .next(isDryRun);
}
