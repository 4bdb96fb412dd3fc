/**
 * The AWS regions aws-cdk-lib knows, read from its region fact table only.
 *
 * `aws-cdk-lib/region-info` is the public entry, but importing it loads the whole fact database
 * (about a second); the `config` command must stay fast, so this loads the one dependency-free
 * module that lists the regions (`region-info/lib/aws-entities.js`, about 10 ms). The file is not in
 * the package's `exports`, hence the path resolved from the package root; test/config pins that it
 * agrees with `RegionInfo.regions`.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const entities = require(
  join(dirname(require.resolve('aws-cdk-lib/package.json')), 'region-info/lib/aws-entities.js'),
) as { AWS_REGIONS: readonly string[] };

/** Every region of every partition aws-cdk-lib ships facts for, sorted. */
export const AWS_REGIONS: ReadonlySet<string> = new Set(entities.AWS_REGIONS);
