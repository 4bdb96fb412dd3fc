/**
 * Monthly cost estimates from the AWS Price List Query API (GetProducts), for ranking findings by money.
 *
 * Estimates are on-demand list prices of the compute that an under-used resource keeps running
 * (instance hours, broker hours, Fargate vCPU and GB hours) over 730 hours a month. Storage, data
 * transfer, Reserved Instances, Savings Plans and credits are left out: the figure says what the
 * resource would cost at list price, a sound ranking key, not what the bill says.
 *
 * The Price List API answers in us-east-1, eu-central-1 and ap-south-1 only, whatever region is priced;
 * products are selected with the `regionCode` attribute.
 */
import { type Filter, GetProductsCommand, type PricingClient } from '@aws-sdk/client-pricing';
import type { Service } from './rows.ts';

/** Hours in an average month (8,760 / 12), as AWS's own calculator uses. */
export const HOURS_PER_MONTH = 730;

/** One GetProducts filter. */
export interface PriceFilter {
  readonly field: string;
  readonly value: string;
  /** @default 'TERM_MATCH' */
  readonly type?: 'TERM_MATCH' | 'CONTAINS';
}

/** Which product's hourly on-demand price to find. */
export interface PriceQuery {
  /** AmazonEC2, AmazonRDS, AmazonECS, AmazonMSK. */
  readonly serviceCode: string;
  readonly filters: readonly PriceFilter[];
  /** A regular expression the product's `usagetype` must match (for products told apart by usage type only). */
  readonly usageType?: string;
}

/** An hourly on-demand price. */
export interface HourlyPrice {
  readonly usd: number;
  readonly sku: string;
  /** The price dimension's description, e.g. "$0.107 per On Demand Linux m5.large Instance Hour". */
  readonly description: string;
}

/** Port: finds hourly on-demand prices. */
export interface PricePort {
  /** @returns the price, or undefined when no product matches */
  hourly(query: PriceQuery): Promise<HourlyPrice | undefined>;
}

/**
 * Reads the hourly on-demand price of one Price List item (one element of GetProducts' `PriceList`, a
 * JSON string). Picks the USD price per hour (unit `Hrs`, or `hours` as MSK and Fargate spell it) of
 * the first-tier dimension of each OnDemand term.
 * @param item the JSON text of one product
 * @param usageType optional pattern the product's usagetype must match
 * @returns the price, or undefined when the item has no hourly on-demand USD price
 */
export function parseHourlyPrice(item: string, usageType?: RegExp): HourlyPrice | undefined {
  const doc = JSON.parse(item) as {
    product?: { sku?: string; attributes?: Record<string, string> };
    terms?: { OnDemand?: Record<string, { priceDimensions?: Record<string, PriceDimension> }> };
  };
  if (usageType && !usageType.test(doc.product?.attributes?.usagetype ?? '')) return undefined;
  let best: HourlyPrice | undefined;
  for (const term of Object.values(doc.terms?.OnDemand ?? {})) {
    for (const dim of Object.values(term.priceDimensions ?? {})) {
      if (!/^(hrs|hours?)$/i.test(dim.unit ?? '') || (dim.beginRange ?? '0') !== '0') continue;
      const usd = Number(dim.pricePerUnit?.USD);
      if (!Number.isFinite(usd) || usd <= 0) continue;
      if (!best || usd < best.usd)
        best = { usd, sku: doc.product?.sku ?? '', description: dim.description ?? '' };
    }
  }
  return best;
}

interface PriceDimension {
  unit?: string;
  beginRange?: string;
  description?: string;
  pricePerUnit?: Record<string, string>;
}

/**
 * Prices from GetProducts. When several products match (an Aurora class has a Standard and an
 * I/O-Optimized product), the lowest hourly price is taken: an estimate that never overstates.
 */
export class AwsPriceList implements PricePort {
  /** GetProducts requests made (for tests and cost accounting). */
  requests = 0;

  /** @param client a PricingClient in us-east-1, eu-central-1 or ap-south-1 */
  constructor(private readonly client: PricingClient) {}

