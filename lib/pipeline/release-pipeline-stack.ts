/**
 * ReleasePipelineStack: a CDK Pipelines (CodePipeline V2) release pipeline. A git tag matching the
 * configured patterns starts it; it runs `npm ci`, the project's test command (`npm test`) and
 * `cdk synth`, then deploys one stage per environment in order, with a manual approval before every
 * environment marked `protected`.
 */
import { Duration, RemovalPolicy, Stack, type StackProps, Stage, type StageProps } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as pipelines from 'aws-cdk-lib/pipelines';
import type { Construct } from 'constructs';
import type { ObservatoryConfig, PipelineConfig } from '../config/schema.ts';
import {
  denyGrantsExceptForAwsResources,
  sendObjectEventsToEventBridge,
} from '../observability/guardrails.ts';
import { acknowledge } from '../observability/nag.ts';

/** One environment of the pipeline with its loaded config. */
export interface ReleaseEnvironment {
  /** Stage name, e.g. staging. */
  readonly name: string;
  /** Whether a manual approval comes before it. */
  readonly protected: boolean;
  /** Path of its config file, from the repository root. */
  readonly file: string;
  /** Its validated config. */
  readonly config: ObservatoryConfig;
}

/** Props of {@link ReleasePipelineStack}. */
export interface ReleasePipelineStackProps extends StackProps {
  /** The `pipeline` section of the config. */
  readonly pipeline: PipelineConfig;
  /** Config file the synth step passes to `cdk synth` (the one holding the `pipeline` section). */
  readonly configFile: string;
  /** Environments, deployed in this order. */
  readonly environments: readonly ReleaseEnvironment[];
  /** Retention of the CodeBuild projects' log group (`monitoring.logRetentionDays`). */
  readonly logRetention: logs.RetentionDays;
  /** Builds an environment's stacks into its stage (the app's own composition function). */
  readonly buildStage: (stage: Stage, config: ObservatoryConfig) => void;
}

/** Props of {@link EnvironmentStage}. */
interface EnvironmentStageProps extends StageProps {
  readonly environment: ReleaseEnvironment;
  readonly buildStage: ReleasePipelineStackProps['buildStage'];
}

/** The stacks of one environment, as one pipeline stage. */
class EnvironmentStage extends Stage {
  constructor(scope: Construct, id: string, props: EnvironmentStageProps) {
    super(scope, id, props);
    props.buildStage(this, props.environment.config);
  }
}

/** Commands of the synth step, in order. */
export function synthCommands(configFile: string): string[] {
  return [
    'npm ci --no-audit --no-fund',
    // The test command of docs/developing.md: lint, type check, unit and integration tests (Postgres, Prometheus).
    'npm test',
    `npx cdk synth --no-notices -c config=${configFile}`,
  ];
}

/**
 * The release pipeline: source from a CodeStar connection, started only by the configured git tags.
 */
export class ReleasePipelineStack extends Stack {
  /** The CDK Pipelines construct. */
  public readonly pipeline: pipelines.CodePipeline;
  /** The underlying CodePipeline (V2). */
  public readonly codePipeline: codepipeline.Pipeline;

