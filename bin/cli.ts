#!/usr/bin/env -S npx tsx
/**
 * `observatory`: the command-line side of Infra Observatory. Each capability registers its commands.
 */
import { Command } from 'commander';
import { register as registerAlertmanager } from '../cli/alertmanager.ts';
import { register as registerDashboards } from '../cli/dashboards.ts';
import { register as registerProbe } from '../cli/probe.ts';
import { register as registerReport } from '../cli/report.ts';
import { register as registerRollback } from '../cli/rollback.ts';
import { register as registerStore } from '../cli/store.ts';
import { ConfigError, loadConfig } from '../lib/config/loader.ts';

const program = new Command('observatory')
  .description('Infra Observatory: network probes, utilization reports and MSK rollbacks on AMP')
  .showHelpAfterError()
  // Usage errors exit 2, a failed check (a probe down, a rejected batch) exits 1.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

registerProbe(program);
registerStore(program);
registerReport(program);
registerRollback(program);
registerDashboards(program);
registerAlertmanager(program);

program
  .command('config')
  .description('validate a config file and print a summary of what it enables')
  .argument('[file]', 'config file', 'config/example.yaml')
  .action((file: string) => {
    const c = loadConfig(file);
    console.log(`${file}: valid`);
    console.log(
      `  monitoring: home region ${c.monitoring.homeRegion}, ${'workspaceId' in c.monitoring.workspace ? `imported workspace ${c.monitoring.workspace.workspaceId}` : 'new AMP workspace'}`,
    );
    if (c.probes)
      console.log(
        `  probes: ${c.probes.regions.length} regions, ${c.probes.regions.reduce((n, r) => n + r.availabilityZones.length, 0)} AZs, ${c.probes.targets.length} static targets`,
      );
    if (c.utilization)
      console.log(
        `  utilization: ${c.utilization.accounts.length} accounts x ${c.utilization.regions.length} regions x ${c.utilization.services.length} services`,
      );
    if (c.mskRollback) console.log(`  msk rollback: ${c.mskRollback.clusters.length} clusters`);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  console.error(`observatory: ${(err as Error).message}`);
  process.exit(1);
}
