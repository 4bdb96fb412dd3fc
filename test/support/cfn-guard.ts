/**
 * Runs cfn-guard with the AWS Control Tower proactive-control rules over a synthesized cloud assembly.
 *
 * Both come from @cdklabs/cdk-validator-cfnguard (cfn-guard 3.1 and the Control Tower rule files). Its
 * CDK plugin is not used as is: its result parser loses the logical ID of some failures (they come out as
 * `undefined` resources), so the binary is run here and every failure is mapped back to its construct.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { CfnResource, Stack, Stage } from 'aws-cdk-lib';
import type { GuardFailure } from '../../lib/observability/guardrails.ts';

const PACKAGE_DIR = dirname(
  createRequire(import.meta.url).resolve('@cdklabs/cdk-validator-cfnguard/package.json'),
);
/** The Control Tower rule files, one control per file (`ct-s3-pr-1.guard` is CT.S3.PR.1). */
export const CONTROL_TOWER_RULES = join(PACKAGE_DIR, 'rules', 'control-tower', 'cfn-guard');
/** The cfn-guard binary of this platform, as the package lays them out (`bin/ubuntu/x86_64`). */
export const CFN_GUARD = join(
  PACKAGE_DIR,
  'bin',
  process.platform === 'darwin' ? 'macos' : 'ubuntu',
  process.arch === 'arm64' ? 'aarch64' : 'x86_64',
  'cfn-guard',
);

/** Every `*.guard` file under a directory. */
function ruleFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? ruleFiles(p) : f.endsWith('.guard') ? [p] : [];
  });
}

/** Guard rule name (`s3_bucket_logging_enabled_check`) to Control Tower control ID (`CT.S3.PR.2`). */
export function controlIds(dir = CONTROL_TOWER_RULES): Map<string, string> {
  const ids = new Map<string, string>();
  for (const file of ruleFiles(dir)) {
    const control = basename(file, '.guard').toUpperCase().replaceAll('-', '.');
    for (const m of readFileSync(file, 'utf8').matchAll(/^rule (\w+) when /gm)) ids.set(m[1]!, control);
  }
  return ids;
}

/** Every template of a cloud assembly, nested assemblies (pipeline stages) included. */
export function templatePaths(outdir: string): string[] {
  return readdirSync(outdir)
    .sort()
    .flatMap((f) => {
      const p = join(outdir, f);
      if (statSync(p).isDirectory()) return f.startsWith('assembly-') ? templatePaths(p) : [];
      return f.endsWith('.template.json') ? [p] : [];
    });
}

/** The part of cfn-guard's `--output-format json --structured` result that is read here. */
interface GuardFileResult {
  name: string;
  not_compliant?: { Rule?: { name: string } }[];
}

/**
 * Runs every Control Tower rule over the templates and lists each failing (template, rule, resource).
 * A resource is named by the `/Resources/<logicalId>` paths cfn-guard reports for the failed checks.
 * @param templates paths of CloudFormation templates
 * @returns one entry per failing rule and resource, logical IDs as in the template
 */
export function runControlTowerRules(
  templates: string[],
): { template: string; control: string; rule: string; logicalId: string }[] {
  if (templates.length === 0) throw new Error('no template to validate');
  const controls = controlIds();
  let stdout: string;
  try {
    stdout = execFileSync(
      CFN_GUARD,
      [
        'validate',
        '--rules',
        CONTROL_TOWER_RULES,
        ...templates.flatMap((t) => ['--data', t]),
        '--output-format',
        'json',
        '--show-summary',
        'none',
        '--structured',
      ],
      { encoding: 'utf8', maxBuffer: 1024 * 1024 * 1024 },
    );
  } catch (err) {
    // cfn-guard exits 19 when a rule fails; its report is still on stdout.
    const e = err as { status?: number; stdout?: string };
    if (e.status !== 19 || !e.stdout) throw err;
    stdout = e.stdout;
  }
  const results = JSON.parse(stdout) as GuardFileResult[];
  const failures = new Map<string, { template: string; control: string; rule: string; logicalId: string }>();
  for (const file of results) {
    for (const entry of file.not_compliant ?? []) {
      const rule = entry.Rule?.name;
      if (!rule) throw new Error(`unexpected cfn-guard result shape: ${JSON.stringify(entry).slice(0, 200)}`);
      const ids = new Set(
        [...JSON.stringify(entry).matchAll(/\/Resources\/([A-Za-z0-9]+)/g)].map((m) => m[1]!),
      );
      if (ids.size === 0) throw new Error(`rule ${rule} failed in ${file.name} without naming a resource`);
      for (const logicalId of ids) {
        const f = { template: file.name, control: controls.get(rule) ?? rule, rule, logicalId };
        failures.set(`${f.template}|${rule}|${logicalId}`, f);
      }
    }
  }
  return [...failures.values()];
}

/**
 * Runs the Control Tower rules over a synthesized app and names each failure by stack and construct.
 * @param app the app (or stage) after `synth()`; its constructs give the construct paths
 * @param outdir the cloud assembly the app was synthesized to
 */
export function guardApp(app: Stage, outdir: string): GuardFailure[] {
  const byTemplate = new Map<string, Map<string, CfnResource>>();
  for (const node of app.node.findAll()) {
    if (!CfnResource.isCfnResource(node)) continue;
    const stack = Stack.of(node);
    const file = join(Stage.of(stack)!.outdir, stack.templateFile);
    const resources = byTemplate.get(file) ?? new Map<string, CfnResource>();
    byTemplate.set(file, resources);
    resources.set(stack.resolve(node.logicalId) as string, node);
  }
  return runControlTowerRules(templatePaths(outdir)).map((f) => {
    const resource = byTemplate.get(f.template)?.get(f.logicalId);
    if (!resource) throw new Error(`no construct for ${f.logicalId} of ${f.template}`);
    const stack = Stack.of(resource);
    return {
      control: f.control,
      rule: f.rule,
      stack: stack.stackName,
      stage: Stage.of(stack) === app ? '' : Stage.of(stack)!.node.path,
      logicalId: f.logicalId,
      path: resource.node.path.slice(stack.node.path.length + 1),
      type: resource.cfnResourceType,
    };
  });
}