  constructor(scope: Construct, id: string, props: ReleasePipelineStackProps) {
    super(scope, id, props);
    const p = props.pipeline;
    const source = pipelines.CodePipelineSource.connection(p.repository, p.branch, {
      connectionArn: p.connectionArn,
      actionName: 'Source',
    });
    const synth = new pipelines.CodeBuildStep('Synth', {
      input: source,
      installCommands: [
        // scripts/test.sh installs its Debian packages itself but needs a PostgreSQL server to start.
        'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql',
      ],
      commands: synthCommands(props.configFile),
      primaryOutputDirectory: 'cdk.out',
      env: { CDK_DISABLE_CLI_TELEMETRY: 'true' },
      buildEnvironment: {
        buildImage: codebuild.LinuxBuildImage.STANDARD_7_0,
        computeType: codebuild.ComputeType.MEDIUM,
        // The probe accuracy tests create network namespaces (test/support/netlab.ts): CAP_NET_ADMIN.
        privileged: true,
      },
    });
    // Every project of the pipeline (synth, self-mutation, assets) logs its builds to one log group of
    // this stack, kept as long as the app's other logs (CT.CODEBUILD.PR.3).
    const buildLogs = new logs.LogGroup(this, 'BuildLogs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.pipeline = new pipelines.CodePipeline(this, 'Pipeline', {
      pipelineName: `${this.stackName}`.slice(0, 100),
      pipelineType: codepipeline.PipelineType.V2,
      synth,
      codeBuildDefaults: { logging: { cloudWatch: { logGroup: buildLogs } } },
      // Cross-account deployments need a customer managed key on the artifact bucket; it also encrypts
      // every artifact at rest with a key this stack owns, rotated yearly.
      crossAccountKeys: true,
      enableKeyRotation: true,
    });

    for (const environment of props.environments) {
      const { config } = environment;
      const stage = new EnvironmentStage(this, environment.name, {
        env: { account: config.account, region: config.monitoring.homeRegion },
        environment,
        buildStage: props.buildStage,
      });
      this.pipeline.addStage(stage, {
        pre: environment.protected
          ? [
              new pipelines.ManualApprovalStep(`Approve-${environment.name}`, {
                comment: `release to ${environment.name} (${config.account}, ${config.monitoring.homeRegion})`,
              }),
            ]
          : [],
      });
    }

