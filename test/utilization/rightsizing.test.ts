/**
 * Rightsizing rules, each recommendation worked by hand from the tables in rightsizing-catalog.ts
 * (us-east-1 list prices, 730 hours a month, policy: CPU target 40 %, memory headroom 20 %).
 */
import { describe, expect, it } from 'vitest';
import { RightsizingPolicySchema } from '#contracts/utilization';
import { RIGHTSIZING_PREFILTER } from '#utilization/report-advice';
import {
  catalogPrice,
  type Observed,
  type OptionPrice,
  optionsFor,
  recommend,
  type SizedResource,
  type SizingOption,
} from '#utilization/rightsizing';
import { EC2_OPTIONS, FARGATE_SIZES, MSK_OPTIONS, RDS_OPTIONS } from '#utilization/rightsizing-catalog';

const policy = RightsizingPolicySchema.parse({});
const GIB = 1024 ** 3;
const MB = 1e6;

function advise(
  r: SizedResource,
  seen: Observed,
  price: (o: SizingOption) => OptionPrice | undefined = catalogPrice,
) {
  const options = optionsFor(r);
  if ('skip' in options) throw new Error(options.skip);
  return recommend(r, options, seen, policy, price);
}
const ec2 = (instanceType: string, platform = 'Linux/UNIX'): SizedResource => ({
  service: 'ec2',
  region: 'us-east-1',
  attributes: { instanceType, platform, tenancy: 'default' },
  capacity: {},
});
const seen = (o: Partial<Observed>): Observed => ({ cpuP95Percent: 10, cpuPeakDays: 5, ...o });

