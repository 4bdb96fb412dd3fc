/**
 * DiscoverTopics: lists the source's topics and consumer groups over IAM auth and applies the filters
 * exactly as MM2 will; fails with `NoMatchingTopics` when nothing would be replicated. Runs just before
 * the task starts, so it also records the lag {@link Baseline}: where MM2 will start each partition.
 */
import { logger, observed } from '#shared/powertools';
import { createKafkaAdmin } from './adapters/kafka-admin.ts';
import { NoMatchingTopicsError } from './errors.ts';
import { PlanWithBrokersEvent } from './events.ts';
import {
  REQUIRED_GROUP_EXCLUDES,
  REQUIRED_TOPIC_EXCLUDES,
  selectNames,
  withRequiredExcludes,
} from './filters.ts';
import { type Baseline, extendBaseline, type PartitionOffsets } from './lag.ts';
import type { KafkaAdmin, KafkaAdminFactory } from './ports.ts';
import { type RetainedBytes, retainedBytes } from './retained.ts';

/** What DiscoverTopics returns (`$.discovery`). */
export interface Discovery {
  readonly topics: string[];
  readonly groups: string[];
  readonly partitions: number;
  /** Records the selected partitions retain now (end minus start, summed). */
  readonly retainedRecords: number;
  /** Where MM2 starts copying each partition (log start forward, log end in reverse). */
  readonly baseline: Baseline;
  /**
   * Dry runs only: the bytes the source retains for the selection, or why they could not be read (the
   * dry run still succeeds: the figure informs, it does not gate).
   */
  readonly retainedBytes?: RetainedBytes | { readonly unavailable: string };
}

/** Sizes the selection from the source's log directories; a failure becomes a reason, never a throw. */
async function measureRetainedBytes(
  admin: KafkaAdmin,
  offsets: readonly PartitionOffsets[],
): Promise<RetainedBytes | { unavailable: string }> {
  const byTopic = new Map<string, number[]>();
  for (const p of offsets) {
    const partitions = byTopic.get(p.topic);
    if (partitions) partitions.push(p.partition);
    else byTopic.set(p.topic, [p.partition]);
  }
  try {
    const replicas = await admin.describeReplicaLogSizes(
      [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
    );
    return retainedBytes(offsets, replicas);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    logger.warn('could not read the source log directories', { error: reason });
    return { unavailable: `DescribeLogDirs failed: ${reason}` };
  }
}

/**
 * Selects the topics and groups a rollback replicates.
 * @throws NoMatchingTopicsError when no topic is selected
 */
export async function discoverTopics(event: unknown, openAdmin: KafkaAdminFactory): Promise<Discovery> {
  const { plan, brokers } = PlanWithBrokersEvent.parse(event);
  const admin = await openAdmin(brokers.source);
  try {
    const all = await admin.listTopics();
    const topics = selectNames(all, withRequiredExcludes(plan.topics, REQUIRED_TOPIC_EXCLUDES));
    if (topics.length === 0) {
      throw new NoMatchingTopicsError([
        `no topic of ${plan.source.name} (${all.length} topics) matches include [${plan.topics.include.join(', ')}] outside exclude [${withRequiredExcludes(plan.topics, REQUIRED_TOPIC_EXCLUDES).exclude.join(', ')}]`,
      ]);
    }
    const groups = selectNames(
      await admin.listGroups(),
      withRequiredExcludes(plan.groups, REQUIRED_GROUP_EXCLUDES),
    );
    const offsets: PartitionOffsets[] = [];
    for (const t of topics) offsets.push(...(await admin.fetchTopicOffsets(t)));
    return {
      topics,
      groups,
      partitions: offsets.length,
      retainedRecords: offsets.reduce((n, p) => n + Math.max(0, p.end - p.start), 0),
      baseline: extendBaseline({}, plan.direction, offsets),
      ...(plan.dryRun ? { retainedBytes: await measureRetainedBytes(admin, offsets) } : {}),
    };
  } finally {
    await admin.close();
  }
}

/** Lambda entry point. */
export const handler = observed(async (event: unknown) => {
  const discovery = await discoverTopics(event, createKafkaAdmin);
  logger.info('topics selected', {
    topics: discovery.topics.length,
    groups: discovery.groups.length,
    partitions: discovery.partitions,
  });
  return discovery;
});