    this.pipeline.buildPipeline();
    this.codePipeline = this.pipeline.pipeline;
    const sourceAction = this.codePipeline.stages.find((s) => s.stageName === 'Source')?.actions[0];
    if (!sourceAction) throw new Error('release pipeline has no source action');
    // Only pushed tags that match start a release; branch pushes do nothing.
    this.codePipeline.addTrigger({
      providerType: codepipeline.ProviderType.CODE_STAR_SOURCE_CONNECTION,
      gitConfiguration: { sourceAction, pushFilter: [{ tagsIncludes: p.tags }] },
    });
    this.meetArtifactControls();
    this.logArtifactAccess();
    this.acknowledgeGeneratedRoles();
  }

  /**
   * The Control Tower controls of the artifact bucket and key, which CDK Pipelines creates: the key denies
   * grants except for AWS resources (CT.KMS.PR.3); the bucket is versioned (CT.S3.PR.11), sends object
   * events to EventBridge (CT.S3.PR.4) and expires artifacts (CT.S3.PR.6). Every execution writes its
   * artifacts under new keys, so after 90 days they serve only a retry of that old execution.
   */
  private meetArtifactControls(): void {
    const artifacts = this.codePipeline.artifactBucket;
    if (!(artifacts instanceof s3.Bucket))
      throw new Error('release pipeline has no artifact bucket of its own');
    const key = this.codePipeline.node.findChild('ArtifactsBucketEncryptionKey');
    if (!(key instanceof kms.Key)) throw new Error('release pipeline has no artifact key of its own');
    denyGrantsExceptForAwsResources(key);
    (artifacts.node.defaultChild as s3.CfnBucket).versioningConfiguration = { status: 'Enabled' };
    artifacts.addLifecycleRule({
      expiration: Duration.days(90),
      noncurrentVersionExpiration: Duration.days(7),
      abortIncompleteMultipartUploadAfter: Duration.days(1),
    });
    sendObjectEventsToEventBridge(artifacts);
  }

  /** Server access logs of the artifact bucket (which CDK Pipelines creates) into a bucket of their own. */
  private logArtifactAccess(): void {
    const artifacts = this.codePipeline.artifactBucket;
    const accessLogs = new s3.Bucket(this, 'ArtifactAccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED, // S3 server access logging cannot deliver to SSE-KMS buckets
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      lifecycleRules: [{ expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(7) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    sendObjectEventsToEventBridge(accessLogs);
    accessLogs.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'S3ServerAccessLogsPolicy',
        principals: [new iam.ServicePrincipal('logging.s3.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [accessLogs.arnForObjects('artifacts/*')],
        conditions: {
          ArnLike: { 'aws:SourceArn': artifacts.bucketArn },
          StringEquals: { 'aws:SourceAccount': this.account },
        },
      }),
    );
    (artifacts.node.defaultChild as s3.CfnBucket).loggingConfiguration = {
      destinationBucketName: accessLogs.bucketName,
      logFilePrefix: 'artifacts/',
    };
    acknowledge(
      accessLogs,
      ['AwsSolutions-S1'],
      'this bucket is the destination of the artifact bucket access logs; logging it would log its own log deliveries',
    );
  }

  /**
   * Acknowledges, role by role, the wildcards of the policies aws-cdk-lib/pipelines generates.
   * Each is scoped to this pipeline's artifact bucket and key, its own CodeBuild projects, or the
   * CDK bootstrap roles of the target environments.
   */
  private acknowledgeGeneratedRoles(): void {
    const bucket = this.codePipeline.artifactBucket.node.defaultChild as s3.CfnBucket;
    const artifactGrants = [
      'AwsSolutions-IAM5[Action::s3:GetObject*]',
      'AwsSolutions-IAM5[Action::s3:GetBucket*]',
      'AwsSolutions-IAM5[Action::s3:List*]',
      'AwsSolutions-IAM5[Action::s3:DeleteObject*]',
      'AwsSolutions-IAM5[Action::s3:Abort*]',
      `AwsSolutions-IAM5[Resource::<${this.getLogicalId(bucket)}.Arn>/*]`,
      'AwsSolutions-IAM5[Action::kms:ReEncrypt*]',
      'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
    ];
    const why =
      "aws-cdk-lib's bucket and key grant action groups (s3:GetObject*, List*, DeleteObject*, Abort*, kms:GenerateDataKey*, ReEncrypt*), on this pipeline's artifact bucket, its objects and its key only";
    // The pipeline's role and every action role it made (the source action's, the approvals' none).
    for (const c of this.codePipeline.node.findAll())
      if (c instanceof iam.Role) acknowledge(c, artifactGrants, why);
    const synthProject = this.pipeline.synthProject;
    const selfMutation = this.pipeline.selfMutationProject;
    for (const project of [synthProject, selfMutation]) {
      const id = this.getLogicalId(project.node.defaultChild as codebuild.CfnProject);
      acknowledge(
        project.role!,
        [
          ...artifactGrants,
          `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:${this.region}:${this.account}:log-group:/aws/codebuild/<${id}>:*]`,
          `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:codebuild:${this.region}:${this.account}:report-group/<${id}>-*]`,
        ],
        `${why}; the log streams of this project's own log group and the report groups named after this project`,
      );
    }
    acknowledge(
      selfMutation.role!,
      [`AwsSolutions-IAM5[Resource::arn:*:iam::${this.account}:role/*]`, 'AwsSolutions-IAM5[Resource::*]'],
      'self-mutation assumes only roles tagged aws-cdk:bootstrap-role (file/image publishing, deploy: condition on iam:ResourceTag); cloudformation:DescribeStacks and s3:ListBucket are what cdk deploy calls before it knows the stack and bucket',
    );
    const fileRole = this.node
      .tryFindChild('Pipeline')
      ?.node.tryFindChild('Assets')
      ?.node.tryFindChild('FileRole');
    if (fileRole)
      acknowledge(
        fileRole,
        [
          ...artifactGrants,
          'AwsSolutions-IAM5[Resource::*]',
          `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:${this.region}:${this.account}:log-group:/aws/codebuild/*]`,
          `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:codebuild:${this.region}:${this.account}:report-group/*]`,
        ],
        `the asset publishing role aws-cdk-lib/pipelines shares across its asset projects, created after the role: ${why}; CodeBuild logs and reports of those projects; codebuild:StartBuild/BatchGetBuilds/StopBuild of its asset projects; sts:AssumeRole only on the file-publishing bootstrap roles of the target environments`,
      );
  }
}
