/**
 * Network dashboard: what the per-AZ probe functions measure (lambdas/probes/METRICS.md).
 *
 * Overview stats, the AZ-to-AZ matrices (median TCP connect, loss, success between every source AZ
 * and every target AZ), per-target latency bands (min/p50/p90/max of the run's connects, one panel
 * per TCP target), HTTP phases and DNS time, loss, jitter and success over time, failures by reason,
 * certificate expiry, and the probe runs themselves (duration, targets, discovery).
 */
import { RowBuilder, VariableHide } from '@grafana/grafana-foundation-sdk/dashboard';
import {
  barGauge,
  baseDashboard,
  type DashboardDefinition,
  finalize,
  groupingToMatrix,
  labelVariable,
  stat,
  table,
  timeseries,
  warnFrom,
} from './common.ts';

/** UID of the Network dashboard. */
export const NETWORK_DASHBOARD_UID = 'observatory-network';

/** The probe selection every panel applies. */
const SEL = 'source_region=~"$region", source_az=~"$az", target=~"$target"';
/** Each degraded path of the selection, labelled with its locus (a series the detection rules record). */
export const DEGRADED = `path:probe_degraded:locus{${SEL}}`;
/** The source selection of run-level series (they have no target). */
const SRC = 'source_region=~"$region", source_az=~"$az"';

const RED_BELOW_99 = [
  { value: null, color: 'red' },
  { value: 0.95, color: 'orange' },
  { value: 0.99, color: 'green' },
];
const LOSS_STEPS = [
  { value: null, color: 'green' },
  { value: 0.01, color: 'orange' },
  { value: 0.05, color: 'red' },
];
const CERT_DAYS = [
  { value: null, color: 'red' },
  { value: 14, color: 'orange' },
  { value: 30, color: 'green' },
];