describe('EC2', () => {
  it('takes the cheapest current-generation size whose CPU, memory and network fit', () => {
    // m5.2xlarge: 8 vCPU, 32 GiB, perf 1.00, $0.096 x 4 = $0.384/h -> 0.384 x 730 = $280.32.
    // Memory used p95 = 25 % of 32 GiB = 8 GiB; needs 8 / (1 - 0.2) = 10 GiB -> xlarge (16 GiB) or up.
    // CPU: 10 % x 8 x 1.00 / (vCPU x perf) <= 40 -> vCPU x perf >= 2: every xlarge fits.
    // xlarge prices: m5 / m6i $0.192, m7i $0.2016, m7g $0.0816 x 2 = $0.1632 -> m7g.xlarge.
    // m7g.xlarge: 0.1632 x 730 = $119.136 -> $119.14; saving 280.32 - 119.14 = $161.18.
    // Projected CPU 10 x 8 / (4 x 1.25) = 16 %, memory 8 / 16 = 50 %; network 0.4 Gbit/s <= 1.876.
    const rec = advise(ec2('m5.2xlarge'), seen({ memoryP95Percent: 25, networkMaxBytesPerSec: 50 * MB }));
    expect(rec).toMatchObject({
      current: { option: 'm5.2xlarge', vcpu: 8, memoryGiB: 32, monthlyUsd: 280.32 },
      recommended: { option: 'm7g.xlarge', vcpu: 4, memoryGiB: 16, monthlyUsd: 119.14 },
      monthlySavingUsd: 161.18,
      memoryKnown: true,
      evidence: { cpuP95Percent: 10, memoryUsedGiBP95: 8, networkMaxBytesPerSec: 50 * MB },
    });
    if (!('current' in rec)) throw new Error('no recommendation');
    expect(rec.projectedCpuP95Percent).toBeCloseTo(16, 9);
    expect(rec.projectedMemoryP95Percent).toBeCloseTo(50, 9);
    expect(rec.risks).toContain(
      'moves to Graviton (arm64): the AMI and the software on it must be built for arm64',
    );
    expect(rec.priceBasis).toMatch(/catalog list price \(us-east-1, 2025-06\)/);
  });

  it('lets the network peak rule out a size that CPU alone allows', () => {
    // Without memory data: vCPU x perf >= 2 -> m7g.large (2 x 1.25 = 2.5, projected 80 / 2.5 = 32 %,
    // $0.0816 x 730 = $59.57) is the cheapest.
    const cpuOnly = advise(ec2('m5.2xlarge'), seen({ networkMaxBytesPerSec: 50 * MB }));
    expect(cpuOnly).toMatchObject({ recommended: { option: 'm7g.large', monthlyUsd: 59.57 } });
    // A 150 MB/s peak is 1.2 Gbit/s: above every large (m7g 0.937, m6i/m7i 0.781, m5 0.75), so
    // m7g.xlarge (1.876 Gbit/s, $119.14) it is.
    const busyNet = advise(ec2('m5.2xlarge'), seen({ networkMaxBytesPerSec: 150 * MB }));
    expect(busyNet).toMatchObject({ recommended: { option: 'm7g.xlarge', monthlyUsd: 119.14 } });
  });

  it('gives CPU-only advice marked as such when memory is not measured, and notes burstable credits and a single day of peaks', () => {
    // t3.xlarge: 4 vCPU, $0.1664/h -> $121.47. CPU 10 % x 4 / 2 = 20 % on every 2-vCPU size.
    // Burstable baselines: micro 10 % (20 > 10: out), small 20 % (fits). Cheapest: t4g.small
    // $0.0168 x 730 = $12.264 -> $12.26; saving 121.472 - 12.264 = 109.208 -> $109.21.
    const rec = advise(ec2('t3.xlarge'), seen({ cpuPeakDays: 1 }));
    expect(rec).toMatchObject({
      current: { option: 't3.xlarge', monthlyUsd: 121.47 },
      recommended: { option: 't4g.small', monthlyUsd: 12.26 },
      monthlySavingUsd: 109.21,
      memoryKnown: false,
      projectedCpuP95Percent: 20,
    });
    if (!('current' in rec)) throw new Error('no recommendation');
    expect(rec.projectedMemoryP95Percent).toBeUndefined();
    expect(rec.rule).toMatch(/memory not measured/);
    expect(rec.risks).toEqual(
      expect.arrayContaining([
        'memory not measured: CPU-only advice, check memory use before changing',
        expect.stringMatching(/^burstable: projected CPU p95 20% against a 20% baseline/),
        expect.stringMatching(/single day/),
        'network not measured',
      ]),
    );
  });

  it('excludes Graviton for Windows and prices with the Price List only', () => {
    const options = optionsFor(ec2('m5.2xlarge', 'Windows'));
    if ('skip' in options) throw new Error(options.skip);
    expect(options.candidates.length).toBeGreaterThan(0);
    expect(options.candidates.filter((c) => c.graviton)).toEqual([]);
    expect(options.notes).toEqual(['Graviton excluded: platform Windows has no arm64 build']);
    // The catalog holds Linux prices only: no recommendation without the Price List.
    expect(advise(ec2('m5.2xlarge', 'Windows'), seen({ memoryP95Percent: 25 }))).toEqual({
      none: 'm5.2xlarge cannot be priced',
    });
    // Windows list prices as the Price List gives them (us-east-1): m5.2xlarge $0.752, m5.xlarge and
    // m6i.xlarge $0.376, m7i.xlarge $0.3856 per hour. Memory needs an xlarge (above); m5.xlarge and
    // m6i.xlarge tie at 0.376 x 730 = $274.48, and m6i's perf 1.15 leaves more headroom:
    // 10 x 8 / (4 x 1.15) = 17.39 %. Saving (0.752 - 0.376) x 730 = $274.48.
    const windows: Record<string, number> = {
      'm5.2xlarge': 0.752,
      'm5.xlarge': 0.376,
      'm6i.xlarge': 0.376,
      'm7i.xlarge': 0.3856,
    };
    const listed = (o: SizingOption) =>
      windows[o.label] === undefined
        ? undefined
        : { monthlyUsd: Math.round(windows[o.label]! * 730 * 100) / 100, basis: 'Price List' };
    const rec = advise(ec2('m5.2xlarge', 'Windows'), seen({ memoryP95Percent: 25 }), listed);
    expect(rec).toMatchObject({
      recommended: { option: 'm6i.xlarge', monthlyUsd: 274.48 },
      monthlySavingUsd: 274.48,
    });
    if (!('current' in rec)) throw new Error('no recommendation');
    expect(rec.projectedCpuP95Percent).toBeCloseTo(80 / 4.6, 9);
    expect(rec.risks).toContain('Graviton excluded: platform Windows has no arm64 build');
  });

  it('keeps an instance on Graviton on Graviton', () => {
    const options = optionsFor(ec2('m7g.2xlarge'));
    if ('skip' in options) throw new Error(options.skip);
    expect(new Set(options.candidates.map((c) => c.graviton))).toEqual(new Set([true]));
  });

  it('recommends nothing when no cheaper option fits', () => {
    // m5.xlarge ($0.192): memory 90 % of 16 GiB = 14.4 GiB > 16 x 0.8 = 12.8, so no 16 GiB option fits;
    // the cheaper options are m5/m6i.large, m7i.large, m7g.large (8 GiB) and m7g.xlarge (16 GiB): 5.
    expect(advise(ec2('m5.xlarge'), seen({ cpuP95Percent: 30, memoryP95Percent: 90 }))).toEqual({
      none: 'none of 5 cheaper options fits',
    });
    // CPU: m5.large at 40 % needs vCPU x perf >= 2: m7g.large (2.5, 32 %) fits...
    expect(advise(ec2('m5.large'), seen({ cpuP95Percent: 40 }))).toMatchObject({
      recommended: { option: 'm7g.large' },
    });
    // ...at 55 % it needs 2.75: no cheaper option (m7g.large, the only one) fits.
    expect(advise(ec2('m5.large'), seen({ cpuP95Percent: 55 }))).toEqual({
      none: 'none of 1 cheaper options fits',
    });
    // The smallest Graviton general-purpose size has nothing cheaper in its families.
    expect(advise(ec2('m7g.large'), seen({ cpuP95Percent: 5 }))).toEqual({
      none: 'no cheaper option in the table',
    });
  });

  it('skips a type the table does not hold', () => {
    expect(optionsFor(ec2('x2idn.16xlarge'))).toEqual({
      skip: 'instance type x2idn.16xlarge is not in the table',
    });
  });
});

