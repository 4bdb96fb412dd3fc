/**
 * `observatory config [file]`: validates a config file and prints a summary of what it enables.
 *
 * ```sh
 * observatory config config/prod.yaml
 * ```
 * Exit status: 0 when the file is valid, 1 when it is not (every problem printed by path), 2 when no
 * file is given and there is no `config/example.yaml` in the working directory.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../lib/config/loader.ts';

/** What `observatory config` reads when given no file: the repository's example, from its root. */
export const DEFAULT_CONFIG_FILE = 'config/example.yaml';

/**
 * Registers `observatory config` on the program.
 * @param program the root commander program
 */
export function register(program: Command): void {
  program
    .command('config')
    .description('validate a config file and print a summary of what it enables')
    .argument('[file]', `config file (default: ${DEFAULT_CONFIG_FILE}, in a checkout of the repository)`)
    .action((given: string | undefined) => {
      const file = given ?? DEFAULT_CONFIG_FILE;
      // Outside a checkout there is no example: say what to pass instead of a bare ENOENT.
      if (given === undefined && !existsSync(file)) {
        console.error(
          `observatory config: no file given and there is no ${DEFAULT_CONFIG_FILE} in ${process.cwd()}; name the file: observatory config FILE`,
        );
        process.exit(2);
      }
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
