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
