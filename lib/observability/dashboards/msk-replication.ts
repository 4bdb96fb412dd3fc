/**
 * MSK replication dashboard: one MSK rollback execution (or several) from two sources that share the
 * execution labels (`execution`, `rollback`, `source_cluster`, `target_cluster`, `direction`):
 * - the replication loop's own samples (lambdas/msk-rollback/metrics.ts): lag per partition and in
 *   total, the lag gate, how long it has been open, the phase, task health and restarts;
 * - MirrorMaker 2's JMX metrics as the JMX exporter names them and the ADOT sidecar remote-writes
 *   them (replication latency, record age, throughput, checkpoints, Connect tasks), see `MM2_METRICS`.
 */
import { BigValueTextMode } from '@grafana/grafana-foundation-sdk/common';
import { MappingType, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import {
  barGauge,
  baseDashboard,
  type DashboardDefinition,
  finalize,
  labelVariable,
  stat,
  table,
  timeseries,
  warnFrom,
} from './common.ts';

/** UID of the MSK replication dashboard. */
export const MSK_REPLICATION_DASHBOARD_UID = 'observatory-msk-replication';

/**
 * MirrorMaker 2 series the dashboard reads, as the JMX exporter rules of the MM2 image name them
 * (lib/msk-rollback/mm2-image/jmx-exporter.yml: `mm2_<attribute>`, dashes to underscores, counters with
 * `_total`; labels target, topic, partition, group) with the execution labels the ADOT sidecar adds.
 * The dashboards test runs MM2's MBeans through those rules and fails when a name here is not produced.
 */
export const MM2_METRICS = {
  replicationLatencyAvg: 'mm2_replication_latency_ms_avg',
  replicationLatencyMax: 'mm2_replication_latency_ms_max',
  recordAgeAvg: 'mm2_record_age_ms_avg',
  recordAgeMax: 'mm2_record_age_ms_max',
  recordCount: 'mm2_record_count_total',
  byteCount: 'mm2_byte_count_total',
  checkpointLatencyAvg: 'mm2_checkpoint_latency_ms_avg',
  checkpointLatencyMax: 'mm2_checkpoint_latency_ms_max',
  workerTasks: 'mm2_worker_task_count',
  taskRecordErrors: 'mm2_task_total_record_errors_total',
} as const;

const EXEC = 'execution=~"$execution"';
/** The labels every sample of an execution carries. */
const EXEC_LABELS = 'execution, rollback, source_cluster, target_cluster, direction';
const TOPIC = 'execution=~"$execution", topic=~"$topic"';

/** Builds the MSK replication dashboard. */
export function mskReplicationDashboard(): DashboardDefinition {
  const b = baseDashboard(
    MSK_REPLICATION_DASHBOARD_UID,
    'Infra Observatory / MSK replication',
    'MSK rollback executions: MirrorMaker 2 lag against the gate, remaining records and ETA, replication latency, record age, throughput and task health.',
  )
    .time({ from: 'now-6h', to: 'now' })
    .withVariable(labelVariable('execution', 'msk_rollback_phase', 'execution', { label: 'Execution' }))
    .withVariable(
      labelVariable('topic', 'msk_rollback_lag_records{execution=~"$execution"}', 'topic', {
        label: 'Topic',
      }),
    );

  b.withRow(new RowBuilder('Execution'))
    .withPanel(
      stat(
        'Phase',
        'Phase of the latest poll in the time range: converge (replicating until the lag stays under the gate) or drain (after approval, until the lag is at the drain gate).',
        [
          {
            expr: `topk by (execution) (1, max by (execution, phase) (max_over_time(timestamp(msk_rollback_phase{${EXEC}})[$__range:1m])))`,
            legend: '{{phase}}',
            instant: true,
          },
        ],
        { width: 4 },
      ).textMode(BigValueTextMode.Name),
    )
    .withPanel(
      stat(
        'Total lag',
        'Records on the source that MirrorMaker 2 had not replicated at the latest poll in the time range, over every selected execution.',
        [{ expr: `sum(last_over_time(msk_rollback_lag_records_total{${EXEC}}[$__range]))`, instant: true }],
        { unit: 'short', width: 4 },
      ),
    )
    .withPanel(
      stat(
        'Lag gate',
        'The lag at or below which the gate was open at the latest poll (the converge gate, or the drain gate after approval).',
        [{ expr: `max(last_over_time(msk_rollback_lag_gate_records{${EXEC}}[$__range]))`, instant: true }],
        { unit: 'short', width: 4 },
      ),
    )
    .withPanel(
      stat(
        'Gate open for',
        'How long every poll had seen the lag at or below the gate, at the latest poll; approval is requested after the hold period.',
        [{ expr: `max(last_over_time(msk_rollback_gate_open_seconds{${EXEC}}[$__range]))`, instant: true }],
        { unit: 's', width: 4 },
      ),
    )
    .withPanel(
      stat(
        'MM2 task',
        'Whether the MirrorMaker 2 task was running at the latest poll in the time range.',
        [{ expr: `min(last_over_time(msk_rollback_task_up{${EXEC}}[$__range]))`, instant: true }],
        {
          width: 4,
          thresholds: [
            { value: null, color: 'red' },
            { value: 1, color: 'green' },
          ],
        },
      ).mappings([
        {
          type: MappingType.ValueToText,
          options: { '0': { text: 'down', color: 'red' }, '1': { text: 'up', color: 'green' } },
        },
      ]),
    )
    .withPanel(
      stat(
        'Task restarts',
        'Restarts of the MM2 task in this execution; the rollback gives up after maxTaskRestarts.',
        [{ expr: `max(last_over_time(msk_rollback_task_restarts_total{${EXEC}}[$__range]))`, instant: true }],
        {
          unit: 'short',
          width: 4,
          thresholds: warnFrom(1, 'orange'),
        },
      ),
    )
    .withPanel(
      table(
        'Executions',
        'Every execution polled in the time range: its clusters and direction, when it was last polled and how often its MM2 task was restarted.',
        [
          {
            expr: `max by (${EXEC_LABELS}) (max_over_time(timestamp(msk_rollback_phase{${EXEC}})[$__range:1m])) * 1000`,
            instant: true,
            format: 'table',
          },
          {
            expr: `max by (${EXEC_LABELS}) (last_over_time(msk_rollback_task_restarts_total{${EXEC}}[$__range]))`,
            instant: true,
            format: 'table',
          },
        ],
        {
          transformations: [
            { id: 'merge', options: {} },
            {
              id: 'organize',
              options: {
                excludeByName: { Time: true },
                renameByName: { 'Value #A': 'last poll', 'Value #B': 'task restarts' },
              },
            },
          ],
          width: 24,
          height: 6,
        },
      ).overrideByName('last poll', [{ id: 'unit', value: 'dateTimeAsIso' }]),
    );

  b.withRow(new RowBuilder('Lag'))
    .withPanel(
      timeseries(
        'Total lag and gate',
        'Total replication lag per execution against the gate of its phase.',
        [
          {
            expr: `sum by (execution) (msk_rollback_lag_records_total{${EXEC}})`,
            legend: '{{execution}} lag',
          },
          {
            expr: `max by (execution) (msk_rollback_lag_gate_records{${EXEC}})`,
            legend: '{{execution}} gate',
          },
        ],
        { unit: 'short', min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Remaining records',
        "Records MirrorMaker 2 still has to copy, per execution (msk_rollback_remaining_records, written by every poll): the lag counted from the later of MM2's position and the source's end offsets when the task started, so a reverse flow counts only what was written since.",
        [
          {
            expr: `sum by (execution) (msk_rollback_remaining_records{${EXEC}})`,
            legend: '{{execution}}',
          },
        ],
        { unit: 'short', min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'ETA',
        'Estimated time until the remaining records are copied, per execution, at the replication rate the polls measured (msk_rollback_eta_seconds); no value while the lag is not shrinking.',
        [{ expr: `max by (execution) (msk_rollback_eta_seconds{${EXEC}})`, legend: '{{execution}}' }],
        { unit: 's', min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Lag by topic',
        'Replication lag per source topic (msk_rollback_lag_records, summed over partitions).',
        [{ expr: `sum by (topic) (msk_rollback_lag_records{${TOPIC}})`, legend: '{{topic}}' }],
        { unit: 'short', min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Partitions behind',
        'Partitions with any lag at each poll.',
        [{ expr: `max by (execution) (msk_rollback_partitions_behind{${EXEC}})`, legend: '{{execution}}' }],
        { unit: 'short', min: 0 },
      ),
    )
    .withPanel(
      barGauge(
        'Partitions furthest behind',
        'The ten partitions with the most lag at the latest poll in the time range.',
        [
          {
            expr: `topk(10, last_over_time(msk_rollback_lag_records{${TOPIC}}[$__range]))`,
            legend: '{{topic}}-{{partition}}',
            instant: true,
          },
        ],
        { unit: 'short', min: 0 },
      ),
    );

  b.withRow(new RowBuilder('MirrorMaker 2'))
    .withPanel(
      timeseries(
        'Replication latency',
        'Time from a record being written to the source to being written to the target, per topic (MM2 replication-latency-ms).',
        [
          {
            expr: `avg by (topic) (${MM2_METRICS.replicationLatencyAvg}{${TOPIC}})`,
            legend: '{{topic}} avg',
          },
          {
            expr: `max by (topic) (${MM2_METRICS.replicationLatencyMax}{${TOPIC}})`,
            legend: '{{topic}} max',
          },
        ],
        { unit: 'ms', min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Record age',
        'Age of the records MM2 reads when it reads them: how far behind the source it consumes (MM2 record-age-ms).',
        [
          { expr: `avg by (topic) (${MM2_METRICS.recordAgeAvg}{${TOPIC}})`, legend: '{{topic}} avg' },
          { expr: `max by (topic) (${MM2_METRICS.recordAgeMax}{${TOPIC}})`, legend: '{{topic}} max' },
        ],
        { unit: 'ms', min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Throughput, records',
        'Records replicated per second per topic (rate of MM2 record-count).',
        [
          {
            expr: `sum by (topic) (rate(${MM2_METRICS.recordCount}{${TOPIC}}[$__rate_interval]))`,
            legend: '{{topic}}',
          },
        ],
        { unit: 'cps', min: 0, stacked: true },
      ),
    )
    .withPanel(
      timeseries(
        'Throughput, bytes',
        'Bytes replicated per second per topic (rate of MM2 byte-count).',
        [
          {
            expr: `sum by (topic) (rate(${MM2_METRICS.byteCount}{${TOPIC}}[$__rate_interval]))`,
            legend: '{{topic}}',
          },
        ],
        { unit: 'Bps', min: 0, stacked: true },
      ),
    )
    .withPanel(
      timeseries(
        'Checkpoint latency',
        'Time MM2 takes to translate and checkpoint consumer-group offsets to the target, per group (MM2 checkpoint-latency-ms); the offsets verified at the end come from these checkpoints.',
        [
          {
            expr: `avg by (group) (${MM2_METRICS.checkpointLatencyAvg}{${TOPIC}})`,
            legend: '{{group}} avg',
          },
          {
            expr: `max by (group) (${MM2_METRICS.checkpointLatencyMax}{${TOPIC}})`,
            legend: '{{group}} max',
          },
        ],
        { unit: 'ms', min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Connect tasks and record errors',
        'Connector tasks the MM2 worker runs, and records that failed in them per interval (Connect task-error-metrics).',
        [
          { expr: `max by (execution) (${MM2_METRICS.workerTasks}{${EXEC}})`, legend: '{{execution}} tasks' },
          {
            expr: `sum by (execution) (increase(${MM2_METRICS.taskRecordErrors}{${EXEC}}[$__rate_interval]))`,
            legend: '{{execution}} record errors',
          },
        ],
        { unit: 'short', min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Task health',
        'MM2 task up (1) or down (0) at each poll of the replication loop, and the restarts so far.',
        [
          { expr: `min by (execution) (msk_rollback_task_up{${EXEC}})`, legend: '{{execution}} up' },
          {
            expr: `max by (execution) (msk_rollback_task_restarts_total{${EXEC}})`,
            legend: '{{execution}} restarts',
          },
        ],
        { unit: 'short', min: 0, width: 24 },
      ),
    );

  return finalize(b);
}
