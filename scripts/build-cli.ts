/**
 * `npm run build` (and `npm ci`, through the `prepare` script): builds the `observatory` CLI ahead of
 * time into `dist/cli/`, so a run compiles no TypeScript. An ESM bundle of the project's own code
 * split per subcommand (each `import()` of cli/commands.ts becomes a chunk that only its command
 * loads), with the same base options as the Lambda bundles (`NODE_ESM_BUNDLE`).
 * The files the CLI reads at run time travel with it: the migrations (`drizzle/`) and the Monitoring
 * stack's rule files, copied to the same paths under `dist/cli/` as in the repository, where
 * `packagedPath` (lambdas/shared/packaged.ts) finds them from the bundle's own location.
 * `dist/cli/sources.json` lists the sources, so the CLI can say when it is older than them.
 *
 *   npx tsx scripts/build-cli.ts [outdir]
 */
import { chmodSync, cpSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { type BuildOptions, build } from 'esbuild';
import { NODE_ESM_BUNDLE } from '../lib/observability/bundling.ts';

const ROOT = join(import.meta.dirname, '..');

/**
 * Files the CLI reads at run time, copied beside the bundle under the same relative paths: the
 * migrations (`migrate`, `store --migrate`, `doctor`) and the rule files whose names are the AMP rule
 * namespaces `doctor` expects (promtool test files are not needed).
 */
export const CLI_PACKAGED_FILES: readonly {
  readonly dir: string;
  readonly include: (name: string) => boolean;
}[] = [
  { dir: 'drizzle', include: () => true },
  { dir: 'lib/observability/rules', include: (name) => name.endsWith('.yml') && !name.endsWith('.test.yml') },
];

/** File name of the built entry in the output directory. */
export const CLI_ENTRY_FILE = 'observatory.mjs';

/**
 * The esbuild options of the CLI.
 * @param outdir output directory
 */
export function cliBuildOptions(outdir: string): BuildOptions & { metafile: true } {
  return {
    ...NODE_ESM_BUNDLE,
    entryPoints: { observatory: join(ROOT, 'bin/cli.ts') },
    outdir,
    // Dependencies are bundled too: one parsed file per command beats Node resolving and loading
    // hundreds of small package files. pg-native is pg's optional native binding, never installed.
    external: ['pg-native'],
    // Less to parse on every run; identifiers stay readable in the rare stack trace.
    minifyWhitespace: true,
    minifySyntax: true,
  };
}

/**
 * Builds the CLI into `outdir` (emptied first).
 * @param outdir output directory
 * @returns the path of the built entry
 */
export async function buildCli(outdir = join(ROOT, 'dist/cli')): Promise<string> {
  rmSync(outdir, { recursive: true, force: true });
  const builtAtMs = Date.now();
  const { metafile } = await build(cliBuildOptions(outdir));
  // Only the project's own sources: packages change through `npm ci`, whose `prepare` rebuilds, and
  // checking them (over a thousand files) would cost every run ~35 ms of stat calls at start-up.
  const files = Object.keys(metafile.inputs)
    .filter((f) => !f.split(/[\\/]/).includes('node_modules'))
    .map((f) => resolve(ROOT, f));
  for (const { dir, include } of CLI_PACKAGED_FILES) {
    for (const f of readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })) {
      if (!f.isFile() || !include(f.name)) continue;
      const source = join(f.parentPath, f.name);
      cpSync(source, join(outdir, relative(ROOT, source)));
      files.push(source);
    }
  }
  writeFileSync(join(outdir, 'sources.json'), `${JSON.stringify({ builtAtMs, files })}\n`);
  const entry = join(outdir, CLI_ENTRY_FILE);
  chmodSync(entry, 0o755);
  return entry;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const entry = await buildCli(process.argv[2] ? resolve(process.argv[2]) : undefined);
  console.log(`built ${entry}`);
}
