/**
 * MskRollbackStack: move a pipeline between MSK clusters with MirrorMaker 2 and back, from a Step
 * Functions execution: validation, replication on Fargate, lag gate, approval, cutover, report.
 */
import { join } from 'node:path';
import { ArnFormat, CfnOutput, Duration, Fn, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { STATE_MACHINE_ARN_OUTPUT } from '#contracts/msk-rollback';
import type { MskRollbackConfig } from '../config/schema.ts';
import { sendObjectEventsToEventBridge } from '../observability/guardrails.ts';
import {
  acknowledge,
  acknowledgeUnreadRouteTables,
  acknowledgeVpcIdOnly,
  arnWildcardFinding,
} from '../observability/nag.ts';
import { ObservedFunction } from '../observability/observed-function.ts';
import { KAFKA_ACTIONS, kafkaClusterResources } from './kafka-iam.ts';
import { MM2_CONTAINERS, Mm2Task } from './mm2-task.ts';
import { buildRollbackDefinition, type RollbackFunctions } from './workflow.ts';

const LAMBDAS = join(import.meta.dirname, '../../lambdas/msk-rollback');

/** The wildcard finding ID cdk-nag reports for a resource string that may hold tokens (`<AWS::Partition>`). */
function wildcardFinding(stack: Stack, resource: string): string {
  const render = (v: unknown): string => {
    if (typeof v === 'string') return v;
    const o = v as Record<string, unknown>;
    if ('Ref' in o) return `<${String(o.Ref)}>`;
    if ('Fn::GetAtt' in o) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(render).join(sep);
    }
    return JSON.stringify(v);
  };
  return `AwsSolutions-IAM5[Resource::${render(stack.resolve(resource))}]`;
}

/** Props of {@link MskRollbackStack}. */
export interface MskRollbackStackProps extends StackProps {
  readonly config: MskRollbackConfig;
  /** Receives approval requests, reports and the functions' alarms. */
  readonly alertTopic: sns.ITopic;
  /** Key of the alert topic, when it is encrypted with a customer managed key. @default - none */
  readonly alertKey?: kms.IKey;
  /** AMP remote-write URL (lag samples and MM2 metrics). */
  readonly remoteWriteUrl: string;
  readonly workspaceArn: string;
  readonly logRetention: logs.RetentionDays;
  /**
   * Name of the state machine (its ARN is derived from it, so functions can be granted on it without a
   * dependency cycle).
   * @default `${stackName}-Workflow`
   */
  readonly stateMachineName?: string;
  /**
   * Image of the MM2 container.
   * @default - built from `lib/msk-rollback/mm2-image` by `cdk deploy`
   */
  readonly mm2Image?: ecs.ContainerImage;
}

/** The MSK rollback capability. */
export class MskRollbackStack extends Stack {
  public readonly stateMachine: sfn.StateMachine;
  public readonly configBucket: s3.Bucket;
  public readonly mm2: Mm2Task;
  public readonly functions: RollbackFunctions;
  /** Stops the tasks of executions that were aborted, timed out or failed. */
  public readonly cleanupRule: events.Rule;

