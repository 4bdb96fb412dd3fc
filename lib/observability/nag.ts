/**
 * Helpers to acknowledge cdk-nag findings precisely: by the finding's own ID, never a whole rule.
 */
import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * The finding ID cdk-nag gives a wildcard on `<resource>.Arn` + suffix, e.g. a function's versions
 * (`:*`) or the objects under a bucket prefix (`/batches/*`).
 * @param resource the construct whose ARN is wildcarded (an L2 or its L1)
 * @param suffix what follows the ARN in the policy
 */
export function arnWildcardFinding(resource: IConstruct, suffix: string): string {
  const cfn = (resource.node.defaultChild ?? resource) as CfnElement;
  return `AwsSolutions-IAM5[Resource::<${Stack.of(resource).getLogicalId(cfn)}.Arn>${suffix}]`;
}

/**
 * Acknowledges one or more specific findings on a construct, with one evidence-giving reason.
 * @param scope the narrowest construct that carries the findings
 * @param ids finding IDs such as `AwsSolutions-IAM5[Resource::*]`
 * @param reason why the finding is acceptable here
 */
export function acknowledge(scope: IConstruct, ids: string[], reason: string): void {
  for (const id of ids) Validations.of(scope).acknowledge({ id, reason });
}

/**
 * Acknowledges CDK's warning that an imported subnet has no route table ID, for imports whose route
 * tables nothing reads: only the subnet IDs reach the template (a DB subnet group, a Lambda or task
 * VpcConfig); CDK reads an imported subnet's route table only for gateway endpoints and routes, and
 * the app creates neither. Config can give the IDs where it has a per-subnet entry (probe AZs).
 * @param scope the imported VPC or subnet (the acknowledgement covers its children)
 * @param usedBy what uses the subnets, for the reason
 */
export function acknowledgeUnreadRouteTables(scope: IConstruct, usedBy: string): void {
  Validations.of(scope).acknowledge({
    id: '@aws-cdk/aws-ec2:noSubnetRouteTableId',
    reason: `${usedBy} uses only the subnet IDs; no gateway endpoint or route of this app reads their route tables`,
  });
}

/**
 * Acknowledges CDK's warning that an imported VPC's AZ list is a token (`Fn.getAzs()`), for imports of
 * which only the VPC ID is used: every subnet is passed explicitly, so nothing selects subnets by AZ at
 * synthesis time. A plain list is not possible offline (the config names no AZs for these subnets, and
 * an empty list makes the import fail).
 * @param vpc the imported VPC
 */
export function acknowledgeVpcIdOnly(vpc: IConstruct): void {
  Validations.of(vpc).acknowledge({
    id: '@aws-cdk/aws-ec2:vpcAttributeIsListTokenavailabilityZones',
    reason: 'only the VPC ID is used; every subnet is given explicitly, none is selected by AZ at synthesis',
  });
}