/** Builds the Network dashboard. */
export function networkDashboard(): DashboardDefinition {
  const b = baseDashboard(
    NETWORK_DASHBOARD_UID,
    'Infra Observatory / Network',
    'TCP, HTTP(S) and DNS probes from every AZ of every probe region: latency, loss, success, certificates.',
  )
    .withVariable(labelVariable('region', 'probe_success', 'source_region', { label: 'Source region' }))
    .withVariable(
      labelVariable('az', 'probe_success{source_region=~"$region"}', 'source_az', { label: 'Source AZ' }),
    )
    .withVariable(
      labelVariable('target', 'probe_success{source_region=~"$region", source_az=~"$az"}', 'target', {
        label: 'Target',
      }),
    )
    // The targets with TCP connect figures, for the repeated latency-band panel (HTTP and DNS targets
    // have none); follows the target selection and stays hidden.
    .withVariable(
      labelVariable('tcp_target', `probe_tcp_connect_seconds{${SEL}}`, 'target', {
        hide: VariableHide.HideVariable,
      }),
    );

  b.withRow(new RowBuilder('Overview'))
    .withPanel(
      stat(
        'Probe success',
        'Share of probed addresses that answered as expected in their latest run (probe_success).',
        [{ expr: `avg(probe_success{${SEL}})`, instant: true }],
        { unit: 'percentunit', decimals: 2, thresholds: RED_BELOW_99 },
      ),
    )
    .withPanel(
      stat(
        'Failing addresses',
        'Probed addresses whose latest run failed; the "Failing now" table names them.',
        [{ expr: `sum(1 - probe_success{${SEL}})`, instant: true }],
        {
          unit: 'short',
          thresholds: warnFrom(1),
        },
      ),
    )
    .withPanel(
      stat(
        'Worst TCP loss',
        'Highest share of lost TCP handshakes (failed or retransmitted SYN) of any target in its latest run.',
        [{ expr: `max(probe_loss_ratio{${SEL}})`, instant: true }],
        { unit: 'percentunit', decimals: 1, thresholds: LOSS_STEPS },
      ),
    )
    .withPanel(
      stat(
        'Earliest certificate expiry',
        'Days until the first certificate of any probed HTTPS chain expires (probe_ssl_earliest_cert_expiry).',
        [{ expr: `min(probe_ssl_earliest_cert_expiry{${SEL}} - time()) / 86400`, instant: true }],
        { unit: 'd', decimals: 1, thresholds: CERT_DAYS },
      ),
    );

  b.withRow(new RowBuilder('AZ to AZ'))
    .withPanel(
      table(
        'Median TCP connect, source AZ (rows) to target AZ (columns)',
        'Median TCP handshake time of the latest runs from each source AZ to targets with a known AZ (the AZ mesh and targets configured with an az).',
        [
          {
            expr: `avg by (source_az, target_az) (probe_tcp_connect_seconds{quantile="0.5", ${SEL}, target_az!=""})`,
            instant: true,
            format: 'table',
          },
        ],
        {
          unit: 's',
          width: 8,
          transformations: [groupingToMatrix('source_az', 'target_az')],
          thresholds: [
            { value: null, color: 'green' },
            { value: 0.002, color: 'orange' },
            { value: 0.01, color: 'red' },
          ],
        },
      ),
    )
    .withPanel(
      table(
        'TCP loss, source AZ to target AZ',
        'Worst share of lost TCP handshakes in the latest runs between each pair of AZs.',
        [
          {
            expr: `max by (source_az, target_az) (probe_loss_ratio{${SEL}, target_az!=""})`,
            instant: true,
            format: 'table',
          },
        ],
        {
          unit: 'percentunit',
          width: 8,
          transformations: [groupingToMatrix('source_az', 'target_az')],
          thresholds: LOSS_STEPS,
        },
      ),
    )
    .withPanel(
      table(
        'Success, source AZ to target AZ',
        'Share of successful probes in the latest runs between each pair of AZs.',
        [
          {
            expr: `avg by (source_az, target_az) (probe_success{${SEL}, target_az!=""})`,
            instant: true,
            format: 'table',
          },
        ],
        {
          unit: 'percentunit',
          width: 8,
          transformations: [groupingToMatrix('source_az', 'target_az')],
          thresholds: RED_BELOW_99,
        },
      ),
    );

  // AWS's own p50 (probes.awsNetworkPerformance) beside the probes' median on the same AZ-ID pair:
  // both moving points at AWS's network, only the probe moving points at our path.
  b.withRow(new RowBuilder("AWS's reference: is it AWS's network or our path?"))
    .withPanel(
      timeseries(
        'AZ pairs: probe median and AWS p50',
        "Median TCP connect from each source AZ ID to each target AZ ID (the AZ mesh), beside AWS Network Manager's p50 for the same AZ-ID pair (aws_network_performance_latency_p50_seconds). Empty unless probes.awsNetworkPerformance is enabled.",
        [
          {
            expr: `avg by (source_az_id, target_az_id) (probe_tcp_connect_seconds{quantile="0.5", ${SEL}, target_az_id!=""})`,
            legend: 'probe {{source_az_id}} → {{target_az_id}}',
          },
          {
            expr: 'max by (source_az_id, target_az_id) (aws_network_performance_latency_p50_seconds{pair="az", source_region=~"$region"})',
            legend: 'AWS {{source_az_id}} → {{target_az_id}}',
          },
        ],
        { unit: 's', min: 0, width: 12 },
      ),
    )
    .withPanel(
      timeseries(
        'Region pairs: probe median and AWS p50',
        "Median TCP connect from each source region to targets in another region, beside AWS Network Manager's p50 between the two regions.",
        [
          {
            expr: `avg by (source_region, target_region) (probe_tcp_connect_seconds{quantile="0.5", ${SEL}, target_region!=""} unless on (source_region, target_region) label_replace(probe_tcp_connect_seconds{quantile="0.5", ${SEL}, target_region!=""}, "target_region", "$1", "source_region", "(.*)"))`,
            legend: 'probe {{source_region}} → {{target_region}}',
          },
          {
            expr: 'max by (source_region, target_region) (aws_network_performance_latency_p50_seconds{pair="region", source_region=~"$region"})',
            legend: 'AWS {{source_region}} → {{target_region}}',
          },
        ],
        { unit: 's', min: 0, width: 12 },
      ),
    );

  // Repeated panels fill their row to the right, so the bands get a row of their own.
  b.withRow(new RowBuilder('TCP connect bands per target')).withPanel(
    timeseries(
      'TCP connect band: $tcp_target',
      'Spread of the TCP handshake times of each run to this target from the selected AZs: the band runs from the fastest to the slowest connect, the lines are the median and p90.',
      [
        {
          expr: `min(probe_tcp_connect_seconds{quantile="0", ${SEL}, target=~"$tcp_target"})`,
          legend: 'min',
        },
        {
          expr: `avg(probe_tcp_connect_seconds{quantile="0.5", ${SEL}, target=~"$tcp_target"})`,
          legend: 'p50',
        },
        {
          expr: `avg(probe_tcp_connect_seconds{quantile="0.9", ${SEL}, target=~"$tcp_target"})`,
          legend: 'p90',
        },
        {
          expr: `max(probe_tcp_connect_seconds{quantile="1", ${SEL}, target=~"$tcp_target"})`,
          legend: 'max',
        },
      ],
      { unit: 's', width: 8, repeat: 'tcp_target', min: 0 },
    )
      .overrideByName('max', [
        { id: 'custom.fillBelowTo', value: 'min' },
        { id: 'custom.lineWidth', value: 0 },
        { id: 'custom.fillOpacity', value: 25 },
      ])
      .overrideByName('min', [
        { id: 'custom.lineWidth', value: 0 },
        { id: 'custom.fillOpacity', value: 0 },
      ]),
  );

  // Read from the detection rules' recording (lib/observability/rules/probes.yml, docs/detection.md):
  // each degraded path with the broadest locus that holds, the same label the alerts carry.
  b.withRow(new RowBuilder('Degradation: where is it'))
    .withPanel(
      timeseries(
        'Degraded paths by locus',
        'Paths whose latency, loss or jitter is beyond their own baseline now (before any alert delay), by locus: target (every source sees it), source_az (one AZ ID sees it on every target), region_pair (every path between two regions), path (one route). The alerts carry the same locus label; only the broadest one notifies.',
        [{ expr: `count by (locus, signal) (${DEGRADED})`, legend: '{{locus}}: {{signal}}' }],
        { unit: 'short', bars: true, stacked: true, min: 0, noValue: 'no degraded path' },
      ),
    )
    .withPanel(
      table(
        'Degraded now',
        'Every degraded path with its locus and signal; path:probe_baseline:learning_hours lists the paths still learning a baseline (they cannot alert yet).',
        [
          {
            expr: `max by (locus, signal, source_region, source_az, target_region, target, address) (${DEGRADED})`,
            instant: true,
            format: 'table',
          },
        ],
        { noValue: 'no degraded path' },
      ),
    );

  b.withRow(new RowBuilder('Latency'))
    .withPanel(
      timeseries(
        'Median TCP connect by source AZ and target',
        'Median handshake time of each run (probe_tcp_connect_seconds, quantile 0.5).',
        [
          {
            expr: `avg by (source_az, target) (probe_tcp_connect_seconds{quantile="0.5", ${SEL}})`,
            legend: '{{source_az}} → {{target}}',
          },
        ],
        { unit: 's', min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'TCP jitter',
        'Mean absolute difference of consecutive connect times within a run (probe_jitter_seconds).',
        [
          {
            expr: `max by (source_az, target) (probe_jitter_seconds{${SEL}})`,
            legend: '{{source_az}} → {{target}}',
          },
        ],
        { unit: 's', min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'HTTP phases',
        'Where an HTTP(S) request spends its time: dns, connect, tls, ttfb (time to first byte), transfer (probe_http_phase_seconds), averaged over the selected AZs.',
        [
          {
            expr: `avg by (target, phase) (probe_http_phase_seconds{${SEL}})`,
            legend: '{{target}} {{phase}}',
          },
        ],
        { unit: 's', stacked: true, min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'DNS lookup time',
        'Time to answer of each DNS target, from each source AZ (probe_dns_lookup_seconds).',
        [
          {
            expr: `max by (source_az, target) (probe_dns_lookup_seconds{${SEL}})`,
            legend: '{{source_az}} → {{target}}',
          },
        ],
        { unit: 's', min: 0 },
      ),
    );

  b.withRow(new RowBuilder('Loss and success'))
    .withPanel(
      timeseries(
        'TCP loss',
        'Share of TCP handshakes lost per run: failed, or completed only after a SYN retransmission (probe_loss_ratio).',
        [
          {
            expr: `max by (source_az, target) (probe_loss_ratio{${SEL}})`,
            legend: '{{source_az}} → {{target}}',
          },
        ],
        { unit: 'percentunit', min: 0, max: 1, thresholds: LOSS_STEPS },
      ),
    )
    .withPanel(
      timeseries(
        'Success by target',
        'Share of successful probes per target over the rate interval, all selected source AZs and addresses together.',
        [
          {
            expr: `avg by (target) (avg_over_time(probe_success{${SEL}}[$__rate_interval]))`,
            legend: '{{target}}',
          },
        ],
        { unit: 'percentunit', min: 0, max: 1, thresholds: RED_BELOW_99 },
      ),
    )
    .withPanel(
      timeseries(
        'Failures by reason',
        'Failed probes per target and reason (probe_failure_reason: dns, refused, timeout, tls, status, cert_expiry, ...).',
        [
          {
            expr: `sum by (target, reason) (probe_failure_reason{${SEL}})`,
            legend: '{{target}}: {{reason}}',
          },
        ],
        { unit: 'short', bars: true, stacked: true, noValue: 'no failures' },
      ),
    )
    .withPanel(
      table(
        'Failing now',
        'Every address whose latest run failed, with the source AZ and the reason.',
        [
          {
            expr: `max by (source_region, source_az, target, address, kind, reason) (probe_failure_reason{${SEL}})`,
            instant: true,
            format: 'table',
          },
        ],
        { noValue: 'nothing failing' },
      ),
    )
    .withPanel(
      timeseries(
        'HTTP status code',
        'Status code of the last response of each HTTP(S) target (0 when there was none).',
        [{ expr: `max by (target) (probe_http_status_code{${SEL}})`, legend: '{{target}}' }],
        { unit: 'none', decimals: 0 },
      ),
    );

  b.withRow(new RowBuilder('Certificates')).withPanel(
    barGauge(
      'Days until certificate expiry',
      'Days until the earliest-expiring certificate of each HTTPS target expires; probes fail with reason cert_expiry below the target certMinDays.',
      [
        {
          expr: `min by (target) (probe_ssl_earliest_cert_expiry{${SEL}} - time()) / 86400`,
          legend: '{{target}}',
          instant: true,
        },
      ],
      { unit: 'd', decimals: 0, min: 0, thresholds: CERT_DAYS, width: 24 },
    ),
  );

  b.withRow(new RowBuilder('Probe runs'))
    .withPanel(
      timeseries(
        'Run duration',
        'Wall time of each probe run, discovery and write included (probe_run_duration_seconds); the function timeout bounds it.',
        [
          {
            expr: `max by (source_region, source_az) (probe_run_duration_seconds{${SRC}})`,
            legend: '{{source_region}} {{source_az}}',
          },
        ],
        { unit: 's', min: 0, width: 8 },
      ),
    )
    .withPanel(
      timeseries(
        'Targets probed and timed out',
        'Addresses measured per run, and those reported as deadline failures because the run ran out of time.',
        [
          { expr: `sum by (source_az) (probe_run_targets{${SRC}})`, legend: '{{source_az}} probed' },
          { expr: `sum by (source_az) (probe_run_timed_out{${SRC}})`, legend: '{{source_az}} timed out' },
        ],
        { unit: 'short', min: 0, width: 8 },
      ),
    )
    .withPanel(
      timeseries(
        'Discovery',
        'Targets found per discovery origin (static, cloudmap, ec2, mesh), and failed lookups per configured source.',
        [
          { expr: `max by (origin) (probe_discovery_targets{${SRC}})`, legend: '{{origin}} targets' },
          { expr: `max by (origin) (probe_discovery_failures{${SRC}})`, legend: '{{origin}} failures' },
        ],
        { unit: 'short', min: 0, width: 8 },
      ),
    );

  return finalize(b);
}
