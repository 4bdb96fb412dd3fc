/**
 * RequestApproval: invoked with a task token once the lag gate has held. Publishes the lag figures and
 * the approve/reject commands to the alert topic; the state then waits for SendTaskSuccess/Failure.
 */
import { SNSClient } from '@aws-sdk/client-sns';
import { logger, observed, traced } from '#shared/powertools';
import { snsNotifier } from './adapters/aws.ts';
import { approvalMessage } from './approval.ts';
import { rollbackEnv } from './env.ts';
import { RequestApprovalEvent } from './events.ts';
import { summarizeLag } from './lag.ts';
import type { Notifier } from './ports.ts';

/**
 * Publishes the approval request.
 * @returns the subject sent (the state's output comes from the decision, not from this)
 */
export async function requestApproval(event: unknown, notifier: Notifier): Promise<{ subject: string }> {
  const { token, plan, poll } = RequestApprovalEvent.parse(event);
  const { subject, message } = approvalMessage(plan, poll.lag ?? summarizeLag([]), token);
  await notifier.publish(subject, message);
  return { subject };
}

const sns = traced(new SNSClient({}));

/** Lambda entry point. */
export const handler = observed(async (event: unknown) => {
  const env = rollbackEnv('ALERT_TOPIC_ARN');
  const result = await requestApproval(event, snsNotifier(sns, env.ALERT_TOPIC_ARN));
  logger.info('approval requested', result);
  return result;
});
