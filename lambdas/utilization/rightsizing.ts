/**
 * Rightsizing (pure): for one EC2 instance, RDS instance, ECS service on Fargate or MSK cluster and
 * what was observed of it over the policy window, the cheapest option that still fits.
 *
 * The rules, in order, for every candidate cheaper than the current option:
 * 1. CPU: projected p95 = observed p95 x current vCPU x current perf x current units / (candidate
 *    vCPU x candidate perf x candidate units) must stay at or below `cpuTargetPercent` (units: MSK
 *    brokers; perf from rightsizing-catalog.ts; Fargate perf 1). A burstable candidate must also stay
 *    at or below its CPU baseline, or it would live on credits.
 * 2. Memory, where measured (EC2 CloudWatch agent `mem_used_percent`, ECS `MemoryUtilization`, RDS
 *    `FreeableMemory`): observed p95 used GiB <= candidate GiB x (1 - `memoryHeadroomPercent`).
 *    Without memory data the advice is CPU-only and says so.
 * 3. Network: EC2 the busiest period's in+out rate <= the candidate's baseline bandwidth; MSK per
 *    broker max(in x RF, out + in x (RF - 1)) / brokers <= baseline, RF = 3 (replication traffic is
 *    not in BytesIn/OutPerSec). MSK storage: the cluster's EBS spread over fewer brokers stays within
 *    the per-broker maximum. EBS (EC2, RDS) does not change with the class and is not checked.
 *
 * Candidates: the current family (every size), the current generation of its category, Graviton
 * only where the platform allows it:
 * - EC2: `PlatformDetails` (discovery's `platform`): Linux/UNIX, Red Hat, SUSE and Ubuntu Pro run on
 *   Graviton; Windows (and anything else) does not. An instance already on Graviton stays on it.
 * - RDS: the engine (MySQL, MariaDB, PostgreSQL, Aurora: yes; Oracle, SQL Server: no). Aurora offers
 *   no burstable class below medium.
 * - ECS: the task definition's runtime platform (`operatingSystemFamily`): Linux yes, Windows no.
 * - MSK: M5 and M7g brokers both; t3.small is not a production broker and never recommended.
 */
import type { RightsizingPolicy } from '#contracts/utilization';
import { ec2OperatingSystem, estimateMonthlyCost, HOURS_PER_MONTH, type PricePort } from './pricing.ts';
import {
  CATALOG_DATE,
  CURRENT_GENERATION,
  categoryOf,
  EC2_OPTIONS,
  FARGATE_RATES,
  FARGATE_SIZES,
  type InstanceOption,
  MSK_MAX_STORAGE_GIB_PER_BROKER,
  MSK_OPTIONS,
  RDS_OPTIONS,
} from './rightsizing-catalog.ts';
import type { Service } from './rows.ts';

/** Replication factor assumed when MSK broker network is checked. */
export const MSK_REPLICATION_FACTOR = 3;
const GIB = 1024 ** 3;

/** The resource as stored (a `resources` row). */
export interface SizedResource {
  readonly service: Service;
  readonly region: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly capacity: Readonly<Record<string, number>>;
}

/** What the report measured over the window (from metric_rows). */
export interface Observed {
  /** p95 of CPU (MSK: the busiest broker's user + system) in percent of the current option. */
  readonly cpuP95Percent: number;
  /** Days holding a CPU datapoint at or above that p95. */
  readonly cpuPeakDays: number;
  /** EC2 agent / ECS: p95 of memory used, percent of the current option's memory. */
  readonly memoryP95Percent?: number;
  /** RDS: the 5th percentile of FreeableMemory in bytes (the p95 of memory use). */
  readonly freeableMemoryP05Bytes?: number;
  /** EC2: the busiest period's NetworkIn + NetworkOut in bytes per second. */
  readonly networkMaxBytesPerSec?: number;
  /** MSK: the cluster's busiest BytesInPerSec and BytesOutPerSec (sums of broker maxima). */
  readonly bytesInMaxPerSec?: number;
  readonly bytesOutMaxPerSec?: number;
}

