/**
 * The MirrorMaker 2 Fargate task: an ECS cluster with Container Insights, and a task definition with the
 * MM2 container (image built from `mm2-image/` at deploy time) and an ADOT collector sidecar that
 * remote-writes MM2's metrics to AMP. The task role may use the configured MSK clusters only.
 */
import { Fn, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge, acknowledgeVpcIdOnly, arnWildcardFinding } from '../observability/nag.ts';
import { adotCollectorConfig, JMX_EXPORTER_PORT } from './adot-config.ts';
import { KAFKA_ACTIONS, kafkaClusterResources } from './kafka-iam.ts';
import { MM2_IMAGE_DIR, mm2BuildArgs } from './mm2-image.ts';

/** Container names: the contract with RenderConfig's overrides (`CONTAINERS` in the Lambda code). */
export const MM2_CONTAINERS = { mm2: 'mm2', collector: 'adot-collector' } as const;

/** Writable volumes of the task (the root file systems are read-only). */
export const MM2_VOLUMES = { home: 'mm2-home', tmp: 'tmp' } as const;

/** The MM2 container's user: the image's `mm2` user. */
export const MM2_USER = '1001';

/** The ADOT collector's user: any unprivileged uid (the image is `FROM scratch` and would run as root). */
export const ADOT_USER = '10001';

/** The ADOT collector image, pinned. */
export const ADOT_COLLECTOR_IMAGE = 'public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0';

/** Props of {@link Mm2Task}. */
export interface Mm2TaskProps {
  /** VPC the task runs in. */
  readonly vpcId: string;
  /** MSK clusters the task may read from and write to. */
  readonly kafkaClusterArns: readonly string[];
  /** Apache Kafka release of the image (3.7 or later). */
  readonly kafkaVersion: string;
  /** Default task size; each execution overrides it with its input. */
  readonly cpu: number;
  readonly memoryMiB: number;
  /** Bucket holding rendered configs under `executions/`. */
  readonly configBucket: s3.IBucket;
  /** AMP remote-write URL and workspace ARN for the collector. */
  readonly remoteWriteUrl: string;
  readonly workspaceArn: string;
  readonly logRetention: logs.RetentionDays;
  /**
   * Image of the MM2 container.
   * @default - built from `lib/msk-rollback/mm2-image` at deploy time (linux/amd64)
   */
  readonly image?: ecs.ContainerImage;
}

/**
 * Memory (MiB) of the ADOT collector sidecar, reserved and its hard limit (CT.ECS.PR.7); MirrorMaker 2 gets
 * the rest of the task's memory as its own hard limit, also when an execution sizes the task (the RunTask
 * override in workflow.ts). The heap the workflow gives the JVM assumes this share (`SIDECAR_RESERVE_MIB`
 * in lambdas/msk-rollback/input.ts).
 */
export const COLLECTOR_MEMORY_MIB = 256;