const rds = (instanceClass: string, engine = 'postgres', multiAz = 'false'): SizedResource => ({
  service: 'rds',
  region: 'us-east-1',
  attributes: { instanceClass, engine, multiAz },
  capacity: { storageGiB: 100 },
});

describe('RDS', () => {
  it('sizes on CPU and FreeableMemory, Multi-AZ at twice the price', () => {
    // db.r5.2xlarge: 8 vCPU, 64 GiB, $0.25 x 4 = $1.00/h -> $730. Freeable p05 40 GiB -> used 24 GiB;
    // needs 24 / 0.8 = 30 GiB -> xlarge (32 GiB). CPU 12 % x 8 / (4 x perf) <= 40: every xlarge.
    // xlarge: db.r5 / db.r6i $0.50, db.r7g $0.239 x 2 = $0.478 -> 0.478 x 730 = $348.94.
    // Saving 730 - 348.94 = $381.06; projected CPU 96 / (4 x 1.25) = 19.2 %, memory 24 / 32 = 75 %.
    const observed = seen({ cpuP95Percent: 12, freeableMemoryP05Bytes: 40 * GIB });
    const rec = advise(rds('db.r5.2xlarge'), observed);
    expect(rec).toMatchObject({
      current: { option: 'db.r5.2xlarge', monthlyUsd: 730 },
      recommended: { option: 'db.r7g.xlarge', memoryGiB: 32, monthlyUsd: 348.94 },
      monthlySavingUsd: 381.06,
      memoryKnown: true,
      evidence: { memoryUsedGiBP95: 24 },
    });
    if (!('current' in rec)) throw new Error('no recommendation');
    expect(rec.projectedCpuP95Percent).toBeCloseTo(19.2, 9);
    expect(rec.projectedMemoryP95Percent).toBeCloseTo(75, 9);
    // Multi-AZ: $1,460 -> $697.88, saving $762.12.
    expect(advise(rds('db.r5.2xlarge', 'postgres', 'true'), observed)).toMatchObject({
      current: { monthlyUsd: 1460 },
      recommended: { option: 'db.r7g.xlarge', monthlyUsd: 697.88 },
      monthlySavingUsd: 762.12,
    });
  });

  it('excludes Graviton classes for an engine without them', () => {
    const options = optionsFor(rds('db.r5.2xlarge', 'sqlserver-se'));
    if ('skip' in options) throw new Error(options.skip);
    expect(options.candidates.filter((c) => c.graviton)).toEqual([]);
    expect(options.notes).toEqual(['Graviton excluded: engine sqlserver-se has no Graviton classes']);
    // Priced (for the test) at the table's PostgreSQL figures: the memory rule leaves the xlarge
    // x86 classes, db.r5 and db.r6i at $0.50, tied; db.r6i (perf 1.15) has the headroom.
    const postgres = (o: SizingOption) => {
      const row = RDS_OPTIONS.get(o.label);
      return row && { monthlyUsd: Math.round(row.hourlyUsd * 730 * 100) / 100, basis: 'test' };
    };
    expect(
      advise(
        rds('db.r5.2xlarge', 'sqlserver-se'),
        seen({ cpuP95Percent: 12, freeableMemoryP05Bytes: 40 * GIB }),
        postgres,
      ),
    ).toMatchObject({
      recommended: { option: 'db.r6i.xlarge', monthlyUsd: 365 },
      monthlySavingUsd: 365,
    });
  });

  it('offers Aurora no class below medium', () => {
    const options = optionsFor(rds('db.t3.large', 'aurora-postgresql'));
    if ('skip' in options) throw new Error(options.skip);
    expect(options.candidates.map((c) => c.label).sort()).toEqual([
      'db.t3.2xlarge',
      'db.t3.medium',
      'db.t3.xlarge',
      'db.t4g.2xlarge',
      'db.t4g.large',
      'db.t4g.medium',
      'db.t4g.xlarge',
    ]);
  });
});

