/**
 * StopReplication: stops every MM2 task tagged with an execution. Called by the state machine (after
 * approval, and on every failure path) and by the EventBridge rule on executions that were aborted, timed
 * out or failed, so nothing is left running whatever ended the execution. Idempotent.
 */
import { ECSClient } from '@aws-sdk/client-ecs';
import { logger, observed, traced } from '#shared/powertools';
import { ecsApi } from './adapters/aws.ts';
import { rollbackEnv } from './env.ts';
import { StopEvent } from './events.ts';
import type { EcsApi } from './ports.ts';

/** Tag RunTask puts on every MM2 task: the execution ARN. */
export const EXECUTION_TAG = 'observatory:execution-arn';

/** What StopReplication returns (`$.stopped`). */
export interface StopResult {
  readonly executionArn: string;
  /** Tasks a stop was requested for. */
  readonly stopped: string[];
}

/**
 * Stops the execution's tasks.
 * @param event `{executionArn, reason}` or an EventBridge execution status change
 */
export async function stopReplication(event: unknown, ecs: EcsApi, cluster: string): Promise<StopResult> {
  const e = StopEvent.parse(event);
  const [executionArn, reason] =
    'detail' in e
      ? [e.detail.executionArn, `execution ${e.detail.status.toLowerCase()}`]
      : [e.executionArn, e.reason];
  const tasks = (await ecs.listLiveTasks(cluster)).filter((t) => t.tags[EXECUTION_TAG] === executionArn);
  for (const t of tasks) await ecs.stopTask(cluster, t.taskArn, `msk rollback: ${reason}`);
  return { executionArn, stopped: tasks.map((t) => t.taskArn) };
}

const ecs = traced(new ECSClient({}));

/** Lambda entry point. */
export const handler = observed(async (event: unknown) => {
  const env = rollbackEnv('ECS_CLUSTER_ARN');
  const result = await stopReplication(event, ecsApi(ecs), env.ECS_CLUSTER_ARN);
  logger.info('replication stopped', { ...result });
  return result;
});
