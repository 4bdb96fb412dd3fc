/**
 * Renders the AMP Alertmanager definition: every alert goes to the alert topic, with the severity as an
 * SNS message attribute so subscriptions can filter critical from warning.
 */
import { stringify } from 'yaml';

/**
 * What silences what. The rule files carry the labels these match (lib/observability/rules/*.yml):
 * - `inhibits="source_az"` (ProbeSourceAzDown: every target fails from one AZ) silences the alerts
 *   with `scope="source_az"` measured from the same source AZ (unreachable, loss, latency, overruns,
 *   discovery): the AZ's own path is the one cause.
 * - `inhibits="pipeline"` (a backbone failure: no probe sample at all, no utilization health gauge at
 *   all, or the utilization collection runs stopped or failing) silences the alerts with
 *   `scope="pipeline"` of the same `pipeline` (silent probe sources, stale shards, a stale report),
 *   which only echo the missing data.
 * - a critical alert silences the warning of the same `family` for the same subject (certificate
 *   expiring in 3 days over expiring soon; collection stopped over stale).
 * - the localization of a degrading path (docs/detection.md): `localizes="target"`,
 *   `"source_az"` or `"region_pair"` (ProbeTargetDegraded, ProbeSourceAzDegraded,
 *   ProbeRegionPairDegraded) silences the path alerts whose `locus` it is, for the same signal and
 *   the same target, source AZ ID or pair of regions: the on-call gets the broadest true cause once,
 *   not one page per path. A path alert with `locus="path"` has no broader cause and always notifies.
 * - a detection alert (`signal` set) that is critical silences its warning on the same path.
 * - AWS's own figure for a pair degraded (AwsNetworkPairDegraded, `pair="az"` or `"region"`) silences
 *   the latency alerts on that AZ-ID pair or between those regions: the cause is AWS's network.
 */
export const INHIBIT_RULES = [
  {
    source_matchers: ['inhibits="source_az"'],
    target_matchers: ['scope="source_az"'],
    equal: ['source_region', 'source_az'],
  },
  {
    source_matchers: ['inhibits="pipeline"'],
    target_matchers: ['scope="pipeline"'],
    equal: ['pipeline'],
  },
  {
    source_matchers: ['severity="critical"', 'family=~".+"'],
    target_matchers: ['severity="warning"', 'family=~".+"'],
    equal: ['family', 'target', 'account', 'region', 'service'],
  },
  {
    source_matchers: ['localizes="target"'],
    target_matchers: ['locus="target"'],
    equal: ['target', 'signal'],
  },
  {
    source_matchers: ['localizes="source_az"'],
    target_matchers: ['locus="source_az"'],
    equal: ['source_az_id', 'signal'],
  },
  {
    source_matchers: ['localizes="region_pair"'],
    target_matchers: ['locus="region_pair"'],
    equal: ['source_region', 'target_region', 'signal'],
  },
  {
    source_matchers: ['severity="critical"', 'signal=~".+"', 'locus=~".+"'],
    target_matchers: ['severity="warning"', 'signal=~".+"', 'locus=~".+"'],
    equal: ['alertname', 'signal', 'source_az_id', 'target', 'address'],
  },
  // AWS's own figure for a pair degraded (AwsNetworkPairDegraded): the latency alerts of the paths on
  // that AZ-ID pair, or between those two regions, only echo it.
  {
    source_matchers: ['alertname="AwsNetworkPairDegraded"', 'pair="az"'],
    target_matchers: ['signal="latency"'],
    equal: ['source_az_id', 'target_az_id'],
  },
  {
    source_matchers: ['alertname="AwsNetworkPairDegraded"', 'pair="region"'],
    target_matchers: ['signal="latency"'],
    equal: ['source_region', 'target_region'],
  },
] as const;

/** Props of {@link renderAlertmanagerDefinition}. */
export interface AlertmanagerDefinitionProps {
  /** ARN of the SNS topic (may be a CDK token). */
  readonly topicArn: string;
  /** Region of the topic and the workspace. */
  readonly region: string;
}

/**
 * Builds the Alertmanager definition in AMP's format (`alertmanager_config: |` holding the config).
 *
 * Routing: `severity="critical"` to the critical receiver (no grouping delay, repeat every 1h),
 * everything else to the warning receiver (repeat every 4h). Inhibition follows {@link INHIBIT_RULES}.
 */
export function renderAlertmanagerDefinition(props: AlertmanagerDefinitionProps): string {
  const receiver = (name: string, severity: string) => ({
    name,
    sns_configs: [
      {
        topic_arn: props.topicArn,
        sigv4: { region: props.region },
        subject: `[${severity.toUpperCase()}] {{ .GroupLabels.alertname }}`,
        attributes: { severity },
        message: '{{ template "observatory.message" . }}',
      },
    ],
  });
  const config = {
    route: {
      receiver: 'warning',
      group_by: ['alertname', 'source_region', 'source_az'],
      group_wait: '30s',
      group_interval: '5m',
      repeat_interval: '4h',
      routes: [
        { matchers: ['severity="critical"'], receiver: 'critical', group_wait: '10s', repeat_interval: '1h' },
      ],
    },
    inhibit_rules: INHIBIT_RULES,
    receivers: [receiver('critical', 'critical'), receiver('warning', 'warning')],
    templates: ['default_template'],
  };
  const template = [
    '{{ define "observatory.message" }}',
    '{{ range .Alerts }}[{{ .Status | toUpper }}] {{ .Labels.alertname }} ({{ .Labels.severity }})',
    'Summary: {{ .Annotations.summary }}',
    'Description: {{ .Annotations.description }}',
    'Runbook: {{ .Annotations.runbook_url }}',
    'Labels: {{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}',
    '{{ end }}{{ end }}',
  ].join('\n');
  return stringify(
    {
      template_files: { default_template: template },
      alertmanager_config: stringify(config, { lineWidth: 0 }),
    },
    { lineWidth: 0, blockQuote: 'literal' },
  );
}
