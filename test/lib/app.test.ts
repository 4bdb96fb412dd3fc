import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { synthApp } from '../support/cdk.ts';

describe('the whole app from the example config', () => {
  const result = synthApp();
  afterAll(() => result.cleanup());
  const stacks = result.app.node.children.filter(
    (c) => 'templateOptions' in c,
  ) as import('aws-cdk-lib').Stack[];

  it('has no open cdk-nag AwsSolutions finding', () => {
    expect(result.findings).toEqual([]);
  });

  it('builds the monitoring, per-region probe, utilization, member-role and rollback stacks', () => {
    expect(stacks.map((s) => s.stackName).sort()).toEqual(
      [
        'Observatory-Monitoring',
        'Observatory-Probes-eu-west-1',
        'Observatory-Probes-us-east-1',
        'Observatory-Utilization',
        'Observatory-MemberRole-222222222222',
        'Observatory-MemberRole-333333333333',
        'Observatory-MskRollback',
      ].sort(),
    );
  });

  it('makes every function Node.js 22 on ARM64 with active tracing, JSON logs and a log group with retention', () => {
    let functions = 0;
    for (const stack of stacks) {
      const template = Template.fromStack(stack);
      for (const [id, fn] of Object.entries(template.findResources('AWS::Lambda::Function'))) {
        const p = fn.Properties;
        if (isCdkOwned(id)) continue;
        functions++;
        expect({ id, runtime: p.Runtime, arch: p.Architectures, tracing: p.TracingConfig }).toEqual({
          id,
          runtime: 'nodejs22.x',
          arch: ['arm64'],
          tracing: { Mode: 'Active' },
        });
        expect(p.LoggingConfig?.LogGroup).toBeDefined();
        expect(p.Environment.Variables.POWERTOOLS_SERVICE_NAME).toMatch(/^[a-z0-9-]+$/);
      }
      for (const lg of Object.values(template.findResources('AWS::Logs::LogGroup'))) {
        expect(lg.Properties.RetentionInDays).toBe(30);
      }
    }
    expect(functions).toBeGreaterThanOrEqual(6 + 4);
  });

  it('attaches no AWS managed policy to any role the project defines', () => {
    for (const stack of stacks) {
      for (const [id, role] of Object.entries(Template.fromStack(stack).findResources('AWS::IAM::Role'))) {
        if (isCdkOwned(id)) continue;
        expect({ id, managed: role.Properties.ManagedPolicyArns }).toEqual({ id, managed: undefined });
      }
    }
  });

  it('gives every function an error and a throttle alarm that notify the alert topic', () => {
    let checked = 0;
    for (const stack of stacks) {
      const template = Template.fromStack(stack);
      const fns = Object.keys(template.findResources('AWS::Lambda::Function')).filter(
        (id) => !isCdkOwned(id),
      );
      const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
      for (const a of alarms) expect(a.Properties.AlarmActions?.length).toBeGreaterThan(0);
      // The alarm's dimension references the function it watches: each function has exactly one of each.
      for (const fn of fns) {
        const watching = (metric: string) =>
          alarms.filter(
            (a) =>
              a.Properties.MetricName === metric &&
              JSON.stringify(a.Properties.Dimensions).includes(`"${fn}"`),
          ).length;
        expect({ fn, errors: watching('Errors'), throttles: watching('Throttles') }).toEqual({
          fn,
          errors: 1,
          throttles: 1,
        });
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(20);
  });
});

/** Functions and roles aws-cdk-lib creates for itself (custom resource provider framework, cross-region references). */
function isCdkOwned(logicalId: string): boolean {
  return /Providerframework|CustomCrossRegion|AWS679f53fa/.test(logicalId);
}
