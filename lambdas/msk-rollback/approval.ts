/**
 * The approval request: what the alert topic receives when the lag gate has held, with the lag figures
 * and the exact commands that approve or reject the cutover, and the decision those commands send back.
 */
import { z } from 'zod';
import type { RollbackPlan } from './input.ts';
import type { LagSummary } from './lag.ts';

/** Error name `reject` sends with SendTaskFailure; the workflow catches it to stop replication. */
export const REJECTED_ERROR = 'RollbackRejected';

/** Output `approve` sends with SendTaskSuccess. */
export const ApprovalDecisionSchema = z.strictObject({
  approved: z.literal(true),
  by: z.string().min(1).max(200).optional(),
  comment: z.string().max(2000).optional(),
  at: z.iso.datetime().optional(),
});

/** A decision to approve. */
export type ApprovalDecision = z.infer<typeof ApprovalDecisionSchema>;

/** Quotes a value for a POSIX shell. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Region of an ARN. */
export function arnRegion(arn: string): string {
  return arn.split(':')[3] ?? '';
}

/** Console URL of an execution. */
export function executionConsoleUrl(executionArn: string): string {
  const region = arnRegion(executionArn);
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

/**
 * Builds the approval notification.
 * @param plan the rollback
 * @param lag the lag when the gate had held
 * @param token the task token the decision must carry
 * @returns SNS subject (at most 100 characters) and message
 */
export function approvalMessage(
  plan: Pick<RollbackPlan, 'name' | 'direction' | 'source' | 'target' | 'lagGate' | 'timeouts' | 'execution'>,
  lag: LagSummary,
  token: string,
): { subject: string; message: string } {
  const region = arnRegion(plan.execution.arn);
  const t = shellQuote(token);
  const worst = lag.worst.length
    ? lag.worst.map((w) => `    ${w.topic}-${w.partition}: ${w.lag}`).join('\n')
    : '    (no partition behind)';
  const message = [
    `MSK rollback "${plan.name}" is ready for cutover: ${plan.source.name} -> ${plan.target.name} (${plan.direction}).`,
    '',
    `Lag: ${lag.totalRecords} records behind over ${lag.partitions} partitions of ${lag.topics} topics`,
    `  (gate: at most ${plan.lagGate.maxRecords} records for ${plan.lagGate.holdMinutes} minutes; held).`,
    `  Largest partition lag: ${lag.maxPartitionRecords}; partitions behind: ${lag.partitionsBehind}.`,
    '  Furthest behind:',
    worst,
    '',
    'Before approving: stop the producers writing to the source. After approval the workflow waits until',
    `the lag drains to ${plan.lagGate.drainMaxRecords} records (at most ${plan.timeouts.drainMinutes} minutes), stops MirrorMaker 2,`,
    'verifies consumer-group offsets on the target and publishes a report here.',
    `This request expires in ${plan.timeouts.approveMinutes} minutes; then replication is stopped.`,
    '',
    'Approve:',
    `  npx observatory rollback approve --region ${region} --token ${t}`,
    `  aws stepfunctions send-task-success --region ${region} --task-token ${t} --task-output '{"approved":true}'`,
    '',
    'Reject (replication is stopped, nothing is cut over):',
    `  npx observatory rollback reject --region ${region} --reason 'why' --token ${t}`,
    `  aws stepfunctions send-task-failure --region ${region} --error ${REJECTED_ERROR} --cause 'why' --task-token ${t}`,
    '',
    `Execution: ${executionConsoleUrl(plan.execution.arn)}`,
  ].join('\n');
  const subject = `MSK rollback ${plan.name}: approve cutover to ${plan.target.name}?`;
  return { subject: subject.length > 100 ? `${subject.slice(0, 97)}...` : subject, message };
}