/** One option a resource can run as. */
export interface SizingOption {
  /** `m5.large`, `db.r6g.xlarge`, `3 x kafka.m7g.large`, `1 vCPU / 2 GB ARM64 x 2 tasks`. */
  readonly label: string;
  /** vCPU of one unit (instance, broker, task). */
  readonly vcpu: number;
  /** Memory of one unit in GiB. */
  readonly memoryGiB: number;
  /** Units: brokers, tasks, 1 for an instance. */
  readonly units: number;
  readonly perf: number;
  readonly graviton: boolean;
  readonly networkGbps?: number;
  readonly burstBaselinePercent?: number;
  /** The attributes and capacity pricing.ts prices this option by. */
  readonly attributes: Readonly<Record<string, string>>;
  readonly capacity: Readonly<Record<string, number>>;
  /** Monthly list price from the catalog (us-east-1); undefined when the catalog cannot price it. */
  readonly catalogMonthlyUsd?: number;
}

/** The options of a resource, or why it cannot be rightsized. */
export type OptionSet =
  | { readonly current: SizingOption; readonly candidates: SizingOption[]; readonly notes: string[] }
  | { readonly skip: string };

/** A price of an option, and where it came from. */
export interface OptionPrice {
  readonly monthlyUsd: number;
  readonly basis: string;
}

/** A recommendation. */
export interface Recommendation {
  readonly current: RecommendedOption;
  readonly recommended: RecommendedOption;
  /** Projected p95 CPU on the recommended option (percent). */
  readonly projectedCpuP95Percent: number;
  /** Projected p95 memory on the recommended option (percent); undefined when memory is not measured. */
  readonly projectedMemoryP95Percent?: number;
  readonly monthlySavingUsd: number;
  /** False: CPU-only advice, memory was not measured. */
  readonly memoryKnown: boolean;
  /** The rule the recommendation satisfies, in words. */
  readonly rule: string;
  readonly risks: string[];
  readonly evidence: Readonly<Record<string, number>>;
  readonly priceBasis: string;
}

/** Current or recommended option as reported. */
export interface RecommendedOption {
  readonly option: string;
  readonly vcpu: number;
  readonly memoryGiB: number;
  readonly units: number;
  readonly monthlyUsd: number;
}

const money = (v: number) => Math.round(v * 100) / 100;
const pct = (v: number) => `${Number(v.toFixed(1))}%`;

/** Catalog monthly price of `units` instances of an option. */
const catalogMonthly = (o: InstanceOption, units: number, factor = 1) =>
  money(o.hourlyUsd * units * factor * HOURS_PER_MONTH);

function instanceOption(
  o: InstanceOption,
  units: number,
  attributes: Record<string, string>,
  capacity: Record<string, number>,
  catalogMonthlyUsd: number | undefined,
  label = o.name,
): SizingOption {
  return {
    label,
    vcpu: o.vcpu,
    memoryGiB: o.memoryGiB,
    units,
    perf: o.perf,
    graviton: o.graviton,
    networkGbps: o.networkGbps,
    ...(o.burstBaselinePercent === undefined ? {} : { burstBaselinePercent: o.burstBaselinePercent }),
    attributes,
    capacity,
    ...(catalogMonthlyUsd === undefined ? {} : { catalogMonthlyUsd }),
  };
}

/** Families a current family may move to: itself and the current generation of its category. */
function familiesFor(
  family: string,
  prefix: string,
  table: ReadonlyMap<string, InstanceOption>,
  graviton: 'allowed' | 'only' | 'never',
): Set<string> {
  const known = new Set([...table.values()].map((o) => o.family));
  const wanted = [family, ...(CURRENT_GENERATION[categoryOf(family)] ?? []).map((f) => prefix + f)];
  const isGraviton = (f: string) => [...table.values()].find((o) => o.family === f)?.graviton ?? false;
  return new Set(
    wanted.filter(
      (f) =>
        known.has(f) && (graviton === 'allowed' || (graviton === 'only' ? isGraviton(f) : !isGraviton(f))),
    ),
  );
}

/** EC2 platforms (`PlatformDetails`) that run on Graviton. */
const GRAVITON_EC2_PLATFORMS = /^(linux\/unix|red hat enterprise linux|suse linux|ubuntu pro)/i;
/** RDS engines with Graviton classes. */
const GRAVITON_RDS_ENGINES = new Set(['postgres', 'mysql', 'mariadb', 'aurora-postgresql', 'aurora-mysql']);
/** Aurora has no micro or small classes. */
const AURORA_TOO_SMALL = /\.t\d+g?\.(micro|small)$/;

