/**
 * IAM resources of Amazon MSK's `kafka-cluster:*` actions, derived from cluster ARNs so every grant is
 * scoped to the configured clusters: topic and group names are wildcards (they come from the execution's
 * patterns at run time), clusters never are.
 */

import { READ_GROUP_PREFIX } from '#contracts/msk-rollback';

export { READ_GROUP_PREFIX };

/** The ARNs a cluster's data-plane actions apply to. */
export interface KafkaClusterResources {
  readonly cluster: string;
  readonly topics: string;
  readonly groups: string;
  /** The throwaway read groups (`READ_GROUP_PREFIX*`). */
  readonly readGroups: string;
}

const CLUSTER_ARN = /^(arn:aws[a-z-]*):kafka:([a-z0-9-]+):(\d{12}):cluster\/([A-Za-z0-9-]+)\/([0-9a-f-]+)$/;

/**
 * Derives topic and group ARNs from a cluster ARN.
 * @param clusterArn `arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID`
 * @throws when the ARN is not an MSK cluster ARN
 */
export function kafkaClusterResources(clusterArn: string): KafkaClusterResources {
  const m = CLUSTER_ARN.exec(clusterArn);
  if (!m)
    throw new Error(
      `"${clusterArn}" is not an MSK cluster ARN (arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID)`,
    );
  const [, partition, region, account, name, uuid] = m;
  const base = `${partition}:kafka:${region}:${account}`;
  return {
    cluster: clusterArn,
    topics: `${base}:topic/${name}/${uuid}/*`,
    groups: `${base}:group/${name}/${uuid}/*`,
    readGroups: `${base}:group/${name}/${uuid}/${READ_GROUP_PREFIX}*`,
  };
}

/** Data-plane actions, by who needs them. */
export const KAFKA_ACTIONS = {
  /**
   * Reading (Lambda functions): topic and group listing, committed offsets and MM2's internal topics.
   * The pipeline's groups are only described (ListGroups, DescribeGroups, OffsetFetch); joining,
   * committing and deleting (AlterGroup, DeleteGroup) are limited to the functions' own throwaway
   * `READ_GROUP_PREFIX*` groups, so a read-only function can never move or drop a consumer's offsets.
   */
  read: {
    cluster: ['kafka-cluster:Connect', 'kafka-cluster:DescribeCluster'],
    topic: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
    group: ['kafka-cluster:DescribeGroup'],
    readGroup: ['kafka-cluster:AlterGroup', 'kafka-cluster:DeleteGroup'],
  },
  /**
   * MirrorMaker 2: any configured cluster may be a source (read) or a target (create and write topics,
   * sync topic configs, commit translated group offsets, run the Connect worker group).
   */
  replicate: {
    cluster: [
      'kafka-cluster:Connect',
      'kafka-cluster:DescribeCluster',
      'kafka-cluster:DescribeClusterDynamicConfiguration',
      'kafka-cluster:WriteDataIdempotently',
    ],
    topic: [
      'kafka-cluster:DescribeTopic',
      'kafka-cluster:DescribeTopicDynamicConfiguration',
      'kafka-cluster:ReadData',
      'kafka-cluster:CreateTopic',
      'kafka-cluster:WriteData',
      'kafka-cluster:AlterTopic',
      'kafka-cluster:AlterTopicDynamicConfiguration',
    ],
    group: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
  },
} as const;
