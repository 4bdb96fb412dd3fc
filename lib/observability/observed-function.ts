/**
 * ObservedFunction: the one way to create a Lambda function in Infra Observatory.
 */

import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssetHashType, DockerImage, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { bundleLambda } from './bundling.ts';

/** Namespace of every function's Powertools (EMF) metrics. */
export const METRICS_NAMESPACE = 'InfraObservatory';

/** Props of {@link ObservedFunction}. */
export interface ObservedFunctionProps {
  /** Absolute path of the handler's TypeScript entry file (exports `handler`). */
  readonly entry: string;
  /** Topic that receives the function's error and throttle alarms. */
  readonly alertTopic: sns.ITopic;
  /** Retention of the function's log group. */
  readonly logRetention: logs.RetentionDays;
  /** Powertools service name (log `service` field, metric dimension). @default - the construct id in kebab-case */
  readonly serviceName?: string;
  /** @default - none */
  readonly description?: string;
  /**
   * Physical name of the execution role, for roles another account must trust by ARN.
   * @default - a generated name
   */
  readonly roleName?: string;
  /** Extra environment variables. @default - only the Powertools settings */
  readonly environment?: Record<string, string>;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default 256 */
  readonly memorySize?: number;
  /** VPC to attach the function to. @default - not VPC-attached */
  readonly vpc?: ec2.IVpc;
  /** @default - the VPC's private subnets */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** @default - a new security group with no ingress */
  readonly securityGroups?: ec2.ISecurityGroup[];
  /** @default - unreserved */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Files written next to the bundled handler (name -> content), e.g. a plan built from config.
   * @default - none
   */
  readonly bundledFiles?: Record<string, string>;
  /**
   * Directories copied next to the bundled handler (name in the bundle -> absolute source path),
   * e.g. committed database migrations.
   * @default - none
   */
  readonly bundledDirs?: Record<string, string>;
  /** Errors in a 5-minute period that raise the error alarm. @default 1 */
  readonly errorAlarmThreshold?: number;
  /**
   * Ship source maps and run with `--enable-source-maps`, so stack traces name TypeScript lines. Off by
   * default: the maps are larger than the code and Node parses them on every cold start.
   * @default - the CDK context value `observatory:sourceMaps` (`cdk deploy -c observatory:sourceMaps=true`), else false
   */
  readonly sourceMap?: boolean;
}

/** CDK context key that turns source maps on for every function (see {@link ObservedFunctionProps.sourceMap}). */
export const SOURCE_MAPS_CONTEXT = 'observatory:sourceMaps';

/**
 * A Node.js 22 ARM64 Lambda function that is production-ready by default: an ESM bundle with lazy
 * chunks built by local esbuild (no Docker; options in `bundling.ts`), source maps on request, Powertools Logger/Metrics/Tracer settings, active X-Ray
 * tracing, a log group with retention, a least-privilege role (logs to its own group only, no managed
 * policies), and error and throttle alarms to the alert topic.
 */
