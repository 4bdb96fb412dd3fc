import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../lib/config/loader.ts';
import { EXAMPLE_CONFIG, synthApp } from '../../support/cdk.ts';

describe('utilization.retentionDays', () => {
  it('defaults to 400 days and reaches the store and migrate functions, and no other', () => {
    const config = loadConfig(EXAMPLE_CONFIG);
    expect(config.utilization!.retentionDays).toBe(400);
    const synth = synthApp({ ...config, utilization: { ...config.utilization!, retentionDays: 90 } });
    try {
      const template = Template.fromStack(synth.stacks.utilization!);
      const fns = template.findResources('AWS::Lambda::Function') as Record<
        string,
        { Properties: { Description?: string; Environment?: { Variables?: Record<string, unknown> } } }
      >;
      const withRetention = Object.values(fns)
        .filter((f) => f.Properties.Environment?.Variables?.RETENTION_DAYS !== undefined)
        .map((f) => [f.Properties.Description, f.Properties.Environment!.Variables!.RETENTION_DAYS]);
      expect(withRetention).toEqual(
        expect.arrayContaining([
          ['applies the committed drizzle migrations to the utilization database', '90'],
          ['validates utilization batches and stores them idempotently in Aurora PostgreSQL', '90'],
        ]),
      );
      expect(withRetention).toHaveLength(2);
    } finally {
      synth.cleanup();
    }
  });
});