/**
 * The current option of a resource and the candidates it may move to (pure).
 * @param r the resource
 */
export function optionsFor(r: SizedResource): OptionSet {
  const a = r.attributes;
  switch (r.service) {
    case 'ec2': {
      const current = EC2_OPTIONS.get(a.instanceType ?? '');
      if (!current) return { skip: `instance type ${a.instanceType ?? '(unknown)'} is not in the table` };
      const platform = a.platform ?? '';
      const linux = ec2OperatingSystem(platform) === 'Linux';
      const gravitonOk = GRAVITON_EC2_PLATFORMS.test(platform);
      const notes = gravitonOk
        ? []
        : [`Graviton excluded: platform ${platform || '(unknown)'} has no arm64 build`];
      const families = familiesFor(
        current.family,
        '',
        EC2_OPTIONS,
        current.graviton ? 'only' : gravitonOk ? 'allowed' : 'never',
      );
      const make = (o: InstanceOption) =>
        instanceOption(
          o,
          1,
          { ...a, instanceType: o.name },
          { vcpu: o.vcpu, memoryMiB: o.memoryGiB * 1024 },
          linux ? catalogMonthly(o, 1) : undefined,
        );
      return {
        current: make(current),
        candidates: [...EC2_OPTIONS.values()]
          .filter((o) => families.has(o.family) && o.name !== current.name)
          .map(make),
        notes,
      };
    }
    case 'rds': {
      const current = RDS_OPTIONS.get(a.instanceClass ?? '');
      if (!current) return { skip: `instance class ${a.instanceClass ?? '(unknown)'} is not in the table` };
      const engine = a.engine ?? '';
      const gravitonOk = GRAVITON_RDS_ENGINES.has(engine);
      const aurora = engine.startsWith('aurora');
      const multiAz = a.multiAz === 'true' && !aurora;
      // The catalog holds RDS for PostgreSQL prices; other engines are priced by the Price List only.
      const catalogOk = engine === 'postgres';
      const families = familiesFor(
        current.family,
        'db.',
        RDS_OPTIONS,
        current.graviton ? (gravitonOk ? 'only' : 'never') : gravitonOk ? 'allowed' : 'never',
      );
      const make = (o: InstanceOption) =>
        instanceOption(
          o,
          1,
          { ...a, instanceClass: o.name },
          { vcpu: o.vcpu, memoryMiB: o.memoryGiB * 1024 },
          catalogOk ? catalogMonthly(o, 1, multiAz ? 2 : 1) : undefined,
        );
      return {
        current: make(current),
        candidates: [...RDS_OPTIONS.values()]
          .filter(
            (o) =>
              families.has(o.family) && o.name !== current.name && !(aurora && AURORA_TOO_SMALL.test(o.name)),
          )
          .map(make),
        notes: gravitonOk
          ? []
          : [`Graviton excluded: engine ${engine || '(unknown)'} has no Graviton classes`],
      };
    }
    case 'ecs': {
      if ((a.launchType ?? '').toUpperCase() !== 'FARGATE')
        return { skip: `launch type ${a.launchType ?? '(unknown)'}: size the container instances instead` };
      const vcpu = r.capacity.vcpu;
      const memoryMiB = r.capacity.memoryMiB;
      const tasks = r.capacity.desiredCount ?? r.capacity.runningCount;
      if (vcpu === undefined || memoryMiB === undefined || !tasks)
        return { skip: 'task size or count unknown' };
      const windows = /^windows/i.test(a.operatingSystemFamily ?? '');
      const arm = (a.cpuArchitecture ?? '').toUpperCase() === 'ARM64';
      const make = (size: { vcpu: number; memoryGiB: number }, arm64: boolean): SizingOption => {
        const rate = arm64 ? FARGATE_RATES.arm64 : FARGATE_RATES.x86;
        return {
          label: `${size.vcpu} vCPU / ${size.memoryGiB} GB${arm64 ? ' ARM64' : ''} x ${tasks} tasks`,
          vcpu: size.vcpu,
          memoryGiB: size.memoryGiB,
          units: tasks,
          perf: 1,
          graviton: arm64,
          attributes: { ...a, cpuArchitecture: arm64 ? 'ARM64' : 'X86_64' },
          capacity: { ...r.capacity, vcpu: size.vcpu, memoryMiB: size.memoryGiB * 1024, desiredCount: tasks },
          // Windows tasks also pay an OS licence per vCPU the catalog does not hold.
          ...(windows
            ? {}
            : {
                catalogMonthlyUsd: money(
                  (size.vcpu * rate.vcpuHourUsd + size.memoryGiB * rate.gbHourUsd) * tasks * HOURS_PER_MONTH,
                ),
              }),
        };
      };
      const current = make({ vcpu, memoryGiB: memoryMiB / 1024 }, arm);
      const architectures = arm ? [true] : windows ? [false] : [false, true];
      return {
        current,
        candidates: architectures.flatMap((arm64) =>
          FARGATE_SIZES.filter(
            (s) => arm64 !== arm || s.vcpu !== vcpu || s.memoryGiB * 1024 !== memoryMiB,
          ).map((s) => make(s, arm64)),
        ),
        notes: windows ? ['Graviton excluded: Windows containers do not run on ARM64 Fargate'] : [],
      };
    }
    case 'msk': {
      const current = MSK_OPTIONS.get(a.brokerType ?? '');
      const brokers = r.capacity.brokers;
      if (!current) return { skip: `broker type ${a.brokerType ?? '(unknown)'} is not in the table` };
      if (!brokers) return { skip: 'broker count unknown' };
      // Brokers are spread evenly over the cluster's AZs (2 or 3): counts keep that multiple.
      const azs = brokers % 3 === 0 ? 3 : brokers % 2 === 0 ? 2 : 1;
      const make = (o: InstanceOption, n: number) =>
        instanceOption(
          o,
          n,
          { ...a, brokerType: o.name },
          { ...r.capacity, brokers: n, vcpu: o.vcpu, memoryMiB: o.memoryGiB * 1024 },
          catalogMonthly(o, n),
          `${n} x ${o.name}`,
        );
      const candidates: SizingOption[] = [];
      for (const o of MSK_OPTIONS.values()) {
        for (let n = azs; n <= brokers; n += azs) {
          if (o.name !== current.name || n !== brokers) candidates.push(make(o, n));
        }
      }
      return { current: make(current, brokers), candidates, notes: [] };
    }
  }
}