export class ObservedFunction extends Construct {
  /** The function. */
  public readonly function: NodejsFunction;
  /** Its execution role. */
  public readonly role: iam.Role;
  /** Its log group. */
  public readonly logGroup: logs.LogGroup;
  /** Alarm on any invocation error. */
  public readonly errorAlarm: cloudwatch.Alarm;
  /** Alarm on throttles. */
  public readonly throttleAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: ObservedFunctionProps) {
    super(scope, id);
    const serviceName = props.serviceName ?? id.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

    this.logGroup = new logs.LogGroup(this, 'LogGroup', { retention: props.logRetention });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `execution role of ${serviceName}`,
      roleName: props.roleName,
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn, `${this.logGroup.logGroupArn}:log-stream:*`],
      }),
    );
    if (props.vpc) {
      // What AWSLambdaVPCAccessExecutionRole grants, inline so no managed policy is attached.
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeSubnets',
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          resources: ['*'],
        }),
      );
    }

    const sourceMap = props.sourceMap ?? isTrue(this.node.tryGetContext(SOURCE_MAPS_CONTEXT));
    this.function = new NodejsFunction(this, 'Function', {
      code: bundledCode(props.entry, sourceMap, props.bundledFiles ?? {}, props.bundledDirs ?? {}),
      handler: 'index.handler', // bundling.ts writes index.mjs
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(30),
      description: props.description,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      vpc: props.vpc,
      vpcSubnets: props.vpc ? props.vpcSubnets : undefined,
      securityGroups: props.securityGroups,
      allowPublicSubnet: false,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      environment: {
        ...(sourceMap ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
        POWERTOOLS_SERVICE_NAME: serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        ...props.environment,
      },
    });

    // X-Ray tracing adds xray:PutTraceSegments/PutTelemetryRecords on '*'; the ENI actions need '*' too.
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray PutTraceSegments/PutTelemetryRecords and the Lambda VPC ENI actions (ec2:CreateNetworkInterface, DescribeNetworkInterfaces) have no resource-level permissions',
    });
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.logGroup.node.defaultChild as logs.CfnLogGroup)}.Arn>:log-stream:*]`,
      reason: "log streams are created by Lambda with generated names inside the function's own log group",
    });

    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x is chosen deliberately: the same major runs the tests (the node@22 devDependency), and Middy 7 and Powertools 2 support it; AWS supports it until 2027-04-30',
    });

    const fn = this.function;
    this.errorAlarm = new cloudwatch.Alarm(this, 'ErrorAlarm', {
      alarmDescription: `${serviceName}: invocations failed`,
      metric: fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: props.errorAlarmThreshold ?? 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.throttleAlarm = new cloudwatch.Alarm(this, 'ThrottleAlarm', {
      alarmDescription: `${serviceName}: invocations throttled`,
      metric: fn.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    for (const alarm of [this.errorAlarm, this.throttleAlarm]) {
      alarm.addAlarmAction(new cwActions.SnsAction(props.alertTopic));
      alarm.addOkAction(new cwActions.SnsAction(props.alertTopic));
    }
  }
}

function isTrue(value: unknown): boolean {
  return value === true || value === 'true';
}

// One esbuild run per entry and setting in a synth: the per-AZ probe functions share their code.
const bundles = new Map<string, string>();

/**
 * The function's code: the handler bundled by {@link bundleLambda} (locally, no Docker), plus generated
 * files and copied directories next to it. The asset is hashed by its output, so functions with the
 * same code and files share one asset.
 */
function bundledCode(
  entry: string,
  sourceMap: boolean,
  files: Record<string, string>,
  dirs: Record<string, string>,
): lambda.Code {
  for (const name of Object.keys(files))
    if (!/^[\w.-]+$/.test(name))
      throw new Error(`bundled file name ${JSON.stringify(name)} must be a plain file name`);
  return lambda.Code.fromAsset(join(import.meta.dirname, '../..'), {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Never pulled: local bundling always succeeds or throws.
      image: DockerImage.fromRegistry('observatory-local-bundling-only'),
      // Never run either, but part of CDK's asset cache key, which ignores `local`: without it every
      // function of a synth would get the first function's bundle.
      command: [
        'bundle',
        entry,
        `sourceMap=${sourceMap}`,
        createHash('sha256')
          .update(JSON.stringify([files, dirs]))
          .digest('hex'),
      ],
      local: {
        tryBundle(outputDir: string) {
          const key = `${entry}|${sourceMap}`;
          let built = bundles.get(key);
          if (!built) {
            built = mkdtempSync(join(tmpdir(), 'observatory-bundle-'));
            bundleLambda(entry, built, { sourceMap });
            bundles.set(key, built);
          }
          cpSync(built, outputDir, { recursive: true });
          for (const [name, content] of Object.entries(files)) writeFileSync(join(outputDir, name), content);
          for (const [name, source] of Object.entries(dirs))
            cpSync(source, join(outputDir, name), { recursive: true });
          return true;
        },
      },
    },
  });
}
