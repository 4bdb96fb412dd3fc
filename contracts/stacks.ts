/**
 * Names of the CloudFormation stacks a config deploys, and the tag that carries the version they were
 * deployed from. The CDK app names its stacks with these functions and `observatory doctor` looks the
 * same names up, so the two can never drift; this module imports nothing, so the CLI does not load
 * aws-cdk-lib to know them.
 */
import packageJson from '../package.json' with { type: 'json' };

/** Stack tag holding the project version (package.json `version`) a stack was deployed from. */
export const VERSION_TAG = 'observatory:version';

/** The version of this checkout (package.json `version`). */
export const PROJECT_VERSION: string = packageJson.version;

/** The parts of a config that decide which stacks exist and where. */
export interface StackPlanInput {
  readonly project: string;
  readonly account: string;
  readonly monitoring: { readonly homeRegion: string };
  readonly probes?: { readonly enabled: boolean; readonly regions: readonly { readonly region: string }[] };
  readonly utilization?: { readonly enabled: boolean; readonly accounts: readonly { readonly id: string }[] };
  readonly mskRollback?: { readonly enabled: boolean };
}

/** What a stack is for. */
export type StackRole = 'monitoring' | 'probes' | 'utilization' | 'member-role' | 'msk-rollback';

/** One stack a config deploys. */
export interface PlannedStack {
  readonly name: string;
  readonly role: StackRole;
  readonly account: string;
  readonly region: string;
}

/** Stack name functions, by role. */
export const stackName = {
  monitoring: (project: string) => `${project}-Monitoring`,
  probes: (project: string, region: string) => `${project}-Probes-${region}`,
  utilization: (project: string) => `${project}-Utilization`,
  memberRole: (project: string, accountId: string) => `${project}-MemberRole-${accountId}`,
  mskRollback: (project: string) => `${project}-MskRollback`,
} as const;

/**
 * Every stack a config deploys, in the order the app creates them.
 * @param config a validated config (or the parts of it that decide the stacks)
 */
export function plannedStacks(config: StackPlanInput): PlannedStack[] {
  const { project, account } = config;
  const home = config.monitoring.homeRegion;
  const out: PlannedStack[] = [
    { name: stackName.monitoring(project), role: 'monitoring', account, region: home },
  ];
  if (config.probes && config.probes.enabled !== false)
    for (const r of config.probes.regions)
      out.push({ name: stackName.probes(project, r.region), role: 'probes', account, region: r.region });
  if (config.utilization?.enabled) {
    out.push({ name: stackName.utilization(project), role: 'utilization', account, region: home });
    for (const a of config.utilization.accounts)
      out.push({
        name: stackName.memberRole(project, a.id),
        role: 'member-role',
        account: a.id,
        region: home,
      });
  }
  if (config.mskRollback?.enabled)
    out.push({ name: stackName.mskRollback(project), role: 'msk-rollback', account, region: home });
  return out;
}