  async hourly(query: PriceQuery): Promise<HourlyPrice | undefined> {
    const filters: Filter[] = query.filters.map((f) => ({
      Field: f.field,
      Value: f.value,
      Type: f.type ?? 'TERM_MATCH',
    }));
    const pattern = query.usageType ? new RegExp(query.usageType) : undefined;
    let best: HourlyPrice | undefined;
    let token: string | undefined;
    do {
      this.requests++;
      const page = await this.client.send(
        new GetProductsCommand({
          ServiceCode: query.serviceCode,
          Filters: filters,
          FormatVersion: 'aws_v1',
          MaxResults: 100,
          NextToken: token,
        }),
      );
      for (const item of page.PriceList ?? []) {
        const price = parseHourlyPrice(typeof item === 'string' ? item : JSON.stringify(item), pattern);
        if (price && (!best || price.usd < best.usd)) best = price;
      }
      token = page.NextToken || undefined;
    } while (token);
    return best;
  }
}

/** Remembers prices (and misses) per query, sharing in-flight lookups: one report asks once per product. */
export class CachedPrices implements PricePort {
  private readonly cache = new Map<string, Promise<HourlyPrice | undefined>>();

  constructor(private readonly inner: PricePort) {}

  hourly(query: PriceQuery): Promise<HourlyPrice | undefined> {
    const key = JSON.stringify(query);
    let hit = this.cache.get(key);
    if (!hit) {
      hit = this.inner.hourly(query);
      // A failed lookup is not cached: the next report tries again.
      hit.catch(() => this.cache.delete(key));
      this.cache.set(key, hit);
    }
    return hit;
  }
}

/** What the cost of a resource depends on (a `resources` row). */
export interface PricedResource {
  readonly service: Service | string;
  readonly region: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly capacity: Readonly<Record<string, number>>;
}

/** An estimated monthly cost and how it was reached. */
export interface CostEstimate {
  /** USD per month at on-demand list price; undefined when the resource could not be priced. */
  readonly monthlyUsd?: number;
  /** How the figure was computed, or why there is none. */
  readonly basis: string;
}

const RDS_ENGINES: Record<string, string> = {
  postgres: 'PostgreSQL',
  mysql: 'MySQL',
  mariadb: 'MariaDB',
  'aurora-postgresql': 'Aurora PostgreSQL',
  'aurora-mysql': 'Aurora MySQL',
};

/**
 * The Price List `operatingSystem` of an EC2 `PlatformDetails` value. Licence add-ons (SQL Server) are
 * not priced: the estimate is the instance with its operating system.
 */
