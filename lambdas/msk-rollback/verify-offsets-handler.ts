/**
 * VerifyOffsets: after replication stopped, checks on the target the offsets of every selected consumer
 * group and partition against MM2's checkpoints, publishes the report (per group: translated or not, and
 * why not) to the alert topic and returns it with the outcome the workflow routes on: `succeeded` (the
 * execution's output), or `offsets_not_translated` (the execution fails with `OffsetsNotTranslated` and
 * `cause` as its Cause).
 */
import { SNSClient } from '@aws-sdk/client-sns';
import { logger, observed, traced } from '#shared/powertools';
import { snsNotifier } from './adapters/aws.ts';
import { createKafkaAdmin } from './adapters/kafka-admin.ts';
import { executionConsoleUrl } from './approval.ts';
import { checkpointsTopic, latestCheckpoints } from './checkpoints.ts';
import { rollbackEnv } from './env.ts';
import { VerifyEvent } from './events.ts';
import {
  compileFilter,
  REQUIRED_GROUP_EXCLUDES,
  REQUIRED_TOPIC_EXCLUDES,
  selectNames,
  withRequiredExcludes,
} from './filters.ts';
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
  /** `offsets_not_translated` when a group that is not optional was not translated. */
  readonly outcome: 'succeeded' | 'offsets_not_translated';
  /** The execution's Cause when it fails: the failed groups and why; absent on success. */
  readonly cause?: string;
}

/** Step Functions keeps at most 32,768 characters of a Cause. */
const MAX_CAUSE = 32_768;

/**
 * The Cause of an `OffsetsNotTranslated` failure: every failed group and why, cut to what Step Functions keeps.
 * @param offsets the verification report
 */
export function notTranslatedCause(offsets: OffsetReport): string {
  const failed = new Set(offsets.failed);
  const why = offsets.groups.filter((g) => failed.has(g.group)).map((g) => `${g.group}: ${g.reason}`);
  const text = `${failed.size} consumer group(s) not translated (replication is stopped; the report went to the alert topic): ${why.join(' | ')}`;
  return text.length <= MAX_CAUSE ? text : `${text.slice(0, MAX_CAUSE - 13)} [truncated]`;
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
  } finally {
    await source.close();
  }
  const target = await openAdmin(brokers.target);
  try {
    const isOptional = compileFilter({ include: plan.groups.optional, exclude: [] });
    const offsets = verifyOffsets({
      groups,
      optional: new Set(groups.filter(isOptional)),
      source: sourceOffsets,
      target: await groupOffsets(target, groups, topics),
      targetStates: await target.describeGroups(groups),
      checkpoints: latestCheckpoints(await target.readTopicBinary(checkpointsTopic(plan.source.alias))),
    });
    const failed = offsets.failed.length > 0;
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
      outcome: failed ? 'offsets_not_translated' : 'succeeded',
      ...(failed ? { cause: notTranslatedCause(offsets) } : {}),
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
    `Consumer groups: ${report.offsets.translated} translated, ${report.offsets.notTranslated} not translated` +
      (report.outcome === 'succeeded'
        ? '.'
        : `; the rollback FAILED with OffsetsNotTranslated (${report.offsets.failed.length} required group(s)).`),
    '',
    ...report.offsets.groups.map(
      (g) =>
        `  ${g.translated ? 'OK  ' : g.optional ? 'SKIP' : 'FAIL'} ${g.group}${g.optional && !g.translated ? ' (optional)' : ''}${g.reason ? `: ${g.reason}` : ''}`,
    ),
    '',
    `Execution: ${executionConsoleUrl(report.execution)}`,
  ];
  const subject = `MSK rollback ${report.rollback}: ${
    report.outcome !== 'succeeded'
      ? `FAILED, ${report.offsets.failed.length} group(s) not translated`
      : report.offsets.notTranslated === 0
        ? 'done'
        : `done, ${report.offsets.notTranslated} optional group(s) not translated`
  }`;
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
    outcome: report.outcome,
    translated: report.offsets.translated,
    notTranslated: report.offsets.notTranslated,
    failed: report.offsets.failed,
  });
  return report;
});
