/**
 * The collection workflow: one run fans out over (account, region, service) shards.
 */
import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';

/** One shard of a collection run. */
export interface CollectionShard {
  readonly accountId: string;
  readonly region: string;
  readonly service: string;
}

/** Props of {@link buildCollectionDefinition}. */
export interface CollectionDefinitionProps {
  /** The collect function (one shard per invocation). */
  readonly collectFunction: lambda.IFunction;
  /** Every shard of a run. */
  readonly shards: readonly CollectionShard[];
  /** Parameters passed to every shard besides its identity (role name, window settings). */
  readonly collectParams: Record<string, unknown>;
  /** Shards collected at once. */
  readonly maxConcurrency: number;
  /** Percentage of shards that may fail before the run fails. */
  readonly toleratedFailurePercent: number;
  /** The summary function: heartbeat, failed-shard metrics and the tolerance verdict. */
  readonly summaryFunction: lambda.IFunction;
}

/** Names of the states, for tests and for reading an execution's history. */
export const CollectionStates = {
  shards: 'Shards',
  collect: 'CollectShards',
  collectShard: 'CollectShard',
  shardFailed: 'ShardFailed',
  summarize: 'Summarize',
  runFailed: 'RunFailed',
  verdict: 'WithinTolerance',
  collected: 'Collected',
} as const;

/**
 * Builds the definition: a Map over the shards with bounded concurrency. A shard that fails (role
 * missing or denied, throttled past retries, any error) is caught and reported in the run's output
 * with its account, region, service and reason, never dropped. After the Map, the summary function
 * publishes a heartbeat (`CollectionHeartbeat`) and the count of failed shards (`ShardsFailed`) to
 * CloudWatch and AMP, and the run fails when more shards failed than the tolerated percentage allows.
 * (Counting is a function, not a JSONPath filter: a filter that matches nothing is an error in some
 * engines and an empty list in others.) Alarms fire on a missing heartbeat and on failed shards.
 */
export function buildCollectionDefinition(
  scope: Construct,
  props: CollectionDefinitionProps,
): sfn.IChainable {
  const shards = new sfn.Pass(scope, CollectionStates.shards, {
    comment: 'the shards of this run, fixed by config at deploy time',
    result: sfn.Result.fromArray(props.shards.map((s) => ({ ...s }))),
    resultPath: '$.shards',
  });

  const collectShard = new tasks.LambdaInvoke(scope, CollectionStates.collectShard, {
    lambdaFunction: props.collectFunction,
    payload: sfn.TaskInput.fromObject({
      'shard.$': '$.shard',
      ...Object.fromEntries(Object.entries(props.collectParams).map(([k, v]) => [k, v])),
      'executionId.$': '$$.Execution.Id',
      // One window for every shard of a run, even when shards start on either side of a period boundary.
      'runStartedAt.$': '$$.Execution.StartTime',
    }),
    payloadResponseOnly: true,
    retryOnServiceExceptions: true,
  });
  collectShard.addRetry({
    errors: ['ThrottlingException', 'TooManyRequestsException', 'Lambda.TooManyRequestsException'],
    interval: Duration.seconds(5),
    backoffRate: 2,
    maxAttempts: 4,
    jitterStrategy: sfn.JitterType.FULL,
  });
  const shardFailed = new sfn.Pass(scope, CollectionStates.shardFailed, {
    comment: 'a failed shard is reported with its reason, not dropped',
    parameters: {
      'shard.$': '$.shard',
      status: 'failed',
      'error.$': '$.failure.Error',
      'cause.$': '$.failure.Cause',
    },
  });
  // Every failure (a role missing or denied: ShardError; retries exhausted; anything else) becomes a
  // reported result, so the run always knows which shards are missing and why.
  collectShard.addCatch(shardFailed, { errors: ['States.ALL'], resultPath: '$.failure' });

  const map = new sfn.Map(scope, CollectionStates.collect, {
    itemsPath: '$.shards',
    itemSelector: { 'shard.$': '$$.Map.Item.Value' },
    maxConcurrency: props.maxConcurrency,
    resultPath: '$.results',
  });
  map.itemProcessor(collectShard);

  const summarize = new tasks.LambdaInvoke(scope, CollectionStates.summarize, {
    lambdaFunction: props.summaryFunction,
    comment: 'heartbeat, failed-shard counts (CloudWatch and AMP) and the tolerance verdict',
    payload: sfn.TaskInput.fromObject({
      'results.$': '$.results',
      toleratedFailurePercent: props.toleratedFailurePercent,
      'executionId.$': '$$.Execution.Id',
    }),
    payloadResponseOnly: true,
    retryOnServiceExceptions: true,
    resultPath: '$.summary',
  });
  const runFailed = new sfn.Fail(scope, CollectionStates.runFailed, {
    error: 'CollectionFailed',
    causePath: '$.summary.message',
  });
  const verdict = new sfn.Choice(scope, CollectionStates.verdict)
    .when(sfn.Condition.booleanEquals('$.summary.withinTolerance', false), runFailed)
    .otherwise(new sfn.Succeed(scope, CollectionStates.collected, { outputPath: '$.summary' }));

  return shards.next(map).next(summarize).next(verdict);
}
