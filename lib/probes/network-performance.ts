/**
 * AwsNetworkPerformance: AWS's own latency reference for one probe region. Subscribes to AWS Network
 * Manager Infrastructure Performance for the pairs whose source is in this region, and runs a small
 * function every 5 minutes that reads their p50 and remote-writes it to AMP next to the probes.
 */
import { join } from 'node:path';
import { Duration, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import {
  NETWORK_PERFORMANCE_PAIRS_FILE,
  NETWORK_PERFORMANCE_QUERY,
  type NetworkPerformancePair,
  networkPerformancePairs,
} from '#contracts/network-performance';
import type { ProbeRegionConfig, ProbesConfig } from '../config/schema.ts';
import { ObservedFunction } from '../observability/observed-function.ts';
import { scheduledInvoke } from './scheduled-invoke.ts';

/** Entry of the network performance handler. */
export const NETWORK_PERFORMANCE_HANDLER_ENTRY = join(
  import.meta.dirname,
  '../../lambdas/probes/network-performance-handler.ts',
);

/**
 * The pairs a probe region subscribes to and reads: its own AZ-ID pairs, and the pairs from it to
 * every other probe region.
 * @param probes the probes section (every probe region)
 * @param region this region
 */
export function regionPairs(probes: ProbesConfig, region: string): NetworkPerformancePair[] {
  return networkPerformancePairs(
    probes.regions.map((r) => ({ region: r.region, azIds: r.availabilityZones.map((az) => az.id) })),
  ).filter((p) => (p.scope === 'az' ? p.region === region : p.source === region));
}

/** Props of {@link AwsNetworkPerformance}. */
export interface AwsNetworkPerformanceProps {
  readonly probes: ProbesConfig;
  readonly region: ProbeRegionConfig;
  readonly vpc: ec2.IVpc;
  readonly remoteWriteUrl: string;
  readonly workspaceArn: string;
  readonly ampRegion: string;
  readonly alertTopic: sns.ITopic;
  readonly logRetention: logs.RetentionDays;
}

/** The subscriptions and the reading function of one region. */
export class AwsNetworkPerformance extends Construct {
  /** The reading function. */
  public readonly reader: ObservedFunction;
  /** The pairs subscribed to and read. */
  public readonly pairs: NetworkPerformancePair[];

  constructor(scope: Construct, id: string, props: AwsNetworkPerformanceProps) {
    super(scope, id);
    this.pairs = regionPairs(props.probes, props.region.region);
    this.pairs.forEach((pair, i) => {
      new ec2.CfnNetworkPerformanceMetricSubscription(this, `Subscription${i}`, {
        source: pair.source,
        destination: pair.destination,
        metric: NETWORK_PERFORMANCE_QUERY.Metric,
        statistic: NETWORK_PERFORMANCE_QUERY.Statistic,
      });
    });

    // In the first probe AZ's subnet, like the probes: it reaches the EC2 API and AMP the same way.
    const az = props.region.availabilityZones[0]!;
    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'AWS network performance reader: https to the EC2 API and AMP only',
      allowAllOutbound: false,
    });
    securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'EC2 API and AMP remote-write');
    const subnet = ec2.Subnet.fromSubnetAttributes(this, 'Subnet', {
      subnetId: az.subnetId,
      availabilityZone: az.name,
      ...(az.routeTableId ? { routeTableId: az.routeTableId } : {}),
    });
    this.reader = new ObservedFunction(this, 'Function', {
      entry: NETWORK_PERFORMANCE_HANDLER_ENTRY,
      serviceName: 'aws-network-performance',
      description: `Infra Observatory: AWS network performance (p50) of ${this.pairs.length} pairs from ${props.region.region} into AMP`,
      alertTopic: props.alertTopic,
      logRetention: props.logRetention,
      timeout: Duration.seconds(60),
      memorySize: 256,
      reservedConcurrentExecutions: 1,
      vpc: props.vpc,
      vpcSubnets: { subnets: [subnet] },
      securityGroups: [securityGroup],
      bundledFiles: { [NETWORK_PERFORMANCE_PAIRS_FILE]: JSON.stringify(this.pairs) },
      environment: {
        REMOTE_WRITE_URL: props.remoteWriteUrl,
        AMP_REGION: props.ampRegion,
        NETWORK_PERFORMANCE_PAIRS_FILE,
      },
    });
    const role = this.reader.role;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['aps:RemoteWrite'], resources: [props.workspaceArn] }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['ec2:GetAwsNetworkPerformanceData'], resources: ['*'] }),
    );
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ec2:GetAwsNetworkPerformanceData, X-Ray PutTraceSegments and the Lambda VPC ENI actions support no resource-level permissions (Service Authorization Reference); the only write is scoped to one AMP workspace ARN',
    });
    scheduledInvoke(this, {
      function: this.reader.function,
      schedule: props.probes.awsNetworkPerformance.schedule,
      description: `AWS network performance of ${props.region.region}`,
      roleDescription: `invokes the AWS network performance reader of ${props.region.region}`,
    });
  }
}
