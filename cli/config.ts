/**
 * `observatory config [file]`: validates a config file and prints a summary of what it enables.
 *
 * ```sh
 * observatory config config/prod.yaml
 * ```
 * Exit status: 0 when the file is valid, 1 when it is not (every problem printed by path).
 */
import type { Command } from 'commander';
import { loadConfig } from '../lib/config/loader.ts';

/**
 * Registers `observatory config` on the program.
 * @param program the root commander program
 */
export function register(program: Command): void {
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
}
