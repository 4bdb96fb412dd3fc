/**
 * AWS Control Tower proactive controls: what the constructs do to meet them, and the one list of the
 * failures that stay, each with its reason (docs/guardrails.md; checked by test/lib/guardrails.test.ts).
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { ObservatoryConfig } from '../config/schema.ts';

/**
 * Denies `kms:CreateGrant` on a key to every principal unless the grant is for an AWS resource or the
 * caller is an AWS service (CT.KMS.PR.3). Nothing of the app creates grants itself: the services that
 * use the keys (Aurora, Lambda) create theirs with `kms:GrantIsForAWSResource`.
 * @param key a key the app creates
 */
export function denyGrantsExceptForAwsResources(key: kms.Key): void {
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'DenyCreateGrantExceptForAwsResources',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['kms:CreateGrant'],
      resources: ['*'], // in a key policy, '*' means this key
      conditions: {
        BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
      },
    }),
  );
}

/**
 * Sends a bucket's object events to the account's default EventBridge bus (CT.S3.PR.4), so the account's
 * own tooling can follow object-level changes. Set on the L1: the L2's `eventBridgeEnabled` adds a custom
 * resource and its function for the same setting. S3 and EventBridge charge nothing for this unless a
 * rule matches the events.
 * @param bucket a bucket the app creates
 */
export function sendObjectEventsToEventBridge(bucket: s3.IBucket): void {
  (bucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
    eventBridgeConfiguration: { eventBridgeEnabled: true },
  };
}

/** One failed Control Tower check, named by stack and construct. */
export interface GuardFailure {
  /** Control ID, e.g. `CT.S3.PR.2`. */
  readonly control: string;
  /** The guard rule's name, e.g. `s3_bucket_logging_enabled_check`. */
  readonly rule: string;
  readonly stack: string;
  /** Construct path of the stage that holds the stack, `''` for the app itself (a pipeline stage otherwise). */
  readonly stage: string;
  readonly logicalId: string;
  /** Construct path below the stack, e.g. `Collect/Function/Resource`. */
  readonly path: string;
  /** CloudFormation resource type. */
  readonly type: string;
}

/** A Control Tower failure that stays, on the constructs whose path matches, and why. */
export interface GuardrailAcknowledgement {
  /** Control ID, e.g. `CT.LAMBDA.PR.3`. */
  readonly control: string;
  /**
   * Construct path below the stack: `*` stands for any characters but `/`, `**` for any characters.
   * The L1 resource's path, e.g. `Collect/Function/Resource`.
   */
  readonly path: string;
  /** Why the failure is right for this project, with the evidence. */
  readonly reason: string;
}

const ACCESS_LOG_DESTINATION =
  'the bucket that receives the server access logs; logging it to itself would log its own log deliveries, and to another bucket only moves the finding there';
const ACCESS_LOGS_SSE_S3 =
  'S3 server access logging delivers only to buckets whose default encryption is SSE-S3, not SSE-KMS';

const AWS_API_ONLY =
  'calls only AWS APIs and no resource inside a VPC; attached to the VPC it would need a NAT route or an interface endpoint per service (about $7 a month each per AZ) to reach';

/**
 * The one list of acknowledged Control Tower failures for a config. Entries of config choices are in it
 * only while the config makes that choice (a log retention under a year, enhanced monitoring off).
 * @param config the validated config the app is built from
 */
