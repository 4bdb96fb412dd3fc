/**
 * `npm run synth` of the example is quiet: no CDK warning, every cdk-nag acknowledgement written into
 * the template it concerns, and no acknowledgement that matches no finding.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/app.ts';
import { loadConfig } from '../../lib/config/loader.ts';
import { EXAMPLE_CONFIG } from '../support/cdk.ts';

/** The context `cdk synth` runs with (cdk.json), minus the config path and with bundling skipped. */
function cliContext(): Record<string, unknown> {
  const { context } = JSON.parse(readFileSync(join(import.meta.dirname, '../../cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  const { config: _config, ...flags } = context;
  return { ...flags, 'aws:cdk:bundling-stacks': [] };
}

const outdir = mkdtempSync(join(tmpdir(), 'observatory-quiet-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

function build(nag: boolean): App {
  const app = new App({
    outdir: nag ? outdir : mkdtempSync(join(tmpdir(), 'observatory-quiet-')),
    context: cliContext(),
  });
  buildApp(app, loadConfig(EXAMPLE_CONFIG), { nag });
  return app;
}

describe('synth of the example', () => {
  const app = build(true);
  const assembly = app.synth();
  const stacks = app.node.children.filter((c): c is Stack => Stack.isStack(c));

  it('prints no warning', () => {
    const warnings = stacks.flatMap((s) =>
      Annotations.fromStack(s)
        .findWarning('*', Match.anyValue())
        .map((w) => `${w.id}: ${String(w.entry.data).slice(0, 120)}`),
    );
    expect(stacks.length).toBeGreaterThan(5);
    expect(warnings).toEqual([]);
  });

  it('ships each cdk-nag acknowledgement in the metadata of the resource it covers', () => {
    const template = assembly.getStackByName('Observatory-Utilization').template as {
      Resources: Record<
        string,
        { Type: string; Metadata?: { cdk_nag?: { rules_to_suppress: { id: string; reason: string }[] } } }
      >;
    };
    const suppressed = Object.values(template.Resources).flatMap((r) =>
      (r.Metadata?.cdk_nag?.rules_to_suppress ?? []).map((s) => ({ type: r.Type, ...s })),
    );
    expect(suppressed).toContainEqual({
      type: 'AWS::IAM::Policy',
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: expect.stringMatching(/X-Ray/),
    });
    expect(suppressed.every((s) => s.reason.length > 20)).toBe(true);
  });

  it('acknowledges only findings that exist', () => {
    const bare = build(false);
    const pack = new AwsSolutionsChecks(bare) as unknown as {
      isAcknowledged: () => boolean;
      validateScope(scope: App): {
        violations: { ruleName: string; violatingResources: { constructPath: string }[] }[];
      };
    };
    // Every finding, as if nothing were acknowledged: each acknowledgement must cover one of them.
    pack.isAcknowledged = () => false;
    const findings = pack
      .validateScope(bare)
      .violations.flatMap((v) =>
        v.violatingResources.map((r) => ({ rule: v.ruleName, path: r.constructPath })),
      );
    expect(findings.length).toBeGreaterThan(0);
    const unmatched = bare.node.findAll().flatMap((c) =>
      c.node.metadata
        .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((m) => Object.keys(m.data as Record<string, string>))
        .map((key) => key.replace(/^Annotation::/, ''))
        .filter((id) => id.startsWith('AwsSolutions-'))
        .filter(
          (id) =>
            !findings.some(
              (f) => f.rule === id && (f.path === c.node.path || f.path.startsWith(`${c.node.path}/`)),
            ),
        )
        .map((id) => `${c.node.path}: ${id}`),
    );
    expect(unmatched).toEqual([]);
  });
});
