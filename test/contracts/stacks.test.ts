import { App, Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { PROJECT_VERSION, plannedStacks, VERSION_TAG } from '#contracts/stacks';
import { buildApp } from '../../lib/app.ts';
import { loadConfig } from '../../lib/config/loader.ts';
import packageJson from '../../package.json' with { type: 'json' };
import { EXAMPLE_CONFIG } from '../support/cdk.ts';

describe('planned stacks', () => {
  const config = loadConfig(EXAMPLE_CONFIG);
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  buildApp(app, config, { nag: false });
  app.synth();
  const built = app.node.children.filter((c): c is Stack => c instanceof Stack);

  it('names, places and orders the stacks exactly as the app builds them', () => {
    expect(
      plannedStacks(config).map((s) => ({ name: s.name, account: s.account, region: s.region })),
    ).toEqual(built.map((s) => ({ name: s.stackName, account: s.account, region: s.region })));
  });

  it('omits the stacks of disabled capabilities', () => {
    const names = plannedStacks({
      ...config,
      probes: { ...config.probes!, enabled: false },
      utilization: { ...config.utilization!, enabled: false },
      mskRollback: undefined,
    }).map((s) => s.name);
    expect(names).toEqual(['Observatory-Monitoring']);
  });

  it('tags every stack with the version of package.json', () => {
    expect(PROJECT_VERSION).toBe(packageJson.version);
    for (const s of built) expect(s.tags.tagValues()[VERSION_TAG], s.stackName).toBe(PROJECT_VERSION);
  });
});
