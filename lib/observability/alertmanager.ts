/**
 * Renders the AMP Alertmanager definition: every alert goes to the alert topic, with the severity as an
 * SNS message attribute so subscriptions can filter critical from warning.
 */
import { stringify } from 'yaml';

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
 * everything else to the warning receiver (repeat every 4h). Inhibition: while a whole probe source AZ is
 * down (`ProbeSourceAzDown`), the per-target probe alerts from that AZ are muted, and a critical alert
 * mutes the warning of the same alertname and labels.
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
    inhibit_rules: [
      {
        source_matchers: ['scope="source"'],
        target_matchers: ['scope="target"'],
        equal: ['source_region', 'source_az'],
      },
      {
        source_matchers: ['severity="critical"'],
        target_matchers: ['severity="warning"'],
        equal: ['alertname', 'target', 'source_az'],
      },
    ],
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