export function ec2OperatingSystem(platform: string | undefined): string {
  const p = platform ?? '';
  if (/windows/i.test(p)) return 'Windows';
  if (/red hat/i.test(p)) return 'RHEL';
  if (/suse/i.test(p)) return 'SUSE';
  if (/ubuntu pro/i.test(p)) return 'Ubuntu Pro';
  return 'Linux';
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const money = (usd: number) => `$${Number(usd.toPrecision(6))}`;

/**
 * The GetProducts queries that price a resource, with how many of each it runs, or why it cannot be priced.
 * @param r the resource
 */
export function priceQueriesFor(
  r: PricedResource,
): { parts: { query: PriceQuery; units: number; label: string }[] } | { unpriced: string } {
  const a = r.attributes;
  const regionCode = { field: 'regionCode', value: r.region };
  switch (r.service) {
    case 'ec2': {
      if (!a.instanceType) return { unpriced: 'no instanceType attribute' };
      const os = ec2OperatingSystem(a.platform);
      const tenancy = a.tenancy === 'dedicated' ? 'Dedicated' : a.tenancy === 'host' ? 'Host' : 'Shared';
      return {
        parts: [
          {
            label: `${a.instanceType} ${os}`,
            units: 1,
            query: {
              serviceCode: 'AmazonEC2',
              filters: [
                regionCode,
                { field: 'instanceType', value: a.instanceType },
                { field: 'operatingSystem', value: os },
                { field: 'tenancy', value: tenancy },
                { field: 'preInstalledSw', value: 'NA' },
                { field: 'capacitystatus', value: 'Used' },
                { field: 'licenseModel', value: 'No License required' },
              ],
            },
          },
        ],
      };
    }
    case 'rds': {
      if (!a.instanceClass) return { unpriced: 'no instanceClass attribute' };
      const engine = RDS_ENGINES[a.engine ?? ''];
      if (!engine) return { unpriced: `engine ${a.engine ?? '(none)'} is not priced (licence terms vary)` };
      const multiAz = a.multiAz === 'true' && !engine.startsWith('Aurora');
      return {
        parts: [
          {
            label: `${a.instanceClass} ${engine}${multiAz ? ' Multi-AZ' : ''}`,
            units: 1,
            query: {
              serviceCode: 'AmazonRDS',
              filters: [
                regionCode,
                { field: 'instanceType', value: a.instanceClass },
                { field: 'databaseEngine', value: engine },
                { field: 'deploymentOption', value: multiAz ? 'Multi-AZ' : 'Single-AZ' },
              ],
            },
          },
        ],
      };
    }
    case 'ecs': {
      if ((a.launchType ?? '').toUpperCase() !== 'FARGATE') {
        return {
          unpriced: `launch type ${a.launchType ?? '(unknown)'}: the cost is in the container instances`,
        };
      }
      const vcpu = r.capacity.vcpu;
      const memoryMiB = r.capacity.memoryMiB;
      const tasks = r.capacity.desiredCount ?? r.capacity.runningCount;
      if (vcpu === undefined || memoryMiB === undefined || tasks === undefined)
        return { unpriced: 'task size or count unknown' };
      const arm = (a.cpuArchitecture ?? '').toUpperCase() === 'ARM64' ? 'ARM-' : '';
      const fargate = (usage: string) => ({
        serviceCode: 'AmazonECS',
        filters: [regionCode, { field: 'usagetype', value: usage, type: 'CONTAINS' as const }],
        usageType: `^(?:[A-Z0-9]+-)?${escapeRegExp(usage)}$`,
      });
      return {
        parts: [
          {
            label: `${vcpu} vCPU x ${tasks} tasks`,
            units: vcpu * tasks,
            query: fargate(`Fargate-${arm}vCPU-Hours:perCPU`),
          },
          {
            label: `${memoryMiB / 1024} GB x ${tasks} tasks`,
            units: (memoryMiB / 1024) * tasks,
            query: fargate(`Fargate-${arm}GB-Hours`),
          },
        ],
      };
    }
    case 'msk': {
      if (!a.brokerType) return { unpriced: 'no brokerType attribute' };
      const brokers = r.capacity.brokers;
      if (brokers === undefined) return { unpriced: 'broker count unknown' };
      const usage = `Kafka.${a.brokerType.replace(/^kafka\./, '')}`;
      return {
        parts: [
          {
            label: `${brokers} x ${a.brokerType}`,
            units: brokers,
            query: {
              serviceCode: 'AmazonMSK',
              filters: [regionCode, { field: 'usagetype', value: usage, type: 'CONTAINS' }],
              usageType: `^(?:[A-Z0-9]+-)?${escapeRegExp(usage)}$`,
            },
          },
        ],
      };
    }
    default:
      return { unpriced: `service ${r.service} is not priced` };
  }
}

/**
 * Estimates the monthly on-demand cost of a resource.
 * @param r the resource
 * @param prices where prices come from (wrap in `CachedPrices`)
 */
export async function estimateMonthlyCost(r: PricedResource, prices: PricePort): Promise<CostEstimate> {
  const plan = priceQueriesFor(r);
  if ('unpriced' in plan) return { basis: plan.unpriced };
  let hourly = 0;
  const basis: string[] = [];
  for (const part of plan.parts) {
    const price = await prices.hourly(part.query);
    if (!price) return { basis: `no on-demand price found for ${part.label} in ${r.region}` };
    hourly += price.usd * part.units;
    basis.push(`${part.label} at ${money(price.usd)}/h`);
  }
  return {
    monthlyUsd: Math.round(hourly * HOURS_PER_MONTH * 100) / 100,
    basis: `${basis.join(' + ')} x ${HOURS_PER_MONTH} h`,
  };
}

/**
 * Stops asking after the first failure: when the Price List API is unreachable or credentials are
 * missing, every later lookup fails at once with the first error instead of waiting on its own timeout.
 */
export class FailFastPrices implements PricePort {
  private failure: Error | undefined;

  constructor(private readonly inner: PricePort) {}

  async hourly(query: PriceQuery): Promise<HourlyPrice | undefined> {
    if (this.failure) throw this.failure;
    try {
      return await this.inner.hourly(query);
    } catch (err) {
      this.failure = err as Error;
      throw err;
    }
  }
}
