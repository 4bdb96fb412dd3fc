/**
 * MonitoringStack: the observability backbone in the home region.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as aps from 'aws-cdk-lib/aws-aps';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { DEFAULT_RUNBOOK_BASE_URL, type MonitoringConfig } from '../config/schema.ts';
import { renderAlertmanagerDefinition } from './alertmanager.ts';
import { GrafanaDashboards } from './dashboards/grafana-dashboards.ts';
import { denyGrantsExceptForAwsResources } from './guardrails.ts';

/** Directory of the Prometheus rule files loaded into AMP. */
export const RULES_DIR = join(import.meta.dirname, 'rules');

/** Props of {@link MonitoringStack}. */
export interface MonitoringStackProps extends StackProps {
  readonly config: MonitoringConfig;
  /** Rule files to load as rule groups namespaces. @default - every `*.yml` in `RULES_DIR` except `*.test.yml` */
  readonly ruleFiles?: string[];
  /** Extra rule group files generated from config (name -> YAML). @default - none */
  readonly generatedRules?: Record<string, string>;
}

/** The rule files shipped with the project: `lib/observability/rules/*.yml`, without promtool test files. */
export function listRuleFiles(dir = RULES_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yml') && !f.endsWith('.test.yml'))
    .sort()
    .map((f) => join(dir, f));
}

/**
 * The AMP workspace (created or imported), its Alertmanager routing to a KMS-encrypted SNS topic,
 * the alert rule groups, and the outputs other stacks and operators need.
 */
export class MonitoringStack extends Stack {
  /** Topic every alarm and alert goes to. */
  public readonly alertTopic: sns.Topic;
  /** Key encrypting the alert topic. */
  public readonly alertKey: kms.Key;
  /** ARN of the AMP workspace. */
  public readonly workspaceArn: string;
  /** Prometheus endpoint of the workspace, ending in `/`. */
  public readonly prometheusEndpoint: string;
  /** Remote-write URL of the workspace. */
  public readonly remoteWriteUrl: string;
  /** Log retention every function of the application uses. */
  public readonly logRetention: logs.RetentionDays;
  /** Dashboards: exported under cdk.out, and published when Grafana is configured. */
  public readonly dashboards: GrafanaDashboards;

  constructor(scope: Construct, id: string, props: MonitoringStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.logRetention = config.logRetentionDays as logs.RetentionDays;

    this.alertKey = new kms.Key(this, 'AlertKey', {
      description: 'encrypts the Infra Observatory alert topic',
      enableKeyRotation: true,
    });
    for (const service of ['aps.amazonaws.com', 'cloudwatch.amazonaws.com']) {
      this.alertKey.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: `AllowPublishFrom${service.split('.')[0]}`,
          principals: [new iam.ServicePrincipal(service)],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'], // in a key policy, '*' means this key
          conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
        }),
      );
    }
    denyGrantsExceptForAwsResources(this.alertKey);
    this.alertTopic = new sns.Topic(this, 'AlertTopic', {
      displayName: 'Infra Observatory alerts',
      masterKey: this.alertKey,
      enforceSSL: true,
    });
    for (const email of config.alertEmails)
      this.alertTopic.addSubscription(new subs.EmailSubscription(email));
    this.alertTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarms',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alertTopic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );

    let workspaceId: string;
    if ('workspaceId' in config.workspace) {
      workspaceId = config.workspace.workspaceId;
      this.workspaceArn = this.formatArn({
        service: 'aps',
        resource: 'workspace',
        resourceName: workspaceId,
      });
      this.prometheusEndpoint = `https://aps-workspaces.${this.region}.amazonaws.com/workspaces/${workspaceId}/`;
    } else {
      const workspace = new aps.CfnWorkspace(this, 'Workspace', {
        alias: config.workspace.alias,
        alertManagerDefinition: renderAlertmanagerDefinition({
          topicArn: this.alertTopic.topicArn,
          region: this.region,
        }),
      });
      workspaceId = workspace.attrWorkspaceId;
      this.workspaceArn = workspace.attrArn;
      this.prometheusEndpoint = workspace.attrPrometheusEndpoint;
    }
    this.remoteWriteUrl = `${this.prometheusEndpoint}api/v1/remote_write`;

    this.alertTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowAmpAlertmanager',
        principals: [new iam.ServicePrincipal('aps.amazonaws.com')],
        actions: ['sns:Publish', 'sns:GetTopicAttributes'],
        resources: [this.alertTopic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': this.account },
          ArnEquals: { 'aws:SourceArn': this.workspaceArn },
        },
      }),
    );

    const ruleFiles = props.ruleFiles ?? listRuleFiles();
    for (const file of ruleFiles) {
      const name = basename(file, '.yml');
      new aps.CfnRuleGroupsNamespace(this, `Rules${pascal(name)}`, {
        workspace: this.workspaceArn,
        name,
        data: renderRuleFile(readFileSync(file, 'utf8'), config.runbookBaseUrl),
      });
    }
    for (const [name, data] of Object.entries(props.generatedRules ?? {})) {
      new aps.CfnRuleGroupsNamespace(this, `Rules${pascal(name)}`, {
        workspace: this.workspaceArn,
        name,
        data,
      });
    }

    this.dashboards = new GrafanaDashboards(this, 'Dashboards', {
      prometheusEndpoint: this.prometheusEndpoint,
      alertTopic: this.alertTopic,
      logRetention: this.logRetention,
      grafana: config.grafana,
    });

    new CfnOutput(this, 'WorkspaceId', { value: workspaceId, description: 'AMP workspace ID' });
    new CfnOutput(this, 'RemoteWriteUrl', {
      value: this.remoteWriteUrl,
      description: 'AMP remote-write endpoint (SigV4, service aps)',
    });
    new CfnOutput(this, 'QueryUrl', {
      value: `${this.prometheusEndpoint}api/v1/query`,
      description: 'AMP query endpoint',
    });
    new CfnOutput(this, 'AlertTopicArn', {
      value: this.alertTopic.topicArn,
      description: 'SNS topic of every alert and alarm',
    });
    if ('workspaceId' in config.workspace) {
      new CfnOutput(this, 'AlertmanagerDefinition', {
        value:
          'imported workspace: apply the Alertmanager definition with `observatory alertmanager | aws amp put-alert-manager-definition`',
      });
    }
  }
}

/**
 * A shipped rule file with its runbook links pointed at `runbookBaseUrl`. The files keep the default
 * base (so `promtool test rules` runs on them as they are); the anchor after `#` is kept.
 * @param text the rule file
 * @param runbookBaseUrl `monitoring.runbookBaseUrl`
 */
export function renderRuleFile(text: string, runbookBaseUrl: string): string {
  return text.replaceAll(`runbook_url: "${DEFAULT_RUNBOOK_BASE_URL}#`, `runbook_url: "${runbookBaseUrl}#`);
}

function pascal(s: string): string {
  return s.replace(/(^|[-_.])([a-z0-9])/g, (_m, _sep, c: string) => c.toUpperCase());
}
