/**
 * `npm run synth`: synthesizes the whole application offline with the CDK CLI (example config unless
 * `-- -c config=FILE` is given) and prints a summary of what would be deployed.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const out = 'cdk.out';
const started = Date.now();
const res = spawnSync('npx', ['cdk', 'synth', '--no-notices', '-q', '-o', out, ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' },
});
if (res.status !== 0) process.exit(res.status ?? 1);

interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
}
const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as {
  artifacts: Record<string, { type: string; environment?: string; properties?: { templateFile?: string } }>;
};
const rows: string[][] = [];
const totals = { functions: 0, alarms: 0, ruleGroups: 0, stateMachines: 0, resources: 0 };
for (const [name, artifact] of Object.entries(manifest.artifacts)) {
  if (artifact.type !== 'aws:cloudformation:stack' || !artifact.properties?.templateFile) continue;
  const template = JSON.parse(readFileSync(join(out, artifact.properties.templateFile), 'utf8')) as {
    Resources?: Record<string, Resource>;
  };
  const resources = Object.values(template.Resources ?? {});
  const count = (type: string) => resources.filter((r) => r.Type === type).length;
  const stack = {
    functions: count('AWS::Lambda::Function'),
    alarms: count('AWS::CloudWatch::Alarm'),
    ruleGroups: count('AWS::APS::RuleGroupsNamespace'),
    stateMachines: count('AWS::StepFunctions::StateMachine'),
    resources: resources.length,
  };
  for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += stack[k];
  rows.push([name, (artifact.environment ?? '').replace('aws://', ''), ...Object.values(stack).map(String)]);
}
const header = ['stack', 'environment', 'functions', 'alarms', 'rule groups', 'state machines', 'resources'];
rows.push(['total', '', ...Object.values(totals).map(String)]);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
const line = (r: string[]) =>
  r.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
console.log(
  `\nsynthesized ${rows.length - 1} stacks into ${out}/ in ${((Date.now() - started) / 1000).toFixed(1)} s (offline, cdk-nag AwsSolutions clean)\n`,
);
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
