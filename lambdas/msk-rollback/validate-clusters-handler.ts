/**
 * ValidateClusters: both clusters exist and are ACTIVE, IAM auth is on, versions fit the direction, the
 * MM2 task's subnets can reach port 9098, and no other execution replicates into the same target.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { KafkaClient } from '@aws-sdk/client-kafka';
import { SFNClient } from '@aws-sdk/client-sfn';
import { logger, observed, traced } from '#shared/powertools';
import { executionsApi, mskApi, networkApi } from './adapters/aws.ts';
import { type ClusterFacts, checkClusters } from './clusters.ts';
import { rollbackEnv } from './env.ts';
import { ClusterValidationError } from './errors.ts';
import { ValidateClustersEvent } from './events.ts';
import type { RollbackPlan } from './input.ts';
import type { ExecutionsApi, MskApi, NetworkApi } from './ports.ts';

/** What the check reports about each cluster when it passes. */
export interface ClusterSummary {
  readonly source: { readonly kafkaVersion: string | null; readonly clusterType: string | null };
  readonly target: { readonly kafkaVersion: string | null; readonly clusterType: string | null };
}

/** Ports and settings of {@link validateClusters}. */
export interface ValidateClustersDeps {
  readonly msk: MskApi;
  readonly network: NetworkApi;
  readonly executions: ExecutionsApi;
  readonly task: {
    readonly vpcId: string;
    readonly subnetIds: readonly string[];
    readonly securityGroupIds: readonly string[];
  };
}

async function gather(
  plan: RollbackPlan,
  role: 'source' | 'target',
  deps: ValidateClustersDeps,
): Promise<ClusterFacts> {
  const ref = plan[role];
  const msk = await deps.msk.describeCluster(ref.arn);
  const subnets = await deps.network.describeSubnets(msk.subnetIds);
  const ingress = await deps.network.describeIngress(msk.securityGroupIds);
  return {
    role,
    arn: ref.arn,
    name: ref.name,
    found: msk.found,
    state: msk.state,
    clusterType: msk.clusterType,
    kafkaVersion: msk.kafkaVersion,
    iamEnabled: msk.iamEnabled,
    vpcIds: [...new Set(subnets.map((s) => s.vpcId))],
    securityGroupIds: msk.securityGroupIds,
    ingress,
  };
}

/**
 * Runs every cluster check.
 * @throws ClusterValidationError listing every problem
 */
export async function validateClusters(event: unknown, deps: ValidateClustersDeps): Promise<ClusterSummary> {
  const { plan } = ValidateClustersEvent.parse(event);
  const [source, target, taskSubnets, running] = await Promise.all([
    gather(plan, 'source', deps),
    gather(plan, 'target', deps),
    deps.network.describeSubnets(deps.task.subnetIds),
    deps.executions.runningFlows(plan.stateMachineArn, plan.execution.arn),
  ]);
  const problems = checkClusters(
    { source, target },
    {
      vpcId: deps.task.vpcId,
      subnetCidrs: taskSubnets.map((s) => s.cidr),
      securityGroupIds: deps.task.securityGroupIds,
    },
    plan.direction,
    running,
  );
  if (problems.length > 0) throw new ClusterValidationError(problems);
  return {
    source: { kafkaVersion: source.kafkaVersion ?? null, clusterType: source.clusterType ?? null },
    target: { kafkaVersion: target.kafkaVersion ?? null, clusterType: target.clusterType ?? null },
  };
}

const kafka = traced(new KafkaClient({}));
const ec2 = traced(new EC2Client({}));
const sfn = traced(new SFNClient({}));

/** Lambda entry point. */
export const handler = observed(async (event: unknown) => {
  const env = rollbackEnv('TASK_VPC_ID', 'TASK_SUBNET_IDS', 'TASK_SECURITY_GROUP_IDS');
  try {
    const summary = await validateClusters(event, {
      msk: mskApi(kafka),
      network: networkApi(ec2),
      executions: executionsApi(sfn),
      task: {
        vpcId: env.TASK_VPC_ID,
        subnetIds: env.TASK_SUBNET_IDS,
        securityGroupIds: env.TASK_SECURITY_GROUP_IDS,
      },
    });
    logger.info('clusters ready', { ...summary });
    return summary;
  } catch (err) {
    if (err instanceof ClusterValidationError) logger.warn('clusters not ready', { problems: err.problems });
    throw err;
  }
});