/** Why a candidate does not fit, or undefined when it does. */
function misfit(
  r: SizedResource,
  current: SizingOption,
  c: SizingOption,
  seen: Observed,
  policy: RightsizingPolicy,
  usedGiB: number | undefined,
): { reason: string } | { cpu: number; memory?: number } {
  const cpu =
    (seen.cpuP95Percent * current.vcpu * current.perf * current.units) / (c.vcpu * c.perf * c.units);
  if (cpu > policy.cpuTargetPercent)
    return { reason: `projected CPU p95 ${pct(cpu)} > ${policy.cpuTargetPercent}%` };
  if (c.burstBaselinePercent !== undefined && cpu > c.burstBaselinePercent)
    return { reason: `projected CPU p95 ${pct(cpu)} > burstable baseline ${c.burstBaselinePercent}%` };
  let memory: number | undefined;
  if (usedGiB !== undefined) {
    memory = (usedGiB / c.memoryGiB) * 100;
    if (usedGiB > c.memoryGiB * (1 - policy.memoryHeadroomPercent / 100))
      return {
        reason: `memory p95 ${usedGiB.toFixed(2)} GiB does not fit ${c.memoryGiB} GiB less ${policy.memoryHeadroomPercent}%`,
      };
  }
  if (r.service === 'ec2' && seen.networkMaxBytesPerSec !== undefined && c.networkGbps !== undefined) {
    const gbps = (seen.networkMaxBytesPerSec * 8) / 1e9;
    if (gbps > c.networkGbps)
      return { reason: `network peak ${gbps.toFixed(3)} Gbit/s > ${c.networkGbps} Gbit/s baseline` };
  }
  if (r.service === 'msk') {
    const perBroker = mskBrokerGbps(seen, c.units);
    if (perBroker !== undefined && c.networkGbps !== undefined && perBroker > c.networkGbps)
      return { reason: `broker network ${perBroker.toFixed(3)} Gbit/s > ${c.networkGbps} Gbit/s baseline` };
    const storage = r.capacity.storageGiB;
    if (storage !== undefined && (storage * current.units) / c.units > MSK_MAX_STORAGE_GIB_PER_BROKER)
      return { reason: `storage per broker would exceed ${MSK_MAX_STORAGE_GIB_PER_BROKER} GiB` };
  }
  return memory === undefined ? { cpu } : { cpu, memory };
}