/** ECS cluster and task definition of MirrorMaker 2. */
export class Mm2Task extends Construct {
  public readonly cluster: ecs.Cluster;
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: Mm2TaskProps) {
    super(scope, id);
    const stack = Stack.of(this);
    // Only the VPC ID is needed: RunTask is given its subnets explicitly (no lookup, offline synth).
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: props.vpcId,
      availabilityZones: Fn.getAzs(),
    });
    acknowledgeVpcIdOnly(vpc);
    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention });

    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: props.cpu,
      memoryLimitMiB: props.memoryMiB,
      // Built on the deployer's machine: amd64 needs no emulation on the usual x86 CI runners.
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.X86_64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });
    // Both containers run with a read-only root file system as non-root users; Fargate has no tmpfs,
    // so what they write goes to task-scoped bind mounts (ephemeral storage, encrypted by Fargate),
    // seeded with the right owners by the MM2 image's VOLUME directives (see mm2-image/Dockerfile).
    for (const name of Object.values(MM2_VOLUMES)) this.taskDefinition.addVolume({ name });
    const mm2 = this.taskDefinition.addContainer(MM2_CONTAINERS.mm2, {
      image:
        props.image ??
        ecs.ContainerImage.fromAsset(MM2_IMAGE_DIR, {
          buildArgs: mm2BuildArgs(props.kafkaVersion),
          platform: Platform.LINUX_AMD64,
        }),
      essential: true,
      // Hard limits per container (CT.ECS.PR.7): the collector's share is fixed, MM2 gets the rest of the task.
      memoryLimitMiB: props.memoryMiB - COLLECTOR_MEMORY_MIB,
      readonlyRootFilesystem: true,
      user: MM2_USER,
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: 'mm2' }),
      environment: { AWS_REGION: stack.region, JMX_EXPORTER_PORT: String(JMX_EXPORTER_PORT) },
      portMappings: [{ containerPort: JMX_EXPORTER_PORT, protocol: ecs.Protocol.TCP }],
    });
    const collector = this.taskDefinition.addContainer(MM2_CONTAINERS.collector, {
      image: ecs.ContainerImage.fromRegistry(ADOT_COLLECTOR_IMAGE),
      // Metrics are not worth stopping replication for: the lag gate comes from the workflow's own checks.
      essential: false,
      memoryReservationMiB: COLLECTOR_MEMORY_MIB,
      memoryLimitMiB: COLLECTOR_MEMORY_MIB,
      readonlyRootFilesystem: true,
      user: ADOT_USER,
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: 'adot' }),
      environment: {
        AWS_REGION: stack.region,
        AOT_CONFIG_CONTENT: adotCollectorConfig(props.remoteWriteUrl, stack.region),
      },
    });
    mm2.addMountPoints(
      { sourceVolume: MM2_VOLUMES.home, containerPath: '/opt/mm2', readOnly: false },
      { sourceVolume: MM2_VOLUMES.tmp, containerPath: '/tmp', readOnly: false },
    );
    collector.addMountPoints({ sourceVolume: MM2_VOLUMES.tmp, containerPath: '/tmp', readOnly: false });
    collector.addContainerDependencies({ container: mm2, condition: ecs.ContainerDependencyCondition.START });

    const role = this.taskDefinition.taskRole;
    const clusters = props.kafkaClusterArns.map(kafkaClusterResources);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...KAFKA_ACTIONS.replicate.cluster],
        resources: clusters.map((c) => c.cluster),
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...KAFKA_ACTIONS.replicate.topic],
        resources: clusters.map((c) => c.topics),
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...KAFKA_ACTIONS.replicate.group],
        resources: clusters.map((c) => c.groups),
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [props.configBucket.arnForObjects('executions/*')],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['aps:RemoteWrite'], resources: [props.workspaceArn] }),
    );

    acknowledge(
      role,
      clusters.flatMap((c) => [
        `AwsSolutions-IAM5[Resource::${c.topics}]`,
        `AwsSolutions-IAM5[Resource::${c.groups}]`,
      ]),
      'kafka-cluster topic/* and group/* are scoped to one configured cluster (name and UUID); topic and group names come from the execution input at run time',
    );
    acknowledge(
      role,
      [arnWildcardFinding(props.configBucket, '/executions/*')],
      'the task reads its own rendered config; configs are stored one per execution under executions/',
    );
    if (this.taskDefinition.executionRole) {
      acknowledge(
        this.taskDefinition.executionRole,
        ['AwsSolutions-IAM5[Resource::*]'],
        'ecr:GetAuthorizationToken, granted by CDK to pull the MM2 image, has no resource-level permissions',
      );
    }
    acknowledge(
      this.taskDefinition,
      ['AwsSolutions-ECS2'],
      'the environment holds no secret: the region, the JMX exporter port and the collector config (AMP URL, labels); MSK auth is IAM via the task role',
    );
    acknowledge(
      this.taskDefinition,
      ['CloudFormation-Validate::E1029'],
      'the env:NAME references in the collector config are expanded by the OpenTelemetry collector at run time, not by CloudFormation',
    );
  }
}
