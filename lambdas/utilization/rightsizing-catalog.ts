/**
 * The facts rightsizing compares options by: vCPU, memory, baseline network bandwidth, relative
 * per-vCPU performance of the generation, Graviton or not, and an on-demand list price per hour, for
 * the EC2 instance types, RDS instance classes, MSK broker types and Fargate task sizes the
 * recommendations choose from (pure data, no I/O).
 *
 * Where the figures come from (transcribed 2025-06, not fetched at run time; the machine they were
 * written on had no route to AWS's pages, so they were not re-checked there: check a row against the
 * page before relying on a saving it alone decides):
 * - vCPU, memory, baseline network bandwidth and the burstable CPU baseline: the Amazon EC2 instance
 *   types specifications pages (general purpose, compute optimized, memory optimized, burstable
 *   "baseline performance / vCPU"). RDS classes and MSK brokers run on the EC2 type of the same name
 *   (`ec2TypeOf` in instance-types.ts), so they share its row.
 * - Prices: on-demand list prices in us-east-1 from the EC2 (Linux, shared tenancy), RDS (PostgreSQL
 *   Single-AZ; Multi-AZ is twice), MSK (provisioned broker hours) and Fargate (Linux) pricing pages.
 *   Within a family the price doubles with each size, so a family row carries its `.large` price.
 *   The report prices with the AWS Price List API for the resource's own region first (pricing.ts)
 *   and falls back to these figures only when the Price List has no answer, saying so in the basis.
 * - Relative performance per vCPU (`perf`, m5/c5/r5 = 1.00): AWS's own generation claims taken
 *   conservatively: 6th-generation Intel (m6i) "up to 15 % better price performance" -> 1.15, 7th
 *   (m7i) a further 15 % -> 1.30; Graviton2 (m6g, t4g) 1.00 (its claim is price performance, the
 *   price is already 20 % lower); Graviton3 (m7g) "up to 25 % better compute performance than
 *   Graviton2" -> 1.25. Burstable t3 1.00. These are coarse: a workload's own ratio can differ, which
 *   is why a recommendation keeps a CPU target well below 100 %.
 */

/** One instance-backed option (EC2 type, RDS class or MSK broker type). */
export interface InstanceOption {
  /** The name as the service spells it: `m5.large`, `db.r6g.xlarge`, `kafka.m7g.large`. */
  readonly name: string;
  /** `m5`, `db.r6g`, `kafka.m7g`. */
  readonly family: string;
  readonly vcpu: number;
  readonly memoryGiB: number;
  /** Baseline (sustained) network bandwidth in Gbit/s; the "up to" burst figure is not relied on. */
  readonly networkGbps: number;
  /** Relative performance per vCPU (m5 = 1.00). */
  readonly perf: number;
  readonly graviton: boolean;
  /** Burstable types: CPU baseline in percent of the whole instance; undefined for fixed performance. */
  readonly burstBaselinePercent?: number;
  /** On-demand list price per hour in us-east-1 (RDS: PostgreSQL Single-AZ). */
  readonly hourlyUsd: number;
}

/** The date the table's figures were transcribed, shown in a catalog-priced basis. */
export const CATALOG_DATE = '2025-06';

/** Sizes of the fixed-performance families: vCPU per size (memory is vCPU x the family's GiB per vCPU). */
const SIZES = { large: 2, xlarge: 4, '2xlarge': 8, '4xlarge': 16, '8xlarge': 32 } as const;
type Size = keyof typeof SIZES;
const SIZE_NAMES = Object.keys(SIZES) as Size[];

/** Baseline network Gbit/s per size, by the network class of a family (EC2 network specifications). */
const NETWORK: Record<string, Record<Size, number>> = {
  nitro5: { large: 0.75, xlarge: 1.25, '2xlarge': 2.5, '4xlarge': 5, '8xlarge': 10 },
  nitro6i: { large: 0.781, xlarge: 1.562, '2xlarge': 3.125, '4xlarge': 6.25, '8xlarge': 12.5 },
  graviton2: { large: 0.75, xlarge: 1.25, '2xlarge': 2.5, '4xlarge': 5, '8xlarge': 12 },
  graviton3: { large: 0.937, xlarge: 1.876, '2xlarge': 3.75, '4xlarge': 7.5, '8xlarge': 15 },
};

/** A fixed-performance EC2 family: its `.large` price; every size up doubles it. */
interface FamilyRow {
  readonly family: string;
  /** m (general purpose), c (compute), r (memory). */
  readonly category: 'm' | 'c' | 'r';
  readonly memoryGiBPerVcpu: number;
  readonly network: keyof typeof NETWORK;
  readonly perf: number;
  readonly graviton: boolean;
  readonly largeHourlyUsd: number;
}