/**
 * Orders fitting candidates: the cheaper; at equal price the one keeping the unit count (no broker
 * or task moves), then the one with more CPU headroom.
 */
function better(
  a: { c: SizingOption; p: OptionPrice; cpu: number },
  b: { c: SizingOption; p: OptionPrice; cpu: number },
  current: SizingOption,
): boolean {
  if (a.p.monthlyUsd !== b.p.monthlyUsd) return a.p.monthlyUsd < b.p.monthlyUsd;
  const keepsA = a.c.units === current.units;
  const keepsB = b.c.units === current.units;
  if (keepsA !== keepsB) return keepsA;
  return a.cpu < b.cpu;
}

/** MSK: the busier direction of one broker's traffic in Gbit/s with `brokers` brokers, replication included. */
export function mskBrokerGbps(seen: Observed, brokers: number): number | undefined {
  if (seen.bytesInMaxPerSec === undefined) return undefined;
  const rf = MSK_REPLICATION_FACTOR;
  const inbound = seen.bytesInMaxPerSec * rf;
  const outbound = (seen.bytesOutMaxPerSec ?? 0) + seen.bytesInMaxPerSec * (rf - 1);
  return (Math.max(inbound, outbound) * 8) / 1e9 / brokers;
}

/**
 * Observed p95 memory use in GiB per unit of the current option, or undefined when not measured.
 * @param r the resource (RDS: its memory from the catalog row)
 * @param current the current option
 * @param seen the observations
 */
export function usedMemoryGiB(r: SizedResource, current: SizingOption, seen: Observed): number | undefined {
  if (r.service === 'rds')
    return seen.freeableMemoryP05Bytes === undefined
      ? undefined
      : Math.max(0, current.memoryGiB - seen.freeableMemoryP05Bytes / GIB);
  return seen.memoryP95Percent === undefined ? undefined : (seen.memoryP95Percent / 100) * current.memoryGiB;
}

/**
 * The cheapest candidate that fits (pure), or why there is none.
 * @param r the resource
 * @param options its options (`optionsFor`)
 * @param seen what was observed over the window
 * @param policy CPU target and memory headroom
 * @param price the monthly price of an option (the same source for the current option and every
 *   candidate); undefined when it cannot be priced
 */
