/**
 * UtilizationStack: scheduled collection of CloudWatch utilization into Aurora PostgreSQL, the
 * under-use report, and the pipeline's own health alarms.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CfnOutput, CustomResource, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as cr from 'aws-cdk-lib/custom-resources';
import type { Construct } from 'constructs';
import { BATCH_LIMIT_ENV } from '#contracts/utilization-batch';
import type { UtilizationConfig } from '../config/schema.ts';
import {
  denyGrantsExceptForAwsResources,
  sendObjectEventsToEventBridge,
} from '../observability/guardrails.ts';
import { acknowledge, acknowledgeUnreadRouteTables, arnWildcardFinding } from '../observability/nag.ts';
import { METRICS_NAMESPACE, ObservedFunction } from '../observability/observed-function.ts';
import { buildCollectionDefinition, type CollectionShard } from './collection-workflow.ts';

const LAMBDAS = join(import.meta.dirname, '../../lambdas/utilization');
/** Committed drizzle-kit migrations, applied at deploy time. */
export const MIGRATIONS_DIR = join(import.meta.dirname, '../../drizzle');

/** Props of {@link UtilizationStack}. */
export interface UtilizationStackProps extends StackProps {
  readonly config: UtilizationConfig;
  readonly alertTopic: sns.ITopic;
  /** Key of the alert topic, when it is encrypted with a customer managed key. @default - none */
  readonly alertKey?: kms.IKey;
  readonly remoteWriteUrl: string;
  readonly workspaceArn: string;
  readonly logRetention: logs.RetentionDays;
  /** Physical name of the collect function's role, trusted by the member accounts' reader roles. */
  readonly collectorRoleName: string;
}

/** Every (account, region, service) shard of a collection run, in a stable order. */
export function collectionShards(config: UtilizationConfig): CollectionShard[] {
  return config.accounts.flatMap((a) =>
    config.regions.flatMap((region) =>
      config.services.map((service) => ({ accountId: a.id, region, service })),
    ),
  );
}

/**
 * Collection workflow (Scheduler -> Step Functions Map -> collect function -> S3 batch + SQS), the
 * store function (partial batch failures, DLQ) writing through the RDS Data API, the Aurora PostgreSQL
 * Serverless v2 database (or an existing one) with migrations applied at deploy time, the daily report,
 * and alarms on a failed batch, a rejected batch, missing shards and a collection that stopped.
 */
export class UtilizationStack extends Stack {
  public readonly batchBucket: s3.Bucket;
  public readonly storeQueue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly collect: ObservedFunction;
  public readonly store: ObservedFunction;
  public readonly report: ObservedFunction;
  public readonly stateMachine: sfn.StateMachine;
  public readonly clusterArn: string;
  public readonly secretArn: string;
  /** The database cluster, when this stack creates it. */
  public readonly cluster?: rds.DatabaseCluster;