const fargate = (
  vcpu: number,
  memoryMiB: number,
  tasks: number,
  extra: Record<string, string> = {},
): SizedResource => ({
  service: 'ecs',
  region: 'us-east-1',
  attributes: { launchType: 'FARGATE', cpuArchitecture: 'X86_64', ...extra },
  capacity: { vcpu, memoryMiB, desiredCount: tasks, runningCount: tasks },
});

describe('ECS on Fargate', () => {
  it('picks the cheapest valid task size, ARM64 where the platform is Linux', () => {
    // 2 vCPU / 8 GB x 3 tasks, x86: (2 x 0.04048 + 8 x 0.004445) x 3 x 730 = 0.11652 x 2190 = $255.18.
    // CPU 15 % x 2 / vCPU <= 40 -> vCPU >= 0.75 -> 1 vCPU. Memory 30 % of 8 = 2.4 GB, needs 3 GB.
    // 1 vCPU / 3 GB ARM64: (0.03238 + 3 x 0.00356) x 2190 = 0.04306 x 2190 = $94.30 (x86: $117.85).
    // Saving 255.18 - 94.30 = $160.88; projected CPU 30 %, memory 2.4 / 3 = 80 %.
    const rec = advise(fargate(2, 8192, 3), seen({ cpuP95Percent: 15, memoryP95Percent: 30 }));
    expect(rec).toMatchObject({
      current: { option: '2 vCPU / 8 GB x 3 tasks', monthlyUsd: 255.18, units: 3 },
      recommended: { option: '1 vCPU / 3 GB ARM64 x 3 tasks', vcpu: 1, memoryGiB: 3, monthlyUsd: 94.3 },
      monthlySavingUsd: 160.88,
      projectedCpuP95Percent: 30,
    });
    if (!('current' in rec)) throw new Error('no recommendation');
    expect(rec.projectedMemoryP95Percent).toBeCloseTo(80, 9);
    expect(rec.risks).toContain('moves to ARM64: every container image must have a linux/arm64 variant');
  });

  it('without memory data takes the least memory the vCPU allows, marked CPU-only', () => {
    // 1 vCPU / 2 GB ARM64: (0.03238 + 2 x 0.00356) x 2190 = 0.0395 x 2190 = $86.51, the cheapest 1-vCPU size.
    expect(advise(fargate(2, 8192, 3), seen({ cpuP95Percent: 15 }))).toMatchObject({
      recommended: { option: '1 vCPU / 2 GB ARM64 x 3 tasks' },
      memoryKnown: false,
    });
  });

  it('keeps Windows tasks on x86', () => {
    const options = optionsFor(fargate(2, 8192, 3, { operatingSystemFamily: 'WINDOWS_SERVER_2022_CORE' }));
    if ('skip' in options) throw new Error(options.skip);
    expect(options.candidates).toHaveLength(FARGATE_SIZES.length - 1);
    expect(options.candidates.some((c) => c.graviton)).toBe(false);
  });

  it('recommends nothing when the smallest size already runs on ARM64', () => {
    // 0.25 vCPU / 0.5 GB x86 at 30 % CPU: nothing smaller, but ARM64 of the same size is cheaper and
    // fits: (0.25 x 0.03238 + 0.5 x 0.00356) x 730 = 0.009875 x 730 = $7.21 against x86
    // (0.25 x 0.04048 + 0.5 x 0.004445) x 730 = 0.0123425 x 730 = $9.01: saving $1.80.
    expect(advise(fargate(0.25, 512, 1), seen({ cpuP95Percent: 30 }))).toMatchObject({
      recommended: { option: '0.25 vCPU / 0.5 GB ARM64 x 1 tasks', monthlyUsd: 7.21 },
      monthlySavingUsd: 1.8,
    });
    // Already ARM64 at the smallest size: nothing cheaper exists.
    expect(advise(fargate(0.25, 512, 1, { cpuArchitecture: 'ARM64' }), seen({ cpuP95Percent: 30 }))).toEqual({
      none: 'no cheaper option in the table',
    });
  });

  it('skips services on EC2 capacity', () => {
    expect(optionsFor(fargate(1, 2048, 1, { launchType: 'EC2' }))).toEqual({
      skip: 'launch type EC2: size the container instances instead',
    });
  });
});