  constructor(scope: Construct, id: string, props: MskRollbackStackProps) {
    super(scope, id, props);
    const { config } = props;
    const clusterArns = config.clusters.map((c) => c.arn);
    const kafka = clusterArns.map(kafkaClusterResources);
    const stateMachineName = props.stateMachineName ?? `${this.stackName}-Workflow`.slice(0, 80);
    const stateMachineArn = this.formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: stateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const executionArns = this.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    this.configBucket = new s3.Bucket(this, 'ConfigBucket', {
      // SSE-KMS with the account's aws/s3 key (CT.S3.PR.10): no key to pay for, and the writer's and the
      // task's S3 permissions suffice to use it; the bucket key keeps KMS calls to one per object batch.
      encryption: s3.BucketEncryption.KMS_MANAGED,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      lifecycleRules: [
        {
          prefix: 'executions/',
          noncurrentVersionExpiration: Duration.days(90),
          expiration: Duration.days(400),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    sendObjectEventsToEventBridge(this.configBucket);
    acknowledge(
      this.configBucket,
      ['AwsSolutions-S1'],
      'holds only rendered MM2 configs (no secrets: MSK auth is IAM), written by one function and read by the MM2 task role; the app creates no trail, so object-level access is recorded only where the account logs S3 data events, and each config is also verified by its SHA-256 when the task starts',
    );

    this.mm2 = new Mm2Task(this, 'Mm2', {
      vpcId: config.vpcId,
      kafkaClusterArns: clusterArns,
      kafkaVersion: config.kafkaVersion,
      cpu: config.defaults.cpu,
      memoryMiB: config.defaults.memoryMiB,
      configBucket: this.configBucket,
      remoteWriteUrl: props.remoteWriteUrl,
      workspaceArn: props.workspaceArn,
      logRetention: props.logRetention,
      image: props.mm2Image,
    });
    const ecsCluster = this.mm2.cluster;

    // Functions that speak Kafka run in the MM2 task's subnets with its security groups, which the
    // clusters already admit on 9098 (ValidateClusters checks exactly that).
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: config.vpcId,
      availabilityZones: Fn.getAzs(),
    });
    acknowledgeVpcIdOnly(vpc);
    const subnets = config.subnetIds.map((s) => ec2.Subnet.fromSubnetId(this, `Subnet-${s}`, s));
    for (const subnet of subnets) acknowledgeUnreadRouteTables(subnet, 'the Kafka-speaking functions');
    const inVpc = {
      vpc,
      vpcSubnets: { subnets },
      securityGroups: config.securityGroupIds.map((g) =>
        ec2.SecurityGroup.fromSecurityGroupId(this, `Sg-${g}`, g, { mutable: false }),
      ),
    };
    const environment = {
      ROLLBACK_CLUSTERS: JSON.stringify(config.clusters),
      ROLLBACK_DEFAULTS: JSON.stringify(config.defaults),
      ECS_CLUSTER_ARN: ecsCluster.clusterArn,
      CONFIG_BUCKET: this.configBucket.bucketName,
      ALERT_TOPIC_ARN: props.alertTopic.topicArn,
      REMOTE_WRITE_URL: props.remoteWriteUrl,
      TASK_VPC_ID: config.vpcId,
      TASK_SUBNET_IDS: config.subnetIds.join(','),
      TASK_SECURITY_GROUP_IDS: config.securityGroupIds.join(','),
    };
    const fn = (
      id: string,
      file: string,
      description: string,
      opts: { vpc?: boolean; timeout?: Duration } = {},
    ) =>
      new ObservedFunction(this, id, {
        entry: join(LAMBDAS, file),
        alertTopic: props.alertTopic,
        logRetention: props.logRetention,
        description,
        environment,
        timeout: opts.timeout ?? Duration.minutes(1),
        ...(opts.vpc ? inVpc : {}),
      });
    const validateInput = fn(
      'ValidateInput',
      'validate-input-handler.ts',
      'MSK rollback: validate the execution input',
    );
    const validateClusters = fn(
      'ValidateClusters',
      'validate-clusters-handler.ts',
      'MSK rollback: check clusters, network and running flows',
    );
    const discoverTopics = fn(
      'DiscoverTopics',
      'discover-topics-handler.ts',
      'MSK rollback: select topics and groups',
      { vpc: true },
    );
    const renderConfig = fn(
      'RenderConfig',
      'render-config-handler.ts',
      'MSK rollback: render and store the MM2 config',
    );
    const pollReplication = fn(
      'PollReplication',
      'poll-replication-handler.ts',
      'MSK rollback: task health, lag, gate',
      {
        vpc: true,
        timeout: Duration.minutes(3),
      },
    );
    const requestApproval = fn(
      'RequestApproval',
      'request-approval-handler.ts',
      'MSK rollback: publish the approval request',
    );
    const stopReplication = fn(
      'StopReplication',
      'stop-replication-handler.ts',
      'MSK rollback: stop the MM2 tasks of an execution',
    );
    const verifyOffsets = fn(
      'VerifyOffsets',
      'verify-offsets-handler.ts',
      'MSK rollback: verify group offsets and report',
      {
        vpc: true,
        timeout: Duration.minutes(5),
      },
    );

    const allow = (
      f: ObservedFunction,
      actions: readonly string[],
      resources: string[],
      conditions?: Record<string, unknown>,
    ) =>
      f.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...actions], resources, conditions }));
    const taskArns = this.formatArn({
      service: 'ecs',
      resource: 'task',
      resourceName: `${ecsCluster.clusterName}/*`,
    });
    const onCluster = { ArnEquals: { 'ecs:cluster': ecsCluster.clusterArn } };

    allow(validateClusters, ['kafka:DescribeClusterV2'], clusterArns);
    allow(validateClusters, ['ec2:DescribeSubnets', 'ec2:DescribeSecurityGroups'], ['*']);
    allow(validateClusters, ['states:ListExecutions'], [stateMachineArn]);
    allow(validateClusters, ['states:DescribeExecution'], [executionArns]);
    for (const f of [discoverTopics, pollReplication, verifyOffsets]) {
      allow(
        f,
        KAFKA_ACTIONS.read.cluster,
        kafka.map((k) => k.cluster),
      );
      allow(
        f,
        KAFKA_ACTIONS.read.topic,
        kafka.map((k) => k.topics),
      );
      allow(
        f,
        KAFKA_ACTIONS.read.group,
        kafka.map((k) => k.groups),
      );
      // Join, then clean up, the throwaway group a topic read uses (it commits nothing): only those.
      allow(
        f,
        KAFKA_ACTIONS.read.readGroup,
        kafka.map((k) => k.readGroups),
      );
    }
    allow(renderConfig, ['s3:PutObject'], [this.configBucket.arnForObjects('executions/*')]);
    allow(pollReplication, ['ecs:DescribeTasks'], [taskArns], onCluster);
    allow(pollReplication, ['aps:RemoteWrite'], [props.workspaceArn]);
    allow(stopReplication, ['ecs:ListTasks'], ['*'], onCluster);
    allow(stopReplication, ['ecs:DescribeTasks', 'ecs:StopTask'], [taskArns], onCluster);
    for (const f of [requestApproval, verifyOffsets]) {
      allow(f, ['sns:Publish'], [props.alertTopic.topicArn]);
      if (props.alertKey) allow(f, ['kms:GenerateDataKey', 'kms:Decrypt'], [props.alertKey.keyArn]);
    }

    const kafkaWildcards = kafka.flatMap((k) => [
      `AwsSolutions-IAM5[Resource::${k.topics}]`,
      `AwsSolutions-IAM5[Resource::${k.groups}]`,
      `AwsSolutions-IAM5[Resource::${k.readGroups}]`,
    ]);
    const kafkaReason =
      'topic/* and group/* are scoped to one configured cluster (name and UUID); the names come from the execution input at run time';
    for (const f of [discoverTopics, pollReplication, verifyOffsets])
      acknowledge(f.role, kafkaWildcards, kafkaReason);
    acknowledge(
      validateClusters.role,
      ['AwsSolutions-IAM5[Resource::*]'],
      'ec2:DescribeSubnets and ec2:DescribeSecurityGroups have no resource-level permissions',
    );
    acknowledge(
      validateClusters.role,
      [wildcardFinding(this, executionArns)],
      'DescribeExecution of the running executions of this one state machine, to refuse two flows into one target',
    );
    acknowledge(
      renderConfig.role,
      [arnWildcardFinding(this.configBucket, '/executions/*')],
      'one rendered config object per execution under executions/',
    );
    for (const f of [pollReplication, stopReplication]) {
      acknowledge(
        f.role,
        [wildcardFinding(this, taskArns)],
        'task IDs are generated by ECS; the statement is limited to tasks of the rollback cluster (ecs:cluster condition)',
      );
    }
    acknowledge(
      stopReplication.role,
      ['AwsSolutions-IAM5[Resource::*]'],
      'ecs:ListTasks has no resource-level permission; it is limited to the rollback cluster by the ecs:cluster condition',
    );

    this.functions = {
      validateInput: validateInput.function,
      validateClusters: validateClusters.function,
      discoverTopics: discoverTopics.function,
      renderConfig: renderConfig.function,
      pollReplication: pollReplication.function,
      requestApproval: requestApproval.function,
      stopReplication: stopReplication.function,
      verifyOffsets: verifyOffsets.function,
    };

    const definition = buildRollbackDefinition(this, {
      functions: this.functions,
      cluster: ecsCluster,
      taskDefinition: this.mm2.taskDefinition,
      containers: MM2_CONTAINERS,
      subnetIds: config.subnetIds,
      securityGroupIds: config.securityGroupIds,
      kafkaClusterArns: clusterArns,
    });
    const workflowLogs = new logs.LogGroup(this, 'WorkflowLogs', {
      logGroupName: `/aws/vendedlogs/states/${stateMachineName}`,
      retention: props.logRetention,
    });
    this.stateMachine = new sfn.StateMachine(this, 'Workflow', {
      stateMachineName,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      stateMachineType: sfn.StateMachineType.STANDARD,
      // Converge and approval are bounded by the input (at most 7 days each) and drain by 12 hours.
      timeout: Duration.days(15),
      tracingEnabled: true,
      logs: { destination: workflowLogs, level: sfn.LogLevel.ALL, includeExecutionData: true },
      comment: 'MSK rollback: MirrorMaker 2 replication with a lag gate, approval and cutover',
    });
    new CfnOutput(this, STATE_MACHINE_ARN_OUTPUT, {
      value: this.stateMachine.stateMachineArn,
      description: 'MSK rollback state machine (`observatory rollback start` finds it here)',
    });
    const smRole = this.stateMachine.role;
    acknowledge(
      smRole,
      ['AwsSolutions-IAM5[Resource::*]'],
      'Step Functions log delivery (logs:CreateLogDelivery, ...) and X-Ray (xray:PutTraceSegments, ...) have no resource-level permissions',
    );
    acknowledge(
      smRole,
      Object.values(this.functions).map((f) => arnWildcardFinding(f, ':*')),
      'the state machine invokes the current version of each of its own functions ($LATEST and qualified ARNs)',
    );
    acknowledge(
      smRole,
      [
        wildcardFinding(
          this,
          this.formatArn({
            service: 'ecs',
            resource: 'task-definition',
            resourceName: `${this.mm2.taskDefinition.family}:*`,
          }),
        ),
      ],
      'RunTask on every revision of the MM2 task definition family: a deploy creates a new revision',
    );
    acknowledge(
      smRole,
      [wildcardFinding(this, taskArns)],
      'ecs:TagResource on tasks RunTask creates in the rollback cluster (task IDs are generated), only with ecs:CreateAction RunTask',
    );

    this.cleanupRule = new events.Rule(this, 'CleanupRule', {
      description: 'Stops the MM2 tasks of MSK rollback executions that were aborted, timed out or failed',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          stateMachineArn: [this.stateMachine.stateMachineArn],
          status: ['ABORTED', 'TIMED_OUT', 'FAILED'],
        },
      },
      targets: [
        new targets.LambdaFunction(stopReplication.function, {
          retryAttempts: 8,
          maxEventAge: Duration.hours(6),
        }),
      ],
    });
  }
}
