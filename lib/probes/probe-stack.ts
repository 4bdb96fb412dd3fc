/**
 * ProbeStack: the network probes of one region.
 */
import { Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import type { ProbeRegionConfig, ProbesConfig } from '../config/schema.ts';
import { denyGrantsExceptForAwsResources } from '../observability/guardrails.ts';
import { acknowledgeUnreadRouteTables } from '../observability/nag.ts';
import { AzProbe } from './az-probe.ts';
import { AwsNetworkPerformance } from './network-performance.ts';
import { buildProbePlan, egressPorts } from './probe-plan.ts';

/** Props of {@link ProbeStack}. */
export interface ProbeStackProps extends StackProps {
  readonly probes: ProbesConfig;
  readonly region: ProbeRegionConfig;
  readonly remoteWriteUrl: string;
  readonly workspaceArn: string;
  readonly ampRegion: string;
  /**
   * The alert topic, when this stack is in the home region. CloudWatch alarms can only notify a topic
   * of their own region, so other regions get a regional topic with the same e-mail subscriptions.
   * @default - a regional encrypted topic
   */
  readonly alertTopic?: sns.ITopic;
  /** E-mail subscriptions of a regional topic. @default - none */
  readonly alertEmails?: string[];
  readonly logRetention: logs.RetentionDays;
}

/**
 * One probe function per configured AZ of a region, an optional interface VPC endpoint for AMP so
 * private subnets need no NAT, and the AZ mesh over an interface endpoint's per-AZ network interfaces.
 */
export class ProbeStack extends Stack {
  /** One probe per AZ, in config order. */
  public readonly probes: AzProbe[] = [];
  /** The topic this region's alarms notify. */
  public readonly alertTopic: sns.ITopic;
  /** The AMP interface endpoint, when configured. */
  public readonly ampEndpoint?: ec2.InterfaceVpcEndpoint;
  /** AWS's latency reference of this region, when `probes.awsNetworkPerformance.enabled`. */
  public readonly awsNetworkPerformance?: AwsNetworkPerformance;

  constructor(scope: Construct, id: string, props: ProbeStackProps) {
    super(scope, id, props);
    const { region } = props;
    this.alertTopic = props.alertTopic ?? this.regionalTopic(props.alertEmails ?? []);
    const routeTableIds = region.availabilityZones.flatMap((az) => az.routeTableId ?? []);
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: region.vpcId,
      vpcCidrBlock: region.vpcCidr,
      availabilityZones: region.availabilityZones.map((az) => az.name),
      privateSubnetIds: region.availabilityZones.map((az) => az.subnetId),
      ...(routeTableIds.length === region.availabilityZones.length
        ? { privateSubnetRouteTableIds: routeTableIds }
        : {}),
    });
    if (routeTableIds.length !== region.availabilityZones.length)
      acknowledgeUnreadRouteTables(vpc, 'the AMP interface endpoint');

    const meshEndpointIds: string[] = [];
    if (region.meshEndpointId) meshEndpointIds.push(region.meshEndpointId);
    if (region.ampVpcEndpoint) {
      const endpointSg = new ec2.SecurityGroup(this, 'AmpEndpointSecurityGroup', {
        vpc,
        description: 'AMP interface endpoint: https from the VPC (remote-write and the AZ mesh probes)',
        allowAllOutbound: false,
      });
      endpointSg.addIngressRule(ec2.Peer.ipv4(region.vpcCidr), ec2.Port.tcp(443), 'https from the VPC');
      this.ampEndpoint = vpc.addInterfaceEndpoint('AmpEndpoint', {
        service: new ec2.InterfaceVpcEndpointAwsService('aps-workspaces'),
        subnets: { subnets: vpc.privateSubnets },
        securityGroups: [endpointSg],
        privateDnsEnabled: true,
        open: false,
      });
      this.ampEndpoint.addToPolicy(
        new iam.PolicyStatement({
          principals: [new iam.AnyPrincipal()],
          actions: ['aps:RemoteWrite'],
          resources: [props.workspaceArn],
          conditions: { StringEquals: { 'aws:PrincipalAccount': this.account } },
        }),
      );
      if (!region.meshEndpointId) meshEndpointIds.push(this.ampEndpoint.vpcEndpointId);
    }

    const plan = buildProbePlan(props.probes, region);
    const ports = egressPorts(plan);
    for (const az of region.availabilityZones) {
      this.probes.push(
        new AzProbe(this, `Probe-${az.id}`, {
          vpc,
          az,
          plan,
          egressPorts: ports,
          vpcCidr: region.vpcCidr,
          schedule: props.probes.schedule,
          remoteWriteUrl: props.remoteWriteUrl,
          workspaceArn: props.workspaceArn,
          ampRegion: props.ampRegion,
          meshEndpointIds,
          alertTopic: this.alertTopic,
          logRetention: props.logRetention,
        }),
      );
    }
    if (props.probes.awsNetworkPerformance.enabled) {
      this.awsNetworkPerformance = new AwsNetworkPerformance(this, 'AwsNetworkPerformance', {
        probes: props.probes,
        region,
        vpc,
        remoteWriteUrl: props.remoteWriteUrl,
        workspaceArn: props.workspaceArn,
        ampRegion: props.ampRegion,
        alertTopic: this.alertTopic,
        logRetention: props.logRetention,
      });
    }
  }

  private regionalTopic(emails: string[]): sns.Topic {
    const key = new kms.Key(this, 'AlertKey', {
      description: 'encrypts the regional probe alert topic',
      enableKeyRotation: true,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'], // in a key policy, '*' means this key
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );
    denyGrantsExceptForAwsResources(key);
    const topic = new sns.Topic(this, 'AlertTopic', {
      displayName: `Infra Observatory alerts (${this.region})`,
      masterKey: key,
      enforceSSL: true,
    });
    for (const email of emails) topic.addSubscription(new subs.EmailSubscription(email));
    return topic;
  }
}
