/**
 * GrafanaDashboards: exports the dashboards into the cloud assembly and, when a Grafana is configured,
 * publishes them at deploy time with a custom resource.
 */
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Annotations, CustomResource, Duration, Stack, Stage } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import type { MonitoringConfig } from '../../config/schema.ts';
import { acknowledge, arnWildcardFinding } from '../nag.ts';
import { ObservedFunction } from '../observed-function.ts';
import { DATASOURCE_NAME, DATASOURCE_UID, type DashboardDefinition } from './common.ts';
import { buildDashboards, dashboardJson, writeDashboards } from './index.ts';

/** Entry file of the publisher function. */
export const PUBLISHER_ENTRY = join(import.meta.dirname, '../../../lambdas/grafana/publish-handler.ts');
/** Directory under the cloud assembly (`cdk.out`) that holds the exported dashboard files. */
export const EXPORT_DIR_NAME = 'grafana-dashboards';
/** UID of the Grafana folder the dashboards are published into. */
export const FOLDER_UID = 'infra-observatory';

/** Props of {@link GrafanaDashboards}. */
export interface GrafanaDashboardsProps {
  /** Prometheus endpoint of the AMP workspace (ends in `/`), the data source URL. */
  readonly prometheusEndpoint: string;
  /** Topic for the publisher function's alarms. */
  readonly alertTopic: sns.ITopic;
  /** Retention of the publisher's log groups. */
  readonly logRetention: logs.RetentionDays;
  /**
   * Where to publish: Grafana URL, Secrets Manager secret (full ARN) holding a service account token
   * (the whole secret string, or a JSON object with a `token` field), and the folder title.
   * @default - not published; the files are only exported
   */
  readonly grafana?: MonitoringConfig['grafana'];
  /**
   * Region of the AMP workspace, for SigV4.
   * @default - the stack's region
   */
  readonly workspaceRegion?: string;
  /**
   * How Grafana signs AMP queries: `ec2` uses the Grafana host's own role (Amazon Managed Grafana's
   * workspace role), `default` the AWS SDK default credential chain of a self-managed Grafana.
   * @default - `ec2` for an Amazon Managed Grafana URL (`*.grafana-workspace.<region>.amazonaws.com`), else `default`
   */
  readonly sigV4AuthType?: 'ec2' | 'default';
  /** @default buildDashboards() */
  readonly dashboards?: DashboardDefinition[];
}

/**
 * Grafana dashboards as code, delivered two ways:
 * - always: one `<uid>.json` per dashboard written at synth to `cdk.out/grafana-dashboards/` (the
 *   cloud assembly's directory), ready to import by hand or with any provisioning tool;
 * - with `grafana` set: a publisher function (ObservedFunction) behind a Provider-framework custom
 *   resource that creates or updates the AMP data source (SigV4) and every dashboard in a folder on
 *   each deploy where they changed, and removes them when the stack is deleted. The dashboards are
 *   bundled with the function, and a hash of their content is a resource property, so a dashboard
 *   change is an Update.
 */
export class GrafanaDashboards extends Construct {
  /** The dashboards. */
  public readonly dashboards: DashboardDefinition[];
  /** Absolute path of the exported files. */
  public readonly exportDir: string;
  /** The publisher function, when Grafana is configured. */
  public readonly publisher?: ObservedFunction;
  /** The custom resource, when Grafana is configured. */
  public readonly publication?: CustomResource;

  constructor(scope: Construct, id: string, props: GrafanaDashboardsProps) {
    super(scope, id);
    this.dashboards = props.dashboards ?? buildDashboards();
    const uids = this.dashboards.map((d) => d.uid);
    if (new Set(uids).size !== uids.length)
      throw new Error(`dashboard uids must be unique, got ${uids.join(', ')}`);

    // Written under the cloud assembly at synth, replacing an earlier export so no stale file lingers.
    this.exportDir = join(Stage.of(this)?.outdir ?? '.', EXPORT_DIR_NAME);
    rmSync(this.exportDir, { recursive: true, force: true });
    writeDashboards(this.exportDir, this.dashboards);
    Annotations.of(this).addInfo(
      `${this.dashboards.length} Grafana dashboards exported to ${this.exportDir}${props.grafana ? `, published to ${props.grafana.url}` : ''}`,
    );

    const grafana = props.grafana;
    if (!grafana) return;

    const files = Object.fromEntries(this.dashboards.map((d) => [d.fileName, dashboardJson(d)]));
    const publisher = new ObservedFunction(this, 'Publisher', {
      entry: PUBLISHER_ENTRY,
      serviceName: 'grafana-publisher',
      description: 'publishes the Infra Observatory dashboards and AMP data source to Grafana',
      alertTopic: props.alertTopic,
      logRetention: props.logRetention,
      timeout: Duration.minutes(2),
      bundledFiles: files,
      environment: { DASHBOARDS_DIR: '/var/task' },
    });
    publisher.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadGrafanaToken',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [grafana.tokenSecretArn],
      }),
    );
    this.publisher = publisher;

    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: publisher.function,
      logGroup: new logs.LogGroup(this, 'ProviderLogs', { retention: props.logRetention }),
    });
    this.publication = new CustomResource(this, 'Publication', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::GrafanaDashboards',
      properties: {
        grafanaUrl: grafana.url,
        tokenSecretArn: grafana.tokenSecretArn,
        folderUid: FOLDER_UID,
        folderTitle: grafana.folder,
        datasourceUid: DATASOURCE_UID,
        datasourceName: DATASOURCE_NAME,
        workspaceUrl: props.prometheusEndpoint,
        region: props.workspaceRegion ?? Stack.of(this).region,
        sigV4AuthType: props.sigV4AuthType ?? defaultAuthType(grafana.url),
        dashboardUids: uids,
        dashboardsHash: contentHash(files),
      },
    });

    acknowledge(
      publisher.role,
      ['AwsSolutions-IAM5[Resource::*]'],
      'X-Ray PutTraceSegments/PutTelemetryRecords have no resource-level permissions',
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
      [arnWildcardFinding(publisher.function, ':*')],
      'the provider framework may invoke only the publisher function and its versions/aliases',
    );
  }
}

/** `ec2` (the workspace role) for Amazon Managed Grafana, `default` (SDK chain) for any other Grafana. */
export function defaultAuthType(grafanaUrl: string): 'ec2' | 'default' {
  return /\.grafana-workspace\.[a-z0-9-]+\.amazonaws\.com$/.test(new URL(grafanaUrl).hostname)
    ? 'ec2'
    : 'default';
}

function contentHash(files: Record<string, string>): string {
  const h = createHash('sha256');
  for (const [name, content] of Object.entries(files).sort(([a], [b]) => a.localeCompare(b))) {
    h.update(name).update('\0').update(content).update('\0');
  }
  return h.digest('hex').slice(0, 32);
}