export function guardrailAcknowledgements(config: ObservatoryConfig): GuardrailAcknowledgement[] {
  const lambda = (path: string, reason: string) => ({ control: 'CT.LAMBDA.PR.3', path, reason });
  const acks: GuardrailAcknowledgement[] = [
    // --- Lambda functions outside a VPC (those that reach Kafka brokers or probe from an AZ are attached)
    lambda(
      'Dashboards/Publisher/Function/Resource',
      'publishes dashboards to the Amazon Managed Grafana workspace URL (a public endpoint) with a token from Secrets Manager; the monitoring config names no VPC, and one would need a NAT route to reach Grafana',
    ),
    lambda(
      '**/framework-onEvent/Resource',
      'the custom resource provider framework of aws-cdk-lib: it only invokes its handler function through the Lambda API',
    ),
    lambda(
      'Custom::CrossRegionExport*CustomResourceProvider/Handler',
      'the cross-region reference handler of aws-cdk-lib: it only reads and writes SSM parameters, and aws-cdk-lib offers no VPC setting for it',
    ),
    lambda(
      'ValidateInput/Function/Resource',
      'validates the execution input in memory and calls no service at all',
    ),
    lambda('ValidateClusters/Function/Resource', `${AWS_API_ONLY} MSK, EC2 and Step Functions`),
    lambda('RenderConfig/Function/Resource', `${AWS_API_ONLY} S3`),
    lambda('RequestApproval/Function/Resource', `${AWS_API_ONLY} SNS`),
    lambda('StopReplication/Function/Resource', `${AWS_API_ONLY} ECS`),
    lambda(
      'Migrate/Function/Resource',
      `reaches the database only through the RDS Data API (the database security group has no ingress); ${AWS_API_ONLY} RDS Data`,
    ),
    lambda(
      'Collect/Function/Resource',
      'assumes a role in each member account and calls CloudWatch and the describe APIs of every configured region; interface endpoints serve only their own region, so a VPC would need a NAT route',
    ),
    lambda(
      'Store/Function/Resource',
      `${AWS_API_ONLY} S3 and RDS Data (the database is reached through the Data API)`,
    ),
    lambda(
      'Report/Function/Resource',
      'calls the Price List API, offered only in us-east-1, eu-central-1 and ap-south-1 (no endpoint in most home regions), besides RDS Data, S3, SNS and AMP; a VPC would need a NAT route',
    ),
    lambda('CollectionSummary/Function/Resource', `${AWS_API_ONLY} AMP remote write`),
    // --- S3 buckets
    {
      control: 'CT.S3.PR.2',
      path: 'AccessLogs/Resource',
      reason: ACCESS_LOG_DESTINATION,
    },
    {
      control: 'CT.S3.PR.2',
      path: 'ConfigBucket/Resource',
      reason:
        'holds only rendered MM2 configs (no secrets: MSK auth is IAM), written by one function and read by the MM2 task role, each verified by its SHA-256 when the task starts; object events go to EventBridge (CT.S3.PR.4) and S3 data events reach any trail the account keeps',
    },
    {
      control: 'CT.S3.PR.10',
      path: 'AccessLogs/Resource',
      reason: ACCESS_LOGS_SSE_S3,
    },
    {
      control: 'CT.S3.PR.9',
      path: 'AccessLogs/Resource',
      reason:
        'server access logs are kept 90 days for troubleshooting, not as a compliance record; S3 refuses to deliver server access logs to a bucket with a default Object Lock retention, and versioning (CT.S3.PR.11) already keeps a week of overwritten or deleted log objects',
    },
    {
      control: 'CT.S3.PR.9',
      path: 'Batches/Resource',
      reason:
        'batches are claim checks the store function reads once and lifecycle deletes after 30 days, reports are regenerated daily; write-once retention would only keep data the lifecycle must remove, and the bucket is versioned',
    },
    {
      control: 'CT.S3.PR.9',
      path: 'ConfigBucket/Resource',
      reason:
        'a rendered MM2 config is written once per execution and verified by its SHA-256 when the task starts; the bucket is versioned, and write-once retention would keep configs past their lifecycle',
    },
    // --- SQS
    {
      control: 'CT.SQS.PR.1',
      path: 'StoreDeadLetterQueue/Resource',
      reason:
        "the dead-letter queue of StoreQueue, watched by DeadLetterAlarm; a dead-letter queue of its own would move failed batches away from that alarm. The control's other way (a RedriveAllowPolicy byQueue naming StoreQueue) is a circular reference unless StoreQueue gets a fixed name, which would replace the deployed queue",
    },
  ];
  if (config.pipeline) acks.push(...pipelineAcknowledgements());
  const days = config.monitoring.logRetentionDays;
  if (days < 365)
    acks.push({
      control: 'CT.CLOUDWATCH.PR.2',
      path: '**',
      reason: `config choice: monitoring.logRetentionDays is ${days}, under a year; set 365 or more to meet the control`,
    });
  if (!config.monitoring.logEncryption)
    acks.push({
      control: 'CT.CLOUDWATCH.PR.3',
      path: '**',
      reason:
        'config choice: monitoring.logEncryption is false (CloudWatch Logs encrypts with its own keys); set it to true to encrypt every log group with a key of its stack and meet the control',
    });
  if (config.utilization?.database.monitoringIntervalSeconds === 0)
    acks.push({
      control: 'CT.RDS.PR.2',
      path: 'Database/*/Resource',
      reason:
        'config choice: utilization.database.monitoringIntervalSeconds is 0 (enhanced monitoring off); set 1-60 to meet the control',
    });
  return acks;
}