export function recommend(
  r: SizedResource,
  options: Exclude<OptionSet, { skip: string }>,
  seen: Observed,
  policy: RightsizingPolicy,
  price: (o: SizingOption) => OptionPrice | undefined,
): Recommendation | { none: string } {
  const { current } = options;
  const currentPrice = price(current);
  if (!currentPrice) return { none: `${current.label} cannot be priced` };
  const usedGiB = usedMemoryGiB(r, current, seen);
  let best: { c: SizingOption; p: OptionPrice; cpu: number; memory?: number } | undefined;
  let cheaper = 0;
  for (const c of options.candidates) {
    const p = price(c);
    if (!p || p.monthlyUsd >= currentPrice.monthlyUsd) continue;
    cheaper++;
    const fit = misfit(r, current, c, seen, policy, usedGiB);
    if ('reason' in fit) continue;
    if (!best || better({ c, p, ...fit }, best, current)) best = { c, p, ...fit };
  }
  if (!best)
    return {
      none: cheaper === 0 ? 'no cheaper option in the table' : `none of ${cheaper} cheaper options fits`,
    };
  const { c, p } = best;
  const risks = [...options.notes];
  if (usedGiB === undefined)
    risks.push('memory not measured: CPU-only advice, check memory use before changing');
  if (c.burstBaselinePercent !== undefined)
    risks.push(
      `burstable: projected CPU p95 ${pct(best.cpu)} against a ${c.burstBaselinePercent}% baseline; sustained use above it spends CPU credits`,
    );
  if (seen.cpuPeakDays <= 1)
    risks.push('the CPU peaks (values at or above the p95) fall on a single day: check it was not unusual');
  if (c.graviton && !current.graviton) risks.push(GRAVITON_RISK[r.service]);
  if (r.service === 'msk' && c.units < current.units)
    risks.push('fewer brokers: move partitions off the removed brokers first');
  if (r.service === 'ec2' && seen.networkMaxBytesPerSec === undefined) risks.push('network not measured');
  const as = (o: SizingOption, monthlyUsd: number): RecommendedOption => ({
    option: o.label,
    vcpu: o.vcpu,
    memoryGiB: o.memoryGiB,
    units: o.units,
    monthlyUsd: money(monthlyUsd),
  });
  return {
    current: as(current, currentPrice.monthlyUsd),
    recommended: as(c, p.monthlyUsd),
    projectedCpuP95Percent: best.cpu,
    ...(best.memory === undefined ? {} : { projectedMemoryP95Percent: best.memory }),
    monthlySavingUsd: money(currentPrice.monthlyUsd - p.monthlyUsd),
    memoryKnown: usedGiB !== undefined,
    rule:
      `cheapest option with projected CPU p95 ${pct(best.cpu)} <= ${policy.cpuTargetPercent}%` +
      (usedGiB === undefined
        ? ' (memory not measured)'
        : ` and memory p95 ${usedGiB.toFixed(2)} GiB within ${c.memoryGiB} GiB less ${policy.memoryHeadroomPercent}% headroom`),
    risks,
    evidence: {
      cpuP95Percent: seen.cpuP95Percent,
      cpuPeakDays: seen.cpuPeakDays,
      ...(usedGiB === undefined ? {} : { memoryUsedGiBP95: usedGiB }),
      ...(seen.networkMaxBytesPerSec === undefined
        ? {}
        : { networkMaxBytesPerSec: seen.networkMaxBytesPerSec }),
      ...(seen.bytesInMaxPerSec === undefined ? {} : { bytesInMaxPerSec: seen.bytesInMaxPerSec }),
      ...(seen.bytesOutMaxPerSec === undefined ? {} : { bytesOutMaxPerSec: seen.bytesOutMaxPerSec }),
    },
    priceBasis: p.basis === currentPrice.basis ? p.basis : `${currentPrice.basis} -> ${p.basis}`,
  };
}

const GRAVITON_RISK: Record<Service, string> = {
  ec2: 'moves to Graviton (arm64): the AMI and the software on it must be built for arm64',
  rds: 'moves to a Graviton class: the engine version must support it (upgrade first if not)',
  ecs: 'moves to ARM64: every container image must have a linux/arm64 variant',
  msk: 'moves to M7g (Graviton) brokers: the cluster must run a Kafka version M7g supports',
};

/** Catalog prices of a resource's options, for when the Price List has none. */
export function catalogPrice(o: SizingOption): OptionPrice | undefined {
  return o.catalogMonthlyUsd === undefined
    ? undefined
    : {
        monthlyUsd: o.catalogMonthlyUsd,
        basis: `catalog list price (us-east-1, ${CATALOG_DATE}) x ${HOURS_PER_MONTH} h`,
      };
}

/**
 * The price function `recommend` compares with: the Price List for the resource's region when it
 * prices the current option (candidates it cannot price are left out), else the catalog for every
 * option, so the saving never mixes two sources.
 * @param r the resource
 * @param options its options
 * @param prices the Price List port (a failing lookup counts as no price)
 */
export async function optionPrices(
  r: SizedResource,
  options: Exclude<OptionSet, { skip: string }>,
  prices: PricePort,
): Promise<(o: SizingOption) => OptionPrice | undefined> {
  const listed = async (o: SizingOption): Promise<OptionPrice | undefined> => {
    try {
      const cost = await estimateMonthlyCost(
        { service: r.service, region: r.region, attributes: o.attributes, capacity: o.capacity },
        prices,
      );
      return cost.monthlyUsd === undefined ? undefined : { monthlyUsd: cost.monthlyUsd, basis: cost.basis };
    } catch {
      return undefined;
    }
  };
  const current = await listed(options.current);
  if (!current) return catalogPrice;
  const known = new Map<SizingOption, OptionPrice>([[options.current, current]]);
  for (const c of options.candidates) {
    const p = await listed(c);
    if (p) known.set(c, p);
  }
  return (o) => known.get(o);
}
