/**
 * MemberRoleStack: the read-only role the utilization collector assumes in a member account.
 */
import { CfnOutput, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';

/** Actions the collector needs in a member account, and nothing else. */
export const MEMBER_READ_ACTIONS = [
  'ec2:DescribeInstances',
  'ec2:DescribeInstanceTypes',
  'rds:DescribeDBInstances',
  'ecs:ListClusters',
  'ecs:ListServices',
  'ecs:DescribeServices',
  'ecs:DescribeTaskDefinition',
  'kafka:ListClustersV2',
  'kafka:ListNodes',
  'cloudwatch:GetMetricData',
  'cloudwatch:ListMetrics',
] as const;

/** Props of {@link MemberRoleStack}. */
export interface MemberRoleStackProps extends StackProps {
  /** Name of the role to create (the config's `utilization.roleName`). */
  readonly roleName: string;
  /** ARN of the collector's execution role in the central account; the only principal trusted. */
  readonly collectorRoleArn: string;
  /** External ID the collector presents. @default - none required */
  readonly externalId?: string;
}

/**
 * Deploy once per member account (`cdk deploy <project>-MemberRole-<account>` with that account's
 * credentials, or as a StackSet): a role that trusts only the collector's role (and the external ID when
 * configured) and may only describe/list the four services and read CloudWatch metrics.
 */
export class MemberRoleStack extends Stack {
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: MemberRoleStackProps) {
    super(scope, id, props);
    const centralAccount = props.collectorRoleArn.split(':')[4]!;
    this.role = new iam.Role(this, 'ReaderRole', {
      roleName: props.roleName,
      description: 'read-only access for the Infra Observatory utilization collector',
      assumedBy: new iam.AccountPrincipal(centralAccount).withConditions({
        ArnEquals: { 'aws:PrincipalArn': props.collectorRoleArn },
        ...(props.externalId ? { StringEquals: { 'sts:ExternalId': props.externalId } } : {}),
      }),
      inlinePolicies: {
        read: new iam.PolicyDocument({
          statements: [new iam.PolicyStatement({ actions: [...MEMBER_READ_ACTIONS], resources: ['*'] })],
        }),
      },
    });
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Describe*/List* of EC2, RDS, ECS and MSK and cloudwatch:GetMetricData/ListMetrics are account-wide discovery calls without resource-level permissions; the role is read-only and trusts one role',
    });
    new CfnOutput(this, 'ReaderRoleArn', { value: this.role.roleArn });
  }
}
