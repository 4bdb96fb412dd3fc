/**
 * A Lambda function invoked on a schedule by EventBridge Scheduler, through a role of its own that
 * may invoke that one function and nothing else.
 */
import { type CfnElement, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type { Construct } from 'constructs';

/** What to invoke, when, with what. */
export interface ScheduledInvokeProps {
  readonly function: lambda.IFunction;
  /** EventBridge Scheduler expression, e.g. `rate(5 minutes)`. */
  readonly schedule: string;
  /** The schedule's description. */
  readonly description: string;
  /** The scheduler role's description. */
  readonly roleDescription: string;
  /** The payload. @default - an empty object */
  readonly input?: Record<string, unknown>;
}

/**
 * Schedules `props.function` under `scope` (ids `SchedulerRole` and `Schedule`). A missed run is not
 * retried: the next one is due within a period and measures the present, not the past.
 * @param scope the construct both are created in
 * @param props function, expression, description and payload
 */
export function scheduledInvoke(scope: Construct, props: ScheduledInvokeProps): scheduler.Schedule {
  const role = new iam.Role(scope, 'SchedulerRole', {
    assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(scope).account } },
    }),
    description: props.roleDescription,
  });
  const schedule = new scheduler.Schedule(scope, 'Schedule', {
    description: props.description,
    schedule: scheduler.ScheduleExpression.expression(props.schedule),
    target: new targets.LambdaInvoke(props.function, {
      input: scheduler.ScheduleTargetInput.fromObject(props.input ?? {}),
      retryAttempts: 0,
      maxEventAge: Duration.seconds(60),
      role,
    }),
  });
  Validations.of(role).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${Stack.of(scope).getLogicalId(props.function.node.defaultChild as CfnElement)}.Arn>:*]`,
    reason:
      'lambda:InvokeFunction granted by the scheduler target on this one function and its versions/aliases (<function-arn>:*), nothing else',
  });
  return schedule;
}