  constructor(scope: Construct, id: string, props: UtilizationStackProps) {
    super(scope, id, props);
    const { config, alertTopic } = props;
    const key = new kms.Key(this, 'DataKey', {
      description: 'encrypts utilization batches, queues and the database',
      enableKeyRotation: true,
    });
    denyGrantsExceptForAwsResources(key);

    // --- storage of batches (claim check) -------------------------------------------------------------
    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED, // S3 server access logging cannot deliver to SSE-KMS buckets
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      // ACLs off: S3 delivers access logs under the bucket policy below, not the log-delivery ACL.
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Versioned (CT.S3.PR.11) so a log object cannot be overwritten or deleted unseen within a week.
      versioned: true,
      lifecycleRules: [{ expiration: Duration.days(90), noncurrentVersionExpiration: Duration.days(7) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.batchBucket = new s3.Bucket(this, 'Batches', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      lifecycleRules: [
        { prefix: 'batches/', expiration: Duration.days(30), noncurrentVersionExpiration: Duration.days(7) },
        { prefix: 'reports/', expiration: Duration.days(400) },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const bucket of [accessLogs, this.batchBucket]) sendObjectEventsToEventBridge(bucket);
    // Server access logging set on the L1 so the access-log bucket grants delivery by bucket policy
    // (scoped to this source bucket and account) instead of the LogDeliveryWrite ACL the L2 falls back to.
    (this.batchBucket.node.defaultChild as s3.CfnBucket).loggingConfiguration = {
      destinationBucketName: accessLogs.bucketName,
      logFilePrefix: 'batches/',
    };
    accessLogs.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'S3ServerAccessLogsPolicy',
        principals: [new iam.ServicePrincipal('logging.s3.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [accessLogs.arnForObjects('batches/*')],
        conditions: {
          ArnLike: { 'aws:SourceArn': this.batchBucket.bucketArn },
          StringEquals: { 'aws:SourceAccount': this.account },
        },
      }),
    );
    this.deadLetterQueue = new sqs.Queue(this, 'StoreDeadLetterQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.storeQueue = new sqs.Queue(this, 'StoreQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: key,
      enforceSSL: true,
      visibilityTimeout: Duration.minutes(6 * 2), // six times the store function's timeout
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 5 },
    });

    // --- database --------------------------------------------------------------------------------------
    // The import needs one AZ name per subnet; a DB subnet group uses only the subnet IDs, so these
    // positional names never reach the template (offline synth cannot look the real ones up).
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: config.database.vpcId,
      availabilityZones: config.database.subnetIds.map((_, i) => `${this.region}${'abcdef'[i]}`),
      privateSubnetIds: config.database.subnetIds,
    });
    acknowledgeUnreadRouteTables(vpc, 'the database subnet group');
    if (config.database.existing) {
      this.clusterArn = config.database.existing.clusterArn;
      this.secretArn = config.database.existing.secretArn;
    } else {
      const dbSecurityGroup = new ec2.SecurityGroup(this, 'DatabaseSecurityGroup', {
        vpc,
        description: 'utilization database: no ingress; Lambda reaches it only through the RDS Data API',
        allowAllOutbound: false,
      });
      const clusterIdentifier = `${id}-db`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
      // Created here (not by the LogRetention custom resource) so retention is set without an extra function.
      const dbLogs = new logs.LogGroup(this, 'DatabaseLogs', {
        logGroupName: `/aws/rds/cluster/${clusterIdentifier}/postgresql`,
        retention: props.logRetention,
      });
      this.cluster = new rds.DatabaseCluster(this, 'Database', {
        engine: rds.DatabaseClusterEngine.auroraPostgres({
          version: rds.AuroraPostgresEngineVersion.VER_16_6,
        }),
        credentials: rds.Credentials.fromGeneratedSecret('observatory', { encryptionKey: key }),
        defaultDatabaseName: config.database.databaseName,
        writer: rds.ClusterInstance.serverlessV2('Writer', { publiclyAccessible: false }),
        serverlessV2MinCapacity: config.database.minCapacity,
        serverlessV2MaxCapacity: config.database.maxCapacity,
        enableDataApi: true,
        iamAuthentication: true,
        storageEncrypted: true,
        storageEncryptionKey: key,
        vpc,
        vpcSubnets: { subnets: vpc.privateSubnets },
        securityGroups: [dbSecurityGroup],
        port: 5438,
        deletionProtection: config.database.deletionProtection,
        backup: { retention: Duration.days(config.database.backupRetentionDays) },
        clusterIdentifier,
        cloudwatchLogsExports: ['postgresql'],
        ...this.enhancedMonitoring(config.database.monitoringIntervalSeconds),
        removalPolicy: config.database.deletionProtection ? RemovalPolicy.SNAPSHOT : RemovalPolicy.DESTROY,
      });
      this.cluster.node.addDependency(dbLogs);
      this.cluster.addRotationSingleUser({
        automaticallyAfter: Duration.days(30),
        excludeCharacters: '"@/\\ \'',
      });
      this.clusterArn = this.cluster.clusterArn;
      this.secretArn = this.cluster.secret!.secretArn;
    }
    const dataApiEnv = {
      DB_CLUSTER_ARN: this.clusterArn,
      DB_SECRET_ARN: this.secretArn,
      DB_NAME: config.database.databaseName,
    };
    const grantDataApi = (fn: ObservedFunction) => {
      fn.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: [
            'rds-data:ExecuteStatement',
            'rds-data:BatchExecuteStatement',
            'rds-data:BeginTransaction',
            'rds-data:CommitTransaction',
            'rds-data:RollbackTransaction',
          ],
          resources: [this.clusterArn],
        }),
      );
      fn.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
          resources: [this.secretArn],
        }),
      );
      fn.role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [key.keyArn] }),
      );
    };
    const allow = (fn: ObservedFunction, actions: string[], resources: string[]) =>
      fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources }));

    // --- migrations at deploy time -------------------------------------------------------------------
    const migrate = new ObservedFunction(this, 'Migrate', {
      entry: join(LAMBDAS, 'migrate-handler.ts'),
      description: 'applies the committed drizzle migrations to the utilization database',
      alertTopic,
      logRetention: props.logRetention,
      timeout: Duration.minutes(5),
      bundledDirs: { drizzle: MIGRATIONS_DIR },
      environment: {
        ...dataApiEnv,
        RETENTION_DAYS: String(config.retentionDays),
      },
    });
    grantDataApi(migrate);
    const provider = new cr.Provider(this, 'MigrateProvider', {
      onEventHandler: migrate.function,
      logGroup: new logs.LogGroup(this, 'MigrateProviderLogs', { retention: props.logRetention }),
    });
    const migration = new CustomResource(this, 'Migration', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::DrizzleMigration',
      // A new set of migrations changes this property and so re-runs the migrator on deploy.
      properties: { migrations: migrationFingerprint() },
    });
    if (this.cluster) migration.node.addDependency(this.cluster);

    // --- collect ----------------------------------------------------------------------------------------
    this.collect = new ObservedFunction(this, 'Collect', {
      entry: join(LAMBDAS, 'collect-handler.ts'),
      description: 'discovers resources of one shard and collects their CloudWatch metrics into a batch',
      alertTopic,
      logRetention: props.logRetention,
      timeout: Duration.minutes(10),
      memorySize: 1024,
      roleName: props.collectorRoleName,
      environment: {
        BATCH_BUCKET: this.batchBucket.bucketName,
        STORE_QUEUE_URL: this.storeQueue.queueUrl,
        [BATCH_LIMIT_ENV.maxRows]: String(config.batchMaxRows),
        [BATCH_LIMIT_ENV.maxBytes]: String(config.batchMaxBytes),
      },
    });
    this.collect.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'AssumeMemberRoles',
        actions: ['sts:AssumeRole'],
        resources: config.accounts.map((a) => `arn:${this.partition}:iam::${a.id}:role/${config.roleName}`),
      }),
    );
    allow(this.collect, ['s3:PutObject'], [this.batchBucket.arnForObjects('batches/*')]);
    allow(this.collect, ['sqs:SendMessage'], [this.storeQueue.queueArn]);
    allow(this.collect, ['kms:GenerateDataKey', 'kms:Decrypt'], [key.keyArn]);

    // --- store ------------------------------------------------------------------------------------------
    this.store = new ObservedFunction(this, 'Store', {
      entry: join(LAMBDAS, 'store-handler.ts'),
      description: 'validates utilization batches and stores them idempotently in Aurora PostgreSQL',
      alertTopic,
      logRetention: props.logRetention,
      timeout: Duration.minutes(2),
      memorySize: 1024,
      environment: { ...dataApiEnv, RETENTION_DAYS: String(config.retentionDays) },
    });
    grantDataApi(this.store);
    allow(this.store, ['s3:GetObject'], [this.batchBucket.arnForObjects('batches/*')]);
    this.store.function.addEventSource(
      new SqsEventSource(this.storeQueue, { batchSize: 5, reportBatchItemFailures: true, maxConcurrency: 4 }),
    );
    this.store.function.node.addDependency(migration);

    // --- report -----------------------------------------------------------------------------------------
    this.report = new ObservedFunction(this, 'Report', {
      entry: join(LAMBDAS, 'report-handler.ts'),
      description: 'reports under-used resources ranked by monthly cost',
      alertTopic,
      logRetention: props.logRetention,
      timeout: Duration.minutes(5),
      memorySize: 1024,
      environment: {
        ...dataApiEnv,
        REPORT_BUCKET: this.batchBucket.bucketName,
        REPORT_PREFIX: 'reports/',
        REPORT_TOPIC_ARN: alertTopic.topicArn,
        REMOTE_WRITE_URL: props.remoteWriteUrl,
        UNDERUSE_POLICY: JSON.stringify(config.policy),
        ADVICE_POLICY: JSON.stringify({
          rightsizing: config.rightsizing,
          trends: config.trends,
          forecastAlertDays: config.forecastAlertDays,
        }),
        // The Price List API answers only in these regions; us-east-1 holds every region's prices.
        PRICING_REGION: 'us-east-1',
      },
    });
    grantDataApi(this.report);
    allow(this.report, ['s3:PutObject'], [this.batchBucket.arnForObjects('reports/*')]);
    allow(this.report, ['kms:GenerateDataKey'], [key.keyArn]);
    allow(this.report, ['sns:Publish'], [alertTopic.topicArn]);
    if (props.alertKey) allow(this.report, ['kms:GenerateDataKey', 'kms:Decrypt'], [props.alertKey.keyArn]);
    this.report.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['aps:RemoteWrite'], resources: [props.workspaceArn] }),
    );
    this.report.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'PriceList', actions: ['pricing:GetProducts'], resources: ['*'] }),
    );

    // --- collection workflow ----------------------------------------------------------------------------
    const summary = new ObservedFunction(this, 'CollectionSummary', {
      entry: join(LAMBDAS, 'collection-summary-handler.ts'),
      serviceName: 'collection-summary',
      description: 'summarizes a collection run: heartbeat, failed shards, tolerance verdict',
      alertTopic,
      logRetention: props.logRetention,
      environment: { REMOTE_WRITE_URL: props.remoteWriteUrl },
    });
    allow(summary, ['aps:RemoteWrite'], [props.workspaceArn]);
    acknowledge(
      summary.role,
      ['AwsSolutions-IAM5[Resource::*]'],
      'X-Ray PutTraceSegments/PutTelemetryRecords have no resource-level permissions',
    );
    const shards = collectionShards(config);
    const workflowLogs = new logs.LogGroup(this, 'CollectionLogs', { retention: props.logRetention });
    this.stateMachine = new sfn.StateMachine(this, 'Collection', {
      comment: 'collects CloudWatch utilization of every (account, region, service) shard',
      definitionBody: sfn.DefinitionBody.fromChainable(
        buildCollectionDefinition(this, {
          collectFunction: this.collect.function,
          shards,
          collectParams: {
            roleName: config.roleName,
            ...(config.externalId ? { externalId: config.externalId } : {}),
            lookbackMinutes: config.lookbackMinutes,
            periodSeconds: config.periodSeconds,
            delayMinutes: config.delayMinutes,
          },
          maxConcurrency: config.maxConcurrency,
          toleratedFailurePercent: config.toleratedFailurePercent,
          summaryFunction: summary.function,
        }),
      ),
      timeout: Duration.minutes(55),
      tracingEnabled: true,
      logs: { destination: workflowLogs, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    const invokeRole = new iam.Role(this, 'ScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com'),
    });
    new scheduler.Schedule(this, 'CollectionSchedule', {
      description: 'starts a utilization collection run',
      schedule: scheduler.ScheduleExpression.expression(config.schedule),
      target: new schedulerTargets.StepFunctionsStartExecution(this.stateMachine, {
        role: invokeRole,
        retryAttempts: 2,
      }),
    });
    new scheduler.Schedule(this, 'ReportSchedule', {
      description:
        'daily under-use report (CSV and Markdown to S3, summary to the alert topic, gauges to AMP)',
      schedule: scheduler.ScheduleExpression.expression('cron(0 6 * * ? *)'),
      target: new schedulerTargets.LambdaInvoke(this.report.function, {
        role: invokeRole,
        retryAttempts: 2,
        input: scheduler.ScheduleTargetInput.fromObject({ mode: 'full' }),
      }),
    });
    // The staleness alerts read the ledger gauges, so they are refreshed far more often than the report.
    new scheduler.Schedule(this, 'HealthSchedule', {
      description: 'pushes the batch ledger health gauges to AMP',
      schedule: scheduler.ScheduleExpression.rate(Duration.minutes(15)),
      target: new schedulerTargets.LambdaInvoke(this.report.function, {
        role: invokeRole,
        retryAttempts: 1,
        input: scheduler.ScheduleTargetInput.fromObject({ mode: 'health' }),
      }),
    });

    // --- health alarms ----------------------------------------------------------------------------------
    const alarm = (
      id: string,
      description: string,
      metric: cloudwatch.IMetric,
      opts: Partial<cloudwatch.AlarmProps> = {},
    ) => {
      const a = new cloudwatch.Alarm(this, id, {
        alarmDescription: description,
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        ...opts,
      });
      a.addAlarmAction(new cwActions.SnsAction(alertTopic));
      a.addOkAction(new cwActions.SnsAction(alertTopic));
      return a;
    };
    const ns = (metricName: string, dims?: Record<string, string>, period = Duration.hours(1)) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: dims,
        period,
        statistic: 'Sum',
      });
    alarm(
      'DeadLetterAlarm',
      'a utilization batch failed to store and landed in the dead-letter queue',
      this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
    );
    alarm(
      'RejectedBatchAlarm',
      'a utilization batch was rejected by validation (see the batch ledger for the reason)',
      ns('BatchesRejected', { service: 'store' }, Duration.minutes(15)),
    );
    alarm(
      'MissingShardsAlarm',
      'a collection run finished with failed shards (see the execution output for account and reason)',
      ns('ShardsFailed'),
    );
    alarm(
      'CollectionStoppedAlarm',
      'no utilization collection run finished in the last 3 hours',
      ns('CollectionHeartbeat', undefined, Duration.hours(3)),
      {
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      },
    );
    alarm(
      'CollectionFailedAlarm',
      'a utilization collection run failed',
      this.stateMachine.metricFailed({ period: Duration.hours(1) }),
    );

    const xray = 'X-Ray PutTraceSegments/PutTelemetryRecords have no resource-level permissions';
    acknowledge(this.collect.role, ['AwsSolutions-IAM5[Resource::*]'], xray);
    acknowledge(
      this.collect.role,
      [arnWildcardFinding(this.batchBucket, '/batches/*')],
      'the collector writes one object per shard and window under batches/ of one bucket; keys are generated per batch',
    );
    acknowledge(this.store.role, ['AwsSolutions-IAM5[Resource::*]'], xray);
    acknowledge(
      this.store.role,
      [arnWildcardFinding(this.batchBucket, '/batches/*')],
      'the store function reads the batch objects named by queue messages, all under batches/ of one bucket',
    );
    acknowledge(
      this.report.role,
      ['AwsSolutions-IAM5[Resource::*]'],
      `${xray}; pricing:GetProducts has none either`,
    );
    acknowledge(
      this.report.role,
      [arnWildcardFinding(this.batchBucket, '/reports/*')],
      'the report function writes dated report files under reports/ of one bucket',
    );
    acknowledge(migrate.role, ['AwsSolutions-IAM5[Resource::*]'], xray);
    acknowledge(
      this.stateMachine.role,
      ['AwsSolutions-IAM5[Resource::*]'],
      'X-Ray PutTraceSegments/PutTelemetryRecords have no resource-level permissions',
    );
    acknowledge(
      this.stateMachine.role,
      [arnWildcardFinding(this.collect.function, ':*'), arnWildcardFinding(summary.function, ':*')],
      'lambda:InvokeFunction on the collect and summary functions and their versions/aliases only',
    );
    acknowledge(
      invokeRole,
      [arnWildcardFinding(this.report.function, ':*')],
      'the scheduler may invoke only the report function and its versions/aliases; it starts only the collection state machine',
    );
    acknowledge(
      provider,
      [
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      ],
      'the custom resource provider framework function is owned by aws-cdk-lib and writes only its own logs',
    );
    acknowledge(
      provider,
      [arnWildcardFinding(migrate.function, ':*')],
      'the provider framework may invoke only the migrate function and its versions/aliases',
    );

    new CfnOutput(this, 'BatchBucketName', { value: this.batchBucket.bucketName });
    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn });
    new CfnOutput(this, 'DatabaseClusterArn', { value: this.clusterArn });
    new CfnOutput(this, 'DatabaseSecretArn', { value: this.secretArn });
  }

  /**
   * Enhanced monitoring of the database instances (CT.RDS.PR.2), with a role of its own instead of the
   * managed AmazonRDSEnhancedMonitoringRole: the same actions, on this region's `RDSOSMetrics` group only.
   * @param seconds sampling interval; 0 turns enhanced monitoring off
   */
  private enhancedMonitoring(
    seconds: number,
  ): Pick<rds.DatabaseClusterProps, 'monitoringInterval' | 'monitoringRole'> {
    if (seconds === 0) return {};
    const group = `arn:${this.partition}:logs:${this.region}:${this.account}:log-group:RDSOSMetrics`;
    const role = new iam.Role(this, 'DatabaseMonitoringRole', {
      assumedBy: new iam.ServicePrincipal('monitoring.rds.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
      description: 'RDS enhanced monitoring of the utilization database writes OS metrics to RDSOSMetrics',
      inlinePolicies: {
        RdsOsMetrics: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              actions: ['logs:CreateLogGroup', 'logs:PutRetentionPolicy'],
              resources: [group],
            }),
            new iam.PolicyStatement({
              actions: [
                'logs:CreateLogStream',
                'logs:PutLogEvents',
                'logs:DescribeLogStreams',
                'logs:GetLogEvents',
              ],
              resources: [`${group}:log-stream:*`],
            }),
          ],
        }),
      },
    });
    acknowledge(
      role,
      [
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:${this.region}:${this.account}:log-group:RDSOSMetrics:log-stream:*]`,
      ],
      'RDS names each stream of RDSOSMetrics after the instance resource ID, known only once the instance exists',
    );
    return { monitoringInterval: Duration.seconds(seconds), monitoringRole: role };
  }
}

/** A short fingerprint of the committed migrations' journal, so new migrations re-run the migrator. */
function migrationFingerprint(): string {
  return createHash('sha256')
    .update(readFileSync(join(MIGRATIONS_DIR, 'meta/_journal.json')))
    .digest('hex')
    .slice(0, 16);
}