/**
 * The acknowledged failures of the release pipeline stack (lib/pipeline/release-pipeline-stack.ts), part
 * of {@link guardrailAcknowledgements} while the config has a `pipeline` section. Its stage stacks are
 * acknowledged by the lists of their own configs.
 */
export function pipelineAcknowledgements(): GuardrailAcknowledgement[] {
  return [
    {
      control: 'CT.CODEBUILD.PR.4',
      path: 'Pipeline/Pipeline/Build/Synth/CdkBuildProject/Resource',
      reason:
        'the synth step runs `npm test`, whose probe accuracy tests create network namespaces and veth links (`ip netns`, test/support/netlab.ts); that needs CAP_NET_ADMIN, which CodeBuild grants only in privileged mode. The project builds only the configured repository at a release tag; no image asset is built here (no stage enables MSK rollback), so CDK Pipelines made no privileged image-publishing project',
    },
    {
      control: 'CT.S3.PR.9',
      path: 'Pipeline/Pipeline/ArtifactsBucket/Resource',
      reason:
        'holds intermediate build artifacts (source zip, cdk.out), each written once per execution under a new key and reproducible from the git tag; the lifecycle expires them after 90 days, which a default Object Lock retention would defeat, and versioning (CT.S3.PR.11) already keeps overwritten or deleted objects for a week',
    },
    { control: 'CT.S3.PR.2', path: 'ArtifactAccessLogs/Resource', reason: ACCESS_LOG_DESTINATION },
    { control: 'CT.S3.PR.10', path: 'ArtifactAccessLogs/Resource', reason: ACCESS_LOGS_SSE_S3 },
    {
      control: 'CT.S3.PR.9',
      path: 'ArtifactAccessLogs/Resource',
      reason:
        "the artifact bucket's server access logs are kept a year for troubleshooting, not as a compliance record; S3 refuses to deliver server access logs to a bucket with a default Object Lock retention, and versioning (CT.S3.PR.11) already keeps a week of overwritten or deleted log objects",
    },
  ];
}

/** A path pattern of {@link GuardrailAcknowledgement} as a regular expression. */
function pathPattern(glob: string): RegExp {
  const parts = glob
    .split(/(\*\*|\*)/)
    .map((p) => (p === '**' ? '.*' : p === '*' ? '[^/]*' : p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp(`^${parts.join('')}$`);
}

/**
 * The acknowledgement that covers a failure, if any.
 * @param failure a failed check of cfn-guard
 * @param acknowledgements the list of {@link guardrailAcknowledgements}
 */
export function acknowledgementOf(
  failure: GuardFailure,
  acknowledgements: readonly GuardrailAcknowledgement[],
): GuardrailAcknowledgement | undefined {
  return acknowledgements.find(
    (a) => a.control === failure.control && pathPattern(a.path).test(failure.path),
  );
}
