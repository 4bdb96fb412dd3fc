/**
 * DiscoverTopics: lists the source's topics and consumer groups over IAM auth and applies the filters
 * exactly as MM2 will; fails with `NoMatchingTopics` when nothing would be replicated.
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
import type { KafkaAdminFactory } from './ports.ts';

/** What DiscoverTopics returns. */
export interface Discovery {
  readonly topics: string[];
  readonly groups: string[];
  readonly partitions: number;
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
    let partitions = 0;
    for (const t of topics) partitions += (await admin.fetchTopicOffsets(t)).length;
    return { topics, groups, partitions };
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