/** | family | category | GiB/vCPU | network | perf | Graviton | .large $/h us-east-1 | */
// biome-ignore format: a table reads best one row per line
const EC2_FAMILIES: readonly FamilyRow[] = [
  { family: 'm5', category: 'm', memoryGiBPerVcpu: 4, network: 'nitro5', perf: 1, graviton: false, largeHourlyUsd: 0.096 },
  { family: 'm6i', category: 'm', memoryGiBPerVcpu: 4, network: 'nitro6i', perf: 1.15, graviton: false, largeHourlyUsd: 0.096 },
  { family: 'm7i', category: 'm', memoryGiBPerVcpu: 4, network: 'nitro6i', perf: 1.3, graviton: false, largeHourlyUsd: 0.1008 },
  { family: 'm6g', category: 'm', memoryGiBPerVcpu: 4, network: 'graviton2', perf: 1, graviton: true, largeHourlyUsd: 0.077 },
  { family: 'm7g', category: 'm', memoryGiBPerVcpu: 4, network: 'graviton3', perf: 1.25, graviton: true, largeHourlyUsd: 0.0816 },
  { family: 'c5', category: 'c', memoryGiBPerVcpu: 2, network: 'nitro5', perf: 1, graviton: false, largeHourlyUsd: 0.085 },
  { family: 'c6i', category: 'c', memoryGiBPerVcpu: 2, network: 'nitro6i', perf: 1.15, graviton: false, largeHourlyUsd: 0.085 },
  { family: 'c7i', category: 'c', memoryGiBPerVcpu: 2, network: 'nitro6i', perf: 1.3, graviton: false, largeHourlyUsd: 0.08925 },
  { family: 'c6g', category: 'c', memoryGiBPerVcpu: 2, network: 'graviton2', perf: 1, graviton: true, largeHourlyUsd: 0.068 },
  { family: 'c7g', category: 'c', memoryGiBPerVcpu: 2, network: 'graviton3', perf: 1.25, graviton: true, largeHourlyUsd: 0.0725 },
  { family: 'r5', category: 'r', memoryGiBPerVcpu: 8, network: 'nitro5', perf: 1, graviton: false, largeHourlyUsd: 0.126 },
  { family: 'r6i', category: 'r', memoryGiBPerVcpu: 8, network: 'nitro6i', perf: 1.15, graviton: false, largeHourlyUsd: 0.126 },
  { family: 'r7i', category: 'r', memoryGiBPerVcpu: 8, network: 'nitro6i', perf: 1.3, graviton: false, largeHourlyUsd: 0.1323 },
  { family: 'r6g', category: 'r', memoryGiBPerVcpu: 8, network: 'graviton2', perf: 1, graviton: true, largeHourlyUsd: 0.1008 },
  { family: 'r7g', category: 'r', memoryGiBPerVcpu: 8, network: 'graviton3', perf: 1.25, graviton: true, largeHourlyUsd: 0.1071 },
];

/** Burstable sizes: | size | vCPU | GiB | baseline Gbit/s | CPU baseline % of the instance | */
// biome-ignore format: a table reads best one row per line
const BURSTABLE_SIZES: readonly [string, number, number, number, number][] = [
  ['micro', 2, 1, 0.064, 10],
  ['small', 2, 2, 0.128, 20],
  ['medium', 2, 4, 0.256, 20],
  ['large', 2, 8, 0.512, 30],
  ['xlarge', 4, 16, 1.024, 40],
  ['2xlarge', 8, 32, 2.048, 40],
];
/** Burstable families: price per size in the order of BURSTABLE_SIZES (us-east-1). */
const BURSTABLE_FAMILIES: readonly { family: string; graviton: boolean; hourlyUsd: readonly number[] }[] = [
  { family: 't3', graviton: false, hourlyUsd: [0.0104, 0.0208, 0.0416, 0.0832, 0.1664, 0.3328] },
  { family: 't4g', graviton: true, hourlyUsd: [0.0084, 0.0168, 0.0336, 0.0672, 0.1344, 0.2688] },
];

/** RDS PostgreSQL Single-AZ price in us-east-1: the `.large` price of fixed families, every size of burstable ones. */
const RDS_PRICES: Readonly<Record<string, number | readonly number[]>> = {
  'db.m5': 0.178,
  'db.m6i': 0.178,
  'db.m6g': 0.159,
  'db.m7g': 0.168,
  'db.r5': 0.25,
  'db.r6i': 0.25,
  'db.r6g': 0.225,
  'db.r7g': 0.239,
  'db.t3': [0.018, 0.036, 0.072, 0.145, 0.29, 0.579],
  'db.t4g': [0.016, 0.032, 0.065, 0.129, 0.258, 0.517],
};
/** MSK broker-hour price of `.large` in us-east-1. */
const MSK_PRICES: Readonly<Record<string, number>> = { 'kafka.m5': 0.21, 'kafka.m7g': 0.204 };

const sizeFactor = (size: Size) => SIZES[size] / SIZES.large;
const round6 = (v: number) => Math.round(v * 1e6) / 1e6;

