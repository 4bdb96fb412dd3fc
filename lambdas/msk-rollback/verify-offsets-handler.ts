/**
 * VerifyOffsets: after replication stopped, checks on the target the offsets of every selected consumer
 * group and partition, and finishes with the report (per group: translated or not, and why not), which
 * is the execution's output and is published to the alert topic.
 */
import { SNSClient } from '@aws-sdk/client-sns';
import { logger, observed, traced } from '#shared/powertools';
import { snsNotifier } from './adapters/aws.ts';
import { createKafkaAdmin } from './adapters/kafka-admin.ts';
import { executionConsoleUrl } from './approval.ts';
import { rollbackEnv } from './env.ts';
import { VerifyEvent } from './events.ts';
import {
  REQUIRED_GROUP_EXCLUDES,
  REQUIRED_TOPIC_EXCLUDES,
  selectNames,
  withRequiredExcludes,
} from './filters.ts';
import { partitionKey } from './lag.ts';
import { type GroupOffset, type OffsetReport, verifyOffsets } from './offsets.ts';
import type { KafkaAdmin, KafkaAdminFactory, Notifier } from './ports.ts';

/** The execution's final report. */
export interface RollbackReport {
  readonly rollback: string;
  readonly execution: string;
  readonly source: string;
  readonly target: string;
  readonly direction: string;
  readonly topics: string[];
  readonly stoppedTasks: string[];
  readonly approval: unknown;
  readonly offsets: OffsetReport;
}

async function logEnds(admin: KafkaAdmin, topics: readonly string[]): Promise<Map<string, number>> {
  const ends = new Map<string, number>();
  for (const t of topics)
    for (const p of await admin.fetchTopicOffsets(t)) ends.set(partitionKey(p.topic, p.partition), p.end);
  return ends;
}

async function groupOffsets(admin: KafkaAdmin, groups: readonly string[], topics: readonly string[]) {
  const out = new Map<string, GroupOffset[]>();
  for (const g of groups)
    out.set(
      g,
      (await admin.fetchGroupOffsets(g, topics)).filter((o) => o.offset >= 0),
    );
  return out;
}

/** Gathers offsets on both clusters and builds the report. */
export async function verifyRollback(event: unknown, openAdmin: KafkaAdminFactory): Promise<RollbackReport> {
  const { plan, brokers, approval, stopped } = VerifyEvent.parse(event);
  const source = await openAdmin(brokers.source);
  let topics: string[];
  let groups: string[];
  let sourceOffsets: Map<string, GroupOffset[]>;
  let sourceEnds: Map<string, number>;
  try {
    topics = selectNames(
      await source.listTopics(),
      withRequiredExcludes(plan.topics, REQUIRED_TOPIC_EXCLUDES),
    );
    groups = selectNames(
      await source.listGroups(),
      withRequiredExcludes(plan.groups, REQUIRED_GROUP_EXCLUDES),
    );
    sourceOffsets = await groupOffsets(source, groups, topics);
    sourceEnds = await logEnds(source, topics);
  } finally {
    await source.close();
  }
  const target = await openAdmin(brokers.target);
  try {
    const offsets = verifyOffsets({
      groups,
      source: sourceOffsets,
      target: await groupOffsets(target, groups, topics),
      targetStates: await target.describeGroups(groups),
      sourceEnds,
      targetEnds: await logEnds(target, topics),
    });
    return {
      rollback: plan.name,
      execution: plan.execution.arn,
      source: plan.source.name,
      target: plan.target.name,
      direction: plan.direction,
      topics,
      stoppedTasks: stopped?.stopped ?? [],
      approval: approval ?? null,
      offsets,
    };
  } finally {
    await target.close();
  }
}

/** Formats the report for the alert topic. */
export function reportMessage(report: RollbackReport): { subject: string; message: string } {
  const lines = [
    `MSK rollback "${report.rollback}" finished: ${report.source} -> ${report.target} (${report.direction}).`,
    `Replication stopped (${report.stoppedTasks.length} task(s)); ${report.topics.length} topics replicated.`,
    `Consumer groups: ${report.offsets.translated} translated, ${report.offsets.notTranslated} not translated.`,
    '',
    ...report.offsets.groups.map(
      (g) => `  ${g.translated ? 'OK  ' : 'FAIL'} ${g.group}${g.reason ? `: ${g.reason}` : ''}`,
    ),
    '',
    `Execution: ${executionConsoleUrl(report.execution)}`,
  ];
  const subject = `MSK rollback ${report.rollback}: ${report.offsets.notTranslated === 0 ? 'done' : `done, ${report.offsets.notTranslated} group(s) not translated`}`;
  return { subject: subject.slice(0, 100), message: lines.join('\n') };
}

/** Verifies, publishes and returns the report. */
export async function verifyAndReport(event: unknown, openAdmin: KafkaAdminFactory, notifier: Notifier) {
  const report = await verifyRollback(event, openAdmin);
  const { subject, message } = reportMessage(report);
  await notifier.publish(subject, message);
  return report;
}

const sns = traced(new SNSClient({}));

/** Lambda entry point. */
export const handler = observed(async (event: unknown) => {
  const env = rollbackEnv('ALERT_TOPIC_ARN');
  const report = await verifyAndReport(event, createKafkaAdmin, snsNotifier(sns, env.ALERT_TOPIC_ARN));
  logger.info('rollback verified', {
    translated: report.offsets.translated,
    notTranslated: report.offsets.notTranslated,
  });
  return report;
});
