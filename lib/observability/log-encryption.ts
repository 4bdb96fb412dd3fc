/**
 * Encrypts every CloudWatch Logs log group of a stack with one customer managed KMS key per stack
 * (`monitoring.logEncryption`). An aspect rather than a prop of each construct: every log group is
 * covered, including those made by the database, the MM2 task and the provider frameworks, and none
 * can be forgotten by a new construct.
 */
import { type IAspect, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IConstruct } from 'constructs';
import { denyGrantsExceptForAwsResources } from './guardrails.ts';

/** Sets `KmsKeyId` on every `AWS::Logs::LogGroup` that has none, with a key of its stack. */
export class LogGroupEncryption implements IAspect {
  private readonly keys = new Map<Stack, kms.Key>();

  visit(node: IConstruct): void {
    if (!(node instanceof logs.CfnLogGroup) || node.kmsKeyId !== undefined) return;
    node.kmsKeyId = this.keyOf(Stack.of(node)).keyArn;
  }

  /**
   * The stack's log key. Its policy lets only CloudWatch Logs of the stack's region use it, and only
   * for log groups of the stack's account and region (the `aws:logs:arn` encryption context).
   * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
   */
  private keyOf(stack: Stack): kms.Key {
    let key = this.keys.get(stack);
    if (key) return key;
    key = new kms.Key(stack, 'LogKey', {
      description: `encrypts the Infra Observatory log groups of ${stack.stackName}`,
      enableKeyRotation: true,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchLogs',
        principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'], // in a key policy, '*' means this key
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': `arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:*`,
          },
        },
      }),
    );
    denyGrantsExceptForAwsResources(key);
    this.keys.set(stack, key);
    return key;
  }
}