function ec2Options(): InstanceOption[] {
  const out: InstanceOption[] = [];
  for (const f of EC2_FAMILIES) {
    for (const size of SIZE_NAMES) {
      out.push({
        name: `${f.family}.${size}`,
        family: f.family,
        vcpu: SIZES[size],
        memoryGiB: SIZES[size] * f.memoryGiBPerVcpu,
        networkGbps: NETWORK[f.network]![size],
        perf: f.perf,
        graviton: f.graviton,
        hourlyUsd: round6(f.largeHourlyUsd * sizeFactor(size)),
      });
    }
  }
  for (const f of BURSTABLE_FAMILIES) {
    BURSTABLE_SIZES.forEach(([size, vcpu, memoryGiB, networkGbps, baseline], i) => {
      out.push({
        name: `${f.family}.${size}`,
        family: f.family,
        vcpu,
        memoryGiB,
        networkGbps,
        perf: 1,
        graviton: f.graviton,
        burstBaselinePercent: baseline,
        hourlyUsd: f.hourlyUsd[i]!,
      });
    });
  }
  return out;
}

/** Every EC2 type of the table, by name. */
export const EC2_OPTIONS: ReadonlyMap<string, InstanceOption> = new Map(ec2Options().map((o) => [o.name, o]));

/** An option of a service whose classes run on the EC2 type of the same name, at that service's price. */
function twinOptions(prefix: string, prices: Readonly<Record<string, number | readonly number[]>>) {
  const out: InstanceOption[] = [];
  for (const [family, price] of Object.entries(prices)) {
    const ec2Family = family.slice(prefix.length + 1);
    const twins = [...EC2_OPTIONS.values()].filter((o) => o.family === ec2Family);
    twins.forEach((twin, i) => {
      const size = twin.name.slice(ec2Family.length + 1);
      const hourlyUsd = Array.isArray(price)
        ? price[i]
        : round6((price as number) * sizeFactor(size as Size));
      if (hourlyUsd === undefined) return;
      out.push({ ...twin, name: `${prefix}.${twin.name}`, family, hourlyUsd });
    });
  }
  return new Map(out.map((o) => [o.name, o]));
}

/** RDS instance classes of the table, by name (db.m5.large ...). */
export const RDS_OPTIONS: ReadonlyMap<string, InstanceOption> = twinOptions('db', RDS_PRICES);
/** MSK broker types of the table, by name (kafka.m5.large ...). */
export const MSK_OPTIONS: ReadonlyMap<string, InstanceOption> = twinOptions('kafka', MSK_PRICES);

/** Category of a family name: the first letter of its EC2 family (m, c, r, t). */
export function categoryOf(family: string): string {
  return family.replace(/^(db|kafka)\./, '').charAt(0);
}

/**
 * The current-generation families of a category, x86 and Graviton (`CURRENT_GENERATION.m` for
 * general purpose EC2). RDS and MSK prefix them (`db.`, `kafka.`) and offer what their table has.
 */
export const CURRENT_GENERATION: Readonly<Record<string, readonly string[]>> = {
  m: ['m7i', 'm7g', 'm6i'],
  c: ['c7i', 'c7g'],
  r: ['r7i', 'r7g', 'r6i'],
  t: ['t3', 't4g'],
};

/** Fargate price per hour in us-east-1 (Linux): per vCPU and per GB of memory, x86 and ARM64. */
export const FARGATE_RATES = {
  x86: { vcpuHourUsd: 0.04048, gbHourUsd: 0.004445 },
  arm64: { vcpuHourUsd: 0.03238, gbHourUsd: 0.00356 },
} as const;

/** A Fargate task size. */
export interface FargateSize {
  readonly vcpu: number;
  readonly memoryGiB: number;
}

/**
 * The valid Fargate task sizes (ECS developer guide, "Task CPU and memory"): 0.25 vCPU with 0.5, 1
 * or 2 GB; 0.5 vCPU 1-4 GB; 1 vCPU 2-8 GB; 2 vCPU 4-16 GB; 4 vCPU 8-30 GB in 1 GB steps; 8 vCPU
 * 16-60 GB in 4 GB steps; 16 vCPU 32-120 GB in 8 GB steps.
 */
export const FARGATE_SIZES: readonly FargateSize[] = (() => {
  const out: FargateSize[] = [];
  const range = (vcpu: number, from: number, to: number, step: number) => {
    for (let gb = from; gb <= to; gb += step) out.push({ vcpu, memoryGiB: gb });
  };
  for (const gb of [0.5, 1, 2]) out.push({ vcpu: 0.25, memoryGiB: gb });
  range(0.5, 1, 4, 1);
  range(1, 2, 8, 1);
  range(2, 4, 16, 1);
  range(4, 8, 30, 1);
  range(8, 16, 60, 4);
  range(16, 32, 120, 8);
  return out;
})();

/** Most EBS storage one MSK broker can have (GiB). */
export const MSK_MAX_STORAGE_GIB_PER_BROKER = 16_384;
