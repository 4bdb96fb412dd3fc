/**
 * PollReplication: one turn of the replication loop. Checks the MM2 task is alive, measures the lag per
 * topic-partition (source log ends against MM2's replicated positions), pushes the figures to AMP, and
 * decides: wait, restart the task, converged, drained, timed out or give up.
 */
import { ECSClient } from '@aws-sdk/client-ecs';
import type { Context } from 'aws-lambda';
import { logger, observed, traced } from '#shared/powertools';
import { ecsApi, remoteWriteSink } from './adapters/aws.ts';
import { createKafkaAdmin } from './adapters/kafka-admin.ts';
import { rollbackEnv } from './env.ts';
import { PollEvent } from './events.ts';
import { REQUIRED_TOPIC_EXCLUDES, selectNames, withRequiredExcludes } from './filters.ts';
import type { RollbackPlan } from './input.ts';
import {
  type Baseline,
  computeLag,
  extendBaseline,
  type PartitionLag,
  type PartitionOffsets,
  parseMirrorPositions,
  summarizeLag,
} from './lag.ts';
import { pollSamples } from './metrics.ts';
import { connectOffsetsTopic } from './mm2-config.ts';
import { decidePoll, type PollState, taskHealth } from './poll.ts';
import type { EcsApi, KafkaAdminFactory, SampleSink } from './ports.ts';

/** Ports of {@link pollReplication}. */
export interface PollDeps {
  readonly ecs: EcsApi;
  readonly ecsCluster: string;
  readonly openAdmin: KafkaAdminFactory;
  readonly sink: SampleSink;
  readonly now: () => Date;
}

/**
 * Measures lag for a plan: selected source topics (listed again each poll, so topics created during
 * replication count) against MM2's positions on the target, counted from the baseline.
 * @returns the lag per partition and the baseline extended by partitions seen for the first time
 */
export async function measureLag(
  plan: RollbackPlan,
  brokers: { source: string; target: string },
  openAdmin: KafkaAdminFactory,
  known: Baseline,
): Promise<{ lags: PartitionLag[]; baseline: Baseline }> {
  const source = await openAdmin(brokers.source);
  const offsets: PartitionOffsets[] = [];
  try {
    const topics = selectNames(
      await source.listTopics(),
      withRequiredExcludes(plan.topics, REQUIRED_TOPIC_EXCLUDES),
    );
    for (const t of topics) offsets.push(...(await source.fetchTopicOffsets(t)));
  } finally {
    await source.close();
  }
  const target = await openAdmin(brokers.target);
  try {
    const positions = parseMirrorPositions(
      await target.readTopic(connectOffsetsTopic(plan)),
      plan.source.alias,
    );
    const baseline = extendBaseline(known, plan.direction, offsets);
    return { lags: computeLag(offsets, positions, baseline), baseline };
  } finally {
    await target.close();
  }
}

/** Runs one poll and returns the new loop state (`$.poll`). */
export async function pollReplication(event: unknown, deps: PollDeps): Promise<PollState> {
  const { plan, brokers, taskArn, poll } = PollEvent.parse(event);
  const health = taskHealth(await deps.ecs.describeTask(deps.ecsCluster, taskArn));
  const measured = health.alive ? await measureLag(plan, brokers, deps.openAdmin, poll.baseline) : null;
  const lags = measured?.lags ?? null;
  const now = deps.now();
  const decided = decidePoll(plan, poll, health, lags ? summarizeLag(lags) : null, now);
  const next = { ...decided, baseline: measured?.baseline ?? poll.baseline };
  await deps.sink.write(pollSamples(plan, next, lags, now.getTime(), poll));
  return next;
}

const ecs = traced(new ECSClient({}));

/** Lambda entry point. */
export const handler = observed(async (event: unknown, context: Context) => {
  const env = rollbackEnv('ECS_CLUSTER_ARN', 'REMOTE_WRITE_URL');
  const next = await pollReplication(event, {
    ecs: ecsApi(ecs),
    ecsCluster: env.ECS_CLUSTER_ARN,
    openAdmin: createKafkaAdmin,
    sink: remoteWriteSink(env.REMOTE_WRITE_URL, () => context.getRemainingTimeInMillis()),
    now: () => new Date(),
  });
  logger.info('replication polled', {
    phase: next.phase,
    action: next.action,
    reason: next.reason,
    lagRecords: next.lag?.totalRecords,
    restarts: next.restarts,
  });
  return next;
});
