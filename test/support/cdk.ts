/**
 * Synthesizes the whole app from a config for construct tests and cdk-nag checks.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildApp, type ObservatoryStacks } from '../../lib/app.ts';
import { loadConfig } from '../../lib/config/loader.ts';
import type { ObservatoryConfig } from '../../lib/config/schema.ts';

/** One cdk-nag finding: rule and construct path. */
export interface NagFinding {
  rule: string;
  path: string;
  description: string;
}

/** What {@link synthExample} returns. */
export interface SynthResult {
  app: App;
  stacks: ObservatoryStacks;
  /** Open cdk-nag findings (empty when clean). */
  findings: NagFinding[];
  outdir: string;
  cleanup(): void;
}

/** Path of the example config. */
export const EXAMPLE_CONFIG = join(import.meta.dirname, '../../config/example.yaml');

/**
 * Builds and synthesizes the app with cdk-nag on, without bundling Lambda code (fast, offline).
 * @param config a config object or the path of a YAML file
 * @param opts.bundle bundle the Lambda code as `cdk synth` does (slow)
 * @param opts.context more app context (e.g. `aws:cdk:enable-asset-metadata`, which the CDK CLI sets)
 */
export function synthApp(
  config: ObservatoryConfig | string = EXAMPLE_CONFIG,
  opts: { bundle?: boolean; context?: Record<string, unknown> } = {},
): SynthResult {
  const outdir = mkdtempSync(join(tmpdir(), 'observatory-cdk-'));
  const app = new App({
    outdir,
    context: { ...(opts.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }), ...opts.context },
  });
  const stacks = buildApp(app, typeof config === 'string' ? loadConfig(config) : config);
  let findings: NagFinding[] = [];
  try {
    app.synth();
  } catch (err) {
    if (!String(err).includes('Validation failed')) throw err;
    findings = readFindings(join(outdir, 'validation-report.json'));
  }
  return { app, stacks, findings, outdir, cleanup: () => rmSync(outdir, { recursive: true, force: true }) };
}

/** Reads the violations of a CDK policy validation report. */
export function readFindings(file: string): NagFinding[] {
  const report = JSON.parse(readFileSync(file, 'utf8')) as {
    pluginReports: {
      violations: {
        ruleName: string;
        description: string;
        violatingConstructs: { constructPath: string }[];
      }[];
    }[];
  };
  return report.pluginReports.flatMap((p) =>
    p.violations.flatMap((v) =>
      v.violatingConstructs.map((c) => ({
        rule: v.ruleName,
        path: c.constructPath,
        description: v.description,
      })),
    ),
  );
}
