/**
 * The Grafana dashboards of Infra Observatory, as code (Grafana Foundation SDK), and their export to
 * JSON files ready to import or publish.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DashboardDefinition } from './common.ts';
import { mskReplicationDashboard } from './msk-replication.ts';
import { networkDashboard } from './network.ts';
import { pipelineHealthDashboard } from './pipeline-health.ts';
import { utilizationDashboard } from './utilization.ts';

export {
  DASHBOARD_TAG,
  DATASOURCE_NAME,
  DATASOURCE_UID,
  type DashboardDefinition,
} from './common.ts';
export { MM2_METRICS, MSK_REPLICATION_DASHBOARD_UID } from './msk-replication.ts';
export { NETWORK_DASHBOARD_UID } from './network.ts';
export { PIPELINE_HEALTH_DASHBOARD_UID } from './pipeline-health.ts';
export { UTILIZATION_DASHBOARD_UID } from './utilization.ts';

/** Every dashboard, in menu order: Network, MSK replication, Utilization, Pipeline health. */
export function buildDashboards(): DashboardDefinition[] {
  return [networkDashboard(), mskReplicationDashboard(), utilizationDashboard(), pipelineHealthDashboard()];
}

/**
 * Serializes a dashboard the way it is exported: two-space JSON with a final newline, so the files
 * are stable across runs and diff well.
 */
export function dashboardJson(definition: DashboardDefinition): string {
  return `${JSON.stringify(definition.dashboard, null, 2)}\n`;
}

/**
 * Writes one `<uid>.json` per dashboard into a directory (created when missing).
 * @param dir output directory
 * @param dashboards the dashboards
 * @default dashboards - buildDashboards()
 * @returns the paths written, in order
 */
export function writeDashboards(
  dir: string,
  dashboards: DashboardDefinition[] = buildDashboards(),
): string[] {
  mkdirSync(dir, { recursive: true });
  return dashboards.map((d) => {
    const path = join(dir, d.fileName);
    writeFileSync(path, dashboardJson(d));
    return path;
  });
}
