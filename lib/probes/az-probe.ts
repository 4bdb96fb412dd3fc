/**
 * AzProbe: the probe function of one Availability Zone, attached to that AZ's subnet and scheduled.
 */
import { join } from 'node:path';
import { Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { z } from 'zod';
import type { AvailabilityZoneSchema } from '../config/schema.ts';
import { acknowledgeUnreadRouteTables } from '../observability/nag.ts';
import { METRICS_NAMESPACE, ObservedFunction } from '../observability/observed-function.ts';
import { PROBE_PLAN_FILE, type ProbePlan } from './probe-plan.ts';
import { scheduledInvoke } from './scheduled-invoke.ts';

/** Entry of the probe handler. */
export const PROBE_HANDLER_ENTRY = join(import.meta.dirname, '../../lambdas/probes/handler.ts');

/** Props of {@link AzProbe}. */
export interface AzProbeProps {
  readonly vpc: ec2.IVpc;
  readonly az: z.infer<typeof AvailabilityZoneSchema>;
  readonly plan: ProbePlan;
  /** Egress ports of the probe security group (TCP, anywhere). */
  readonly egressPorts: number[];
  readonly vpcCidr: string;
  readonly schedule: string;
  readonly remoteWriteUrl: string;
  readonly workspaceArn: string;
  /** Region of the AMP workspace (SigV4 signing region). */
  readonly ampRegion: string;
  /** Interface VPC endpoints whose ENIs form the AZ mesh. @default - none */
  readonly meshEndpointIds?: string[];
  readonly alertTopic: sns.ITopic;
  readonly logRetention: logs.RetentionDays;
}

/**
 * One probe function per AZ, so every sample is attributable to a source AZ: VPC-attached to the AZ's
 * subnet with its own security group (no ingress; egress only to probe ports and DNS), invoked every
 * minute by EventBridge Scheduler, allowed to remote-write to one AMP workspace, and watched by alarms
 * when it stops running or keeps failing to write.
 */
export class AzProbe extends Construct {
  /** The observed probe function. */
  public readonly probe: ObservedFunction;
  /** Its security group. */
  public readonly securityGroup: ec2.SecurityGroup;
  /** The schedule invoking it. */
  public readonly schedule: scheduler.Schedule;
  /** Fires when the function has not run for 5 minutes. */
  public readonly stoppedAlarm: cloudwatch.Alarm;
  /** Fires when remote-write keeps failing. */
  public readonly writeFailureAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: AzProbeProps) {
    super(scope, id);
    const { az } = props;
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `probe function of ${az.name} (${az.id}): egress to probe ports and DNS only`,
      allowAllOutbound: false,
    });
    for (const port of props.egressPorts) {
      this.securityGroup.addEgressRule(
        ec2.Peer.anyIpv4(),
        ec2.Port.tcp(port),
        `probe targets on tcp/${port}`,
      );
    }
    this.securityGroup.addEgressRule(
      ec2.Peer.ipv4(props.vpcCidr),
      ec2.Port.udp(53),
      'VPC resolver (dns probes)',
    );
    this.securityGroup.addEgressRule(
      ec2.Peer.ipv4(props.vpcCidr),
      ec2.Port.tcp(53),
      'VPC resolver (dns probes over tcp)',
    );

    const serviceName = `probe-${az.name}`;
    const subnet = ec2.Subnet.fromSubnetAttributes(this, 'Subnet', {
      subnetId: az.subnetId,
      availabilityZone: az.name,
      ...(az.routeTableId ? { routeTableId: az.routeTableId } : {}),
    });
    if (!az.routeTableId) acknowledgeUnreadRouteTables(subnet, 'the probe function');
    this.probe = new ObservedFunction(this, 'Function', {
      entry: PROBE_HANDLER_ENTRY,
      serviceName,
      description: `Infra Observatory network probes from ${az.name} (${az.id})`,
      alertTopic: props.alertTopic,
      logRetention: props.logRetention,
      timeout: Duration.seconds(55),
      memorySize: 512,
      // One run at a time per AZ: a slow minute must not stack up concurrent runs that skew latency.
      reservedConcurrentExecutions: 2,
      vpc: props.vpc,
      vpcSubnets: { subnets: [subnet] },
      securityGroups: [this.securityGroup],
      bundledFiles: { [PROBE_PLAN_FILE]: JSON.stringify(props.plan) },
      environment: {
        REMOTE_WRITE_URL: props.remoteWriteUrl,
        AMP_REGION: props.ampRegion,
        SOURCE_REGION: props.plan.region,
        SOURCE_AZ: az.name,
        SOURCE_AZ_ID: az.id,
        MESH_VPC_ENDPOINT_IDS: (props.meshEndpointIds ?? []).join(','),
        PROBE_PLAN_FILE,
      },
    });
    const role = this.probe.role;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['aps:RemoteWrite'], resources: [props.workspaceArn] }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'Discovery',
        actions: [
          'servicediscovery:ListNamespaces',
          'servicediscovery:ListServices',
          'servicediscovery:ListInstances',
          'servicediscovery:DiscoverInstances',
          'ec2:DescribeInstances',
          'ec2:DescribeVpcEndpoints',
        ],
        resources: ['*'],
      }),
    );
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray PutTraceSegments, the Lambda VPC ENI actions, ec2:DescribeInstances/DescribeVpcEndpoints and Cloud Map List*/DiscoverInstances support no resource-level permissions (Service Authorization Reference); every write is scoped to one AMP workspace ARN',
    });

    this.schedule = scheduledInvoke(this, {
      function: this.probe.function,
      schedule: props.schedule,
      description: `network probes from ${az.name}`,
      roleDescription: `invokes the probe function of ${az.name}`,
      input: { source: { region: props.plan.region, az: az.name, azId: az.id } },
    });

    const metric = (metricName: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        // Powertools adds the service dimension; the probe handler adds SourceAzId to every metric.
        dimensionsMap: { service: serviceName, SourceAzId: az.id },
        period: Duration.minutes(5),
        statistic: 'Sum',
      });
    this.stoppedAlarm = new cloudwatch.Alarm(this, 'StoppedAlarm', {
      alarmDescription: `${serviceName}: no probe run for 5 minutes (schedule disabled, function failing before start, or throttled)`,
      metric: this.probe.function.metricInvocations({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    this.writeFailureAlarm = new cloudwatch.Alarm(this, 'WriteFailureAlarm', {
      alarmDescription: `${serviceName}: remote-write to AMP failed in 3 of the last 4 five-minute periods`,
      metric: metric('RemoteWriteFailures'),
      threshold: 1,
      evaluationPeriods: 4,
      datapointsToAlarm: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    for (const alarm of [this.stoppedAlarm, this.writeFailureAlarm]) {
      alarm.addAlarmAction(new cwActions.SnsAction(props.alertTopic));
      alarm.addOkAction(new cwActions.SnsAction(props.alertTopic));
    }
  }
}
