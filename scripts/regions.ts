/**
 * Prints lib/config/regions.ts: the region list of the installed aws-cdk-lib (`RegionInfo.regions`) as a
 * plain table the config schema can load in milliseconds and bundles can carry.
 */
import { createRequire } from 'node:module';
import { RegionInfo } from 'aws-cdk-lib/region-info';

const { version } = createRequire(import.meta.url)('aws-cdk-lib/package.json') as { version: string };
const regions = RegionInfo.regions.map((r) => r.name).sort();
process.stdout.write(`/**
 * The AWS regions aws-cdk-lib ${version} ships facts for (\`RegionInfo.regions\`), as a plain table.
 *
 * Generated, not imported: \`aws-cdk-lib/region-info\` loads its whole fact database (about a second),
 * and this module is also bundled wherever the config schema is, where aws-cdk-lib is absent.
 * test/config/loader.test.ts fails when an upgrade of aws-cdk-lib changes the list; regenerate with
 * \`npx tsx scripts/regions.ts > lib/config/regions.ts\`.
 */

/** Every region of every partition aws-cdk-lib knows, sorted. */
export const AWS_REGIONS: ReadonlySet<string> = new Set([
${regions.map((r) => `  '${r}',`).join('\n')}
]);
`);