const msk = (brokerType: string, brokers: number, storageGiB = 1000): SizedResource => ({
  service: 'msk',
  region: 'us-east-1',
  attributes: { brokerType },
  capacity: { brokers, storageGiB },
});

describe('MSK', () => {
  it('changes broker type and count, CPU-only (broker memory is not collected)', () => {
    // 6 x kafka.m5.large: 2 vCPU each, $0.21 x 6 x 730 = $919.80. Busiest broker CPU 10 %.
    // CPU: 10 x 2 x 1.00 x 6 / (vCPU x perf x n) <= 40 -> vCPU x perf x n >= 3. Brokers in 3 AZs:
    // n = 3 or 6. 3 x kafka.m7g.large = 2 x 1.25 x 3 = 7.5: fits at 120 / 7.5 = 16 %, $0.204 x 3 x 730
    // = $446.76. Saving 919.80 - 446.76 = $473.04.
    // Network per broker: max(5 x 3, 10 + 5 x 2) MB/s = 20 MB/s = 0.16 Gbit/s / 3 = 0.053 <= 0.937.
    const rec = advise(
      msk('kafka.m5.large', 6),
      seen({ bytesInMaxPerSec: 5 * MB, bytesOutMaxPerSec: 10 * MB }),
    );
    expect(rec).toMatchObject({
      current: { option: '6 x kafka.m5.large', units: 6, monthlyUsd: 919.8 },
      recommended: { option: '3 x kafka.m7g.large', units: 3, monthlyUsd: 446.76 },
      monthlySavingUsd: 473.04,
      memoryKnown: false,
      projectedCpuP95Percent: 16,
    });
    if (!('current' in rec)) throw new Error('no recommendation');
    expect(rec.risks).toEqual(
      expect.arrayContaining([
        'fewer brokers: move partitions off the removed brokers first',
        'moves to M7g (Graviton) brokers: the cluster must run a Kafka version M7g supports',
      ]),
    );
  });

  it('keeps the broker count when fewer brokers could not carry the traffic', () => {
    // 120 MB/s in and out: per broker max(120 x 3, 120 + 120 x 2) = 360 MB/s = 2.88 Gbit/s / n.
    // n = 3: 0.96 Gbit/s > m7g.large 0.937 and m5.large 0.75; m5.xlarge (1.25) costs 0.42 x 3 = $1.26/h,
    // m7g.xlarge (1.876) 0.408 x 3 = $1.224/h. n = 6: 0.48 Gbit/s, m7g.large 0.204 x 6 = $1.224/h.
    // Equal price: the count is kept -> 6 x kafka.m7g.large, $893.52; saving (1.26 - 1.224) x 730 = $26.28.
    const rec = advise(
      msk('kafka.m5.large', 6),
      seen({ bytesInMaxPerSec: 120 * MB, bytesOutMaxPerSec: 120 * MB }),
    );
    expect(rec).toMatchObject({
      recommended: { option: '6 x kafka.m7g.large', monthlyUsd: 893.52 },
      monthlySavingUsd: 26.28,
    });
  });

  it('keeps the storage of fewer brokers within the per-broker maximum', () => {
    // 6 x 6,000 GiB on 3 brokers would be 12,000 GiB each (fits 16,384); 6 x 9,000 GiB would be 18,000.
    expect(advise(msk('kafka.m5.large', 6, 6000), seen({}))).toMatchObject({ recommended: { units: 3 } });
    expect(advise(msk('kafka.m5.large', 6, 9000), seen({}))).toMatchObject({
      recommended: { option: '6 x kafka.m7g.large' },
    });
  });

  it('recommends nothing when the busiest broker is too hot for anything cheaper', () => {
    // 3 x kafka.m5.large at 40 %: vCPU x perf x n >= 6: 3 x m7g.large is 7.5 (32 %) and fits...
    expect(advise(msk('kafka.m5.large', 3), seen({ cpuP95Percent: 40 }))).toMatchObject({
      recommended: { option: '3 x kafka.m7g.large' },
    });
    // ...at 60 % it needs 9: nothing cheaper fits.
    expect(advise(msk('kafka.m5.large', 3), seen({ cpuP95Percent: 60 }))).toEqual({
      none: 'none of 1 cheaper options fits',
    });
  });
});

