/**
 * vCPU and memory of EC2 instance types from DescribeInstanceTypes, cached per type.
 *
 * RDS instance classes (`db.m6g.large`) and MSK broker types (`kafka.m5.large`) run on the EC2 type
 * of the same name, so they resolve through the same catalog; classes with no EC2 twin
 * (`db.serverless`, memory-optimised `db.r5.large.tpc2.mem4x`) stay unknown and get no capacity.
 */
import { type EC2Client, paginateDescribeInstanceTypes } from '@aws-sdk/client-ec2';

/** Capacity of one instance type. */
export interface InstanceTypeSpec {
  readonly vcpu: number;
  readonly memoryMiB: number;
}

/** DescribeInstanceTypes accepts at most 100 names per request. */
const TYPES_PER_CALL = 100;

/**
 * Specs are global (the same in every account and region), so one cache serves every shard of a
 * warm execution environment.
 */
const sharedSpecs = new Map<string, InstanceTypeSpec>();

/**
 * The EC2 instance type behind an RDS instance class or an MSK broker type.
 * @param name `db.m5.large`, `kafka.m5.large`, `express.m7g.large` or a plain EC2 type
 * @returns the EC2 type, or undefined when the class has no EC2 twin
 */
export function ec2TypeOf(name: string): string | undefined {
  const bare = name.replace(/^(db|kafka|express)\./, '');
  // An EC2 type is family.size; anything longer (db.r5.large.tpc2.mem4x) or shorter (db.serverless) is not.
  return /^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(bare) ? bare : undefined;
}

/** Resolves instance types to vCPU and memory, asking EC2 only for types not seen before. */
export class InstanceTypeCatalog {
  /** Types this region's EC2 does not know; not shared, a type may be offered in one region only. */
  private readonly unknown = new Set<string>();
  /** DescribeInstanceTypes requests made by this catalog (for tests and cost accounting). */
  calls = 0;

  /**
   * @param ec2 an EC2 client for the shard's account and region
   * @param specs cache of resolved types @default - the execution environment's shared cache
   */
  constructor(
    private readonly ec2: EC2Client,
    private readonly specs: Map<string, InstanceTypeSpec> = sharedSpecs,
  ) {}

  /**
   * Resolves every type given, in as few calls as possible.
   * @param types EC2 instance types (duplicates are fine)
   * @returns the specs of the types EC2 knows
   */
  async resolve(types: Iterable<string>): Promise<Map<string, InstanceTypeSpec>> {
    const wanted = [...new Set(types)];
    const missing = wanted.filter((t) => !this.specs.has(t) && !this.unknown.has(t)).sort();
    for (let i = 0; i < missing.length; i += TYPES_PER_CALL) {
      await this.describe(missing.slice(i, i + TYPES_PER_CALL));
    }
    const out = new Map<string, InstanceTypeSpec>();
    for (const t of wanted) {
      const spec = this.specs.get(t);
      if (spec) out.set(t, spec);
    }
    return out;
  }

  private async describe(types: string[]): Promise<void> {
    try {
      for await (const page of paginateDescribeInstanceTypes(
        { client: this.ec2 },
        { InstanceTypes: types as never[] },
      )) {
        this.calls++;
        for (const it of page.InstanceTypes ?? []) {
          const vcpu = it.VCpuInfo?.DefaultVCpus;
          const memoryMiB = it.MemoryInfo?.SizeInMiB;
          if (it.InstanceType && vcpu !== undefined && memoryMiB !== undefined) {
            this.specs.set(it.InstanceType, { vcpu, memoryMiB });
          }
        }
      }
      for (const t of types) if (!this.specs.has(t)) this.unknown.add(t);
    } catch (error) {
      // One unknown name fails the whole request: fall back to one request per name to keep the rest.
      if ((error as Error).name !== 'InvalidInstanceType') throw error;
      this.calls++;
      if (types.length === 1) {
        this.unknown.add(types[0]!);
        return;
      }
      for (const t of types) await this.describe([t]);
    }
  }
}
