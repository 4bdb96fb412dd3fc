/**
 * The probe plan of one region: what its probe functions measure. Pure; built at synth time from config
 * and bundled next to the handler (`probe-plan.json`), so a target list of any size never meets the
 * 4 KiB limit of Lambda environment variables or a schedule input's size. What only exists at deploy
 * time (endpoint IDs, the remote-write URL) goes in the environment instead.
 */
import type { ProbeRegionConfig, ProbesConfig, ProbeTargetConfig } from '../config/schema.ts';

/** File name of the plan inside the function's bundle. */
export const PROBE_PLAN_FILE = 'probe-plan.json';

/** What every probe function of a region runs each minute. */
export interface ProbePlan {
  readonly region: string;
  readonly attempts: number;
  readonly timeoutMs: number;
  readonly concurrency: number;
  readonly targets: ProbeTargetConfig[];
  readonly discovery: ProbesConfig['discovery'];
  /** AZ name -> AZ ID of every probe region's AZs (for `target_az_id`). */
  readonly zoneIds: Record<string, string>;
}

/**
 * Builds the plan of one probe region: the static targets whose `from` includes the region (or is unset),
 * the discovery settings, and the mesh endpoints.
 * @param probes the probes section
 * @param region the region's section
 */
export function buildProbePlan(probes: ProbesConfig, region: ProbeRegionConfig): ProbePlan {
  return {
    region: region.region,
    attempts: probes.attempts,
    timeoutMs: probes.timeoutMs,
    concurrency: probes.concurrency,
    targets: probes.targets.filter((t) => !t.from || t.from.includes(region.region)),
    discovery: probes.discovery,
    zoneIds: Object.fromEntries(
      probes.regions.flatMap((r) => r.availabilityZones.map((az) => [az.name, az.id])),
    ),
  };
}

/** TCP ports the probe functions of a region must be allowed to reach (for their security group egress). */
export function egressPorts(plan: ProbePlan): number[] {
  const ports = new Set<number>([443]);
  for (const t of plan.targets) {
    if (t.kind === 'tcp') ports.add(t.port);
    if (t.kind === 'http') {
      const url = new URL(t.url);
      ports.add(url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80);
      if (t.followRedirects) ports.add(80);
    }
  }
  for (const c of plan.discovery.cloudMap) if (c.port) ports.add(c.port);
  if (plan.discovery.ec2Tags) ports.add(plan.discovery.ec2Tags.defaultPort);
  return [...ports].sort((a, b) => a - b);
}
