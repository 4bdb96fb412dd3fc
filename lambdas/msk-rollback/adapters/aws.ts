/**
 * AWS SDK v3 adapters of the MSK rollback ports. The only module of the capability's Lambda code that
 * imports `@aws-sdk/client-*` (besides the Kafka admin adapter's signer).
 */
import { DescribeSecurityGroupsCommand, DescribeSubnetsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeTasksCommand,
  type ECSClient,
  ListTasksCommand,
  StopTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { DescribeClusterV2Command, type KafkaClient } from '@aws-sdk/client-kafka';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, ListExecutionsCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { logger } from '#shared/powertools';
import { RemoteWriteClient, type Sample } from '#shared/remote-write';
import type { IngressRule, RunningFlow } from '../clusters.ts';
import type {
  ConfigStore,
  EcsApi,
  ExecutionsApi,
  MskApi,
  MskFacts,
  NetworkApi,
  Notifier,
  SampleSink,
  TaskInfo,
} from '../ports.ts';

/** MSK via DescribeClusterV2 (provisioned and serverless clusters). */
export function mskApi(client: KafkaClient): MskApi {
  return {
    async describeCluster(arn) {
      try {
        const { ClusterInfo: c } = await client.send(new DescribeClusterV2Command({ ClusterArn: arn }));
        if (!c) return { found: false, iamEnabled: false, subnetIds: [], securityGroupIds: [] };
        if (c.ClusterType === 'SERVERLESS') {
          const vpcs = c.Serverless?.VpcConfigs ?? [];
          return {
            found: true,
            state: c.State,
            clusterType: 'SERVERLESS',
            iamEnabled: c.Serverless?.ClientAuthentication?.Sasl?.Iam?.Enabled === true,
            subnetIds: vpcs.flatMap((v) => v.SubnetIds ?? []),
            securityGroupIds: vpcs.flatMap((v) => v.SecurityGroupIds ?? []),
          } satisfies MskFacts;
        }
        const p = c.Provisioned;
        return {
          found: true,
          state: c.State,
          clusterType: 'PROVISIONED',
          kafkaVersion: p?.CurrentBrokerSoftwareInfo?.KafkaVersion,
          iamEnabled: p?.ClientAuthentication?.Sasl?.Iam?.Enabled === true,
          subnetIds: p?.BrokerNodeGroupInfo?.ClientSubnets ?? [],
          securityGroupIds: p?.BrokerNodeGroupInfo?.SecurityGroups ?? [],
        } satisfies MskFacts;
      } catch (err) {
        if ((err as Error).name === 'NotFoundException') {
          return { found: false, iamEnabled: false, subnetIds: [], securityGroupIds: [] };
        }
        throw err;
      }
    },
  };
}

/** EC2 subnets and security group rules. */
export function networkApi(client: EC2Client): NetworkApi {
  return {
    async describeSubnets(ids) {
      if (ids.length === 0) return [];
      const { Subnets = [] } = await client.send(new DescribeSubnetsCommand({ SubnetIds: [...ids] }));
      return Subnets.map((s) => ({ id: s.SubnetId ?? '', vpcId: s.VpcId ?? '', cidr: s.CidrBlock ?? '' }));
    },
    async describeIngress(groupIds) {
      if (groupIds.length === 0) return [];
      const { SecurityGroups = [] } = await client.send(
        new DescribeSecurityGroupsCommand({ GroupIds: [...groupIds] }),
      );
      return SecurityGroups.flatMap((g) =>
        (g.IpPermissions ?? []).map(
          (p): IngressRule => ({
            protocol: p.IpProtocol ?? '-1',
            fromPort: p.FromPort,
            toPort: p.ToPort,
            cidrs: (p.IpRanges ?? []).flatMap((r) => (r.CidrIp ? [r.CidrIp] : [])),
            groupIds: (p.UserIdGroupPairs ?? []).flatMap((u) => (u.GroupId ? [u.GroupId] : [])),
          }),
        ),
      );
    },
  };
}

/** Running executions of the state machine and the flows their inputs name. */
export function executionsApi(client: SFNClient): ExecutionsApi {
  return {
    async runningFlows(stateMachineArn, exceptExecutionArn) {
      const arns: string[] = [];
      let nextToken: string | undefined;
      do {
        const page = await client.send(
          new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING', maxResults: 100, nextToken }),
        );
        for (const e of page.executions ?? [])
          if (e.executionArn && e.executionArn !== exceptExecutionArn) arns.push(e.executionArn);
        nextToken = page.nextToken;
      } while (nextToken);
      const flows: RunningFlow[] = [];
      for (const executionArn of arns) {
        const d = await client.send(new DescribeExecutionCommand({ executionArn }));
        let input: { sourceClusterArn?: unknown; targetClusterArn?: unknown } = {};
        try {
          input = JSON.parse(d.input ?? '{}');
        } catch {
          continue;
        }
        if (typeof input.sourceClusterArn === 'string' && typeof input.targetClusterArn === 'string') {
          flows.push({
            executionArn,
            sourceClusterArn: input.sourceClusterArn,
            targetClusterArn: input.targetClusterArn,
          });
        }
      }
      return flows;
    },
  };
}

function toTaskInfo(t: Task): TaskInfo {
  return {
    taskArn: t.taskArn ?? '',
    lastStatus: t.lastStatus,
    desiredStatus: t.desiredStatus,
    stoppedReason: t.stoppedReason,
    tags: Object.fromEntries((t.tags ?? []).flatMap((tag) => (tag.key ? [[tag.key, tag.value ?? '']] : []))),
  };
}

/** ECS tasks of the rollback cluster. */
export function ecsApi(client: ECSClient): EcsApi {
  const describe = async (cluster: string, tasks: string[]) => {
    const out: TaskInfo[] = [];
    for (let i = 0; i < tasks.length; i += 100) {
      const res = await client.send(
        new DescribeTasksCommand({ cluster, tasks: tasks.slice(i, i + 100), include: ['TAGS'] }),
      );
      out.push(...(res.tasks ?? []).map(toTaskInfo));
    }
    return out;
  };
  return {
    async describeTask(cluster, taskArn) {
      return (await describe(cluster, [taskArn]))[0];
    },
    async listLiveTasks(cluster) {
      const arns: string[] = [];
      let nextToken: string | undefined;
      do {
        const page = await client.send(
          new ListTasksCommand({ cluster, desiredStatus: 'RUNNING', nextToken }),
        );
        arns.push(...(page.taskArns ?? []));
        nextToken = page.nextToken;
      } while (nextToken);
      return arns.length ? describe(cluster, arns) : [];
    },
    async stopTask(cluster, taskArn, reason) {
      await client.send(new StopTaskCommand({ cluster, task: taskArn, reason: reason.slice(0, 255) }));
    },
  };
}

/** Rendered configs in the config bucket. */
export function s3ConfigStore(client: S3Client, bucket: string): ConfigStore {
  return {
    async put(key, body, contentType) {
      await client.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }),
      );
      return `s3://${bucket}/${key}`;
    },
  };
}

/** The alert topic. */
export function snsNotifier(client: SNSClient, topicArn: string): Notifier {
  return {
    async publish(subject, message) {
      await client.send(new PublishCommand({ TopicArn: topicArn, Subject: subject, Message: message }));
    },
  };
}

/**
 * AMP remote-write. A failed write is logged, not thrown: lag samples feed the dashboard, while the
 * workflow's gate decision is made from the lag measured in the same invocation.
 */
export function remoteWriteSink(url: string, remainingTimeMs: () => number): SampleSink {
  const client = new RemoteWriteClient({ url, sigv4: {} });
  return {
    async write(samples: Sample[]) {
      const result = await client.write(samples, { remainingTimeMs });
      if (!result.ok) {
        logger.warn('lag samples not written to AMP', {
          samplesFailed: result.samplesFailed,
          failures: result.failures.map((f) => ({
            reason: f.reason,
            status: f.status,
            body: f.body,
            error: f.error,
          })),
        });
      }
    },
  };
}
