/**
 * Files that travel with the code: found from the running module's own location, never from the
 * working directory, so the same lookup works in every form the code runs in:
 * - from source (`tsx`, vitest): `lambdas/shared/` -> the repository root;
 * - the built CLI (`dist/cli/observatory.mjs` and `dist/cli/chunks/*.mjs`, also inside an installed
 *   package): `dist/cli/`, where scripts/build-cli.ts copies them;
 * - a Lambda asset (`/var/task/index.mjs`, `/var/task/chunks/*.mjs`): `/var/task/`, where
 *   `ObservedFunction`'s `bundledDirs` copies them.
 *
 * esbuild keeps `import.meta.url` as the URL of the output file a module lands in, so the search starts
 * at the bundle file, whichever chunk holds this module.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The nearest copy of a packaged file: `relative` under the directory of `moduleUrl` or the first of its
 * ancestors that holds it. The search stops at the first directory with a `package.json` (the package
 * root), so it never picks up another project's files above the package.
 * @param relative path of the file or directory inside the package, e.g. `drizzle/meta/_journal.json`
 * @param moduleUrl where the search starts
 * @default moduleUrl - this module's own URL (the bundle file it is built into)
 * @returns the absolute path
 * @throws Error naming the file and the directories searched when no copy exists
 */
export function packagedPath(relative: string, moduleUrl: string = import.meta.url): string {
  const start = dirname(fileURLToPath(moduleUrl));
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, relative);
    if (existsSync(candidate)) return candidate;
    if (existsSync(join(dir, 'package.json')) || dirname(dir) === dir) {
      throw new Error(
        `${relative} is not packaged with this code: looked in ${start} and every folder up to ${dir} (a build that leaves it out is broken: rebuild, e.g. npm run build)`,
      );
    }
  }
}

/** The journal that marks a drizzle migrations folder. */
const MIGRATIONS_JOURNAL = join('drizzle', 'meta', '_journal.json');

/**
 * The migrations shipped with this code (the `drizzle/` folder next to it).
 * @param env the environment: `MIGRATIONS_FOLDER` overrides the lookup
 * @returns the absolute path of the folder
 * @throws Error when the folder is not packaged (see {@link packagedPath})
 */
export function migrationsFolder(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MIGRATIONS_FOLDER) return resolve(env.MIGRATIONS_FOLDER);
  return dirname(dirname(packagedPath(MIGRATIONS_JOURNAL)));
}
