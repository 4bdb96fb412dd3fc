/**
 * Seeds for the report tests: resources with hourly datapoints up to AS_OF, one batch per service, in
 * the shape the collector writes them.
 */
import type { Batch, MetricRow, ResourceRow, Service } from '#utilization/rows';

export const ACCOUNT = '111122223333';
export const REGION = 'eu-west-1';
export const AS_OF = new Date('2025-01-20T00:00:00Z');
export const HOUR = 3_600_000;

/** A resource and its hourly series; `value(h)` is the datapoint of hour h (0 = the oldest). */
export interface SeedResource {
  id: string;
  service: Service;
  type: string;
  state?: string;
  attributes?: Record<string, string>;
  capacity?: Record<string, number>;
  hasAgentMetrics?: boolean;
  /** Hours of data before AS_OF. */
  hours: number;
  metrics: {
    metric: string;
    statistic: MetricRow['statistic'];
    unit: MetricRow['unit'];
    value: (hour: number) => number;
  }[];
}

export const arnOf = (r: SeedResource) =>
  ({
    ec2: `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/${r.id}`,
    rds: `arn:aws:rds:${REGION}:${ACCOUNT}:db:${r.id}`,
    ecs: `arn:aws:ecs:${REGION}:${ACCOUNT}:service/apps/${r.id}`,
    msk: `arn:aws:kafka:${REGION}:${ACCOUNT}:cluster/${r.id}/8d5b6a1e-0f3c-4b1a-9e1f-2a3b4c5d6e7f-3`,
  })[r.service];

/** One batch per service holding hourly datapoints of its seeded resources. */
export function seedBatches(resources: SeedResource[]): Batch[] {
  const services = [...new Set(resources.map((r) => r.service))];
  return services.map((service) => {
    const mine = resources.filter((r) => r.service === service);
    const maxHours = Math.max(...mine.map((r) => r.hours));
    const start = new Date(AS_OF.getTime() - maxHours * HOUR);
    const rows: MetricRow[] = [];
    const res: ResourceRow[] = mine.map((r) => {
      const resourceArn = arnOf(r);
      for (let h = 0; h < r.hours; h++) {
        const periodStart = new Date(AS_OF.getTime() - (r.hours - h) * HOUR).toISOString();
        for (const m of r.metrics) {
          rows.push({
            resourceArn,
            accountId: ACCOUNT,
            region: REGION,
            service,
            resourceType: r.type,
            metric: m.metric,
            statistic: m.statistic,
            unit: m.unit,
            periodStart,
            periodSeconds: 3600,
            value: m.value(h),
          });
        }
      }
      return {
        resourceArn,
        accountId: ACCOUNT,
        region: REGION,
        service,
        resourceType: r.type,
        name: r.id,
        state: r.state ?? 'running',
        tags: {},
        capacity: r.capacity ?? {},
        attributes: r.attributes ?? {},
        hasAgentMetrics: r.hasAgentMetrics ?? false,
        observedAt: new Date(AS_OF.getTime() - 30 * 60_000).toISOString(),
      };
    });
    return {
      version: 1 as const,
      batchId: `seed-${service}`,
      shard: { accountId: ACCOUNT, region: REGION, service },
      window: { start: start.toISOString(), end: AS_OF.toISOString() },
      collectedAt: new Date(AS_OF.getTime() - 20 * 60_000).toISOString(),
      resources: res,
      rows,
    };
  });
}