describe('catalog', () => {
  it('holds the documented rows', () => {
    expect(EC2_OPTIONS.get('m7g.xlarge')).toEqual({
      name: 'm7g.xlarge',
      family: 'm7g',
      vcpu: 4,
      memoryGiB: 16,
      networkGbps: 1.876,
      perf: 1.25,
      graviton: true,
      hourlyUsd: 0.1632,
    });
    expect(RDS_OPTIONS.get('db.t4g.medium')).toMatchObject({
      vcpu: 2,
      memoryGiB: 4,
      hourlyUsd: 0.065,
      burstBaselinePercent: 20,
    });
  });
});

describe('the report prefilter', () => {
  it('never hides a fitting option: no cheaper option has RIGHTSIZING_PREFILTER x the CPU capacity', () => {
    // The report leaves resources at CPU p95 >= target x RIGHTSIZING_PREFILTER in the database; that
    // is safe only while no cheaper candidate offers that much more vCPU x perf x units.
    const resources: SizedResource[] = [
      ...[...EC2_OPTIONS.keys()].map((t) => ec2(t)),
      ...[...RDS_OPTIONS.keys()].map((c) => rds(c)),
      ...[...MSK_OPTIONS.keys()].flatMap((b) => [2, 3, 6, 9].map((n) => msk(b, n))),
      ...FARGATE_SIZES.flatMap((s) => [
        fargate(s.vcpu, s.memoryGiB * 1024, 2),
        fargate(s.vcpu, s.memoryGiB * 1024, 2, { cpuArchitecture: 'ARM64' }),
      ]),
    ];
    let worst = 0;
    for (const r of resources) {
      const options = optionsFor(r);
      if ('skip' in options) throw new Error(options.skip);
      const capacity = (o: SizingOption) => o.vcpu * o.perf * o.units;
      for (const c of options.candidates) {
        if (c.catalogMonthlyUsd! < options.current.catalogMonthlyUsd!)
          worst = Math.max(worst, capacity(c) / capacity(options.current));
      }
    }
    expect(worst).toBeGreaterThan(1);
    expect(worst).toBeLessThan(RIGHTSIZING_PREFILTER);
  });
});
