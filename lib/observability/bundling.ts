/**
 * How every Lambda function's code is bundled: one definition for `ObservedFunction` (the deployed
 * code), the bundle test (test/lib/bundles.test.ts, size budgets and a cold load) and
 * `bench/bundles.ts` (sizes and cold-import times), so all three measure the same thing.
 *
 * An ESM bundle with code splitting: a module the handler loads with `import()` (the AWS SDK clients of
 * probe discovery, for example) lands in a chunk of its own under `chunks/`, which a cold start never
 * reads unless that code runs. Source maps are opt-in: they double the asset and, with
 * `--enable-source-maps`, cost parse time on every cold start.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type BuildOptions, buildSync, type Metafile } from 'esbuild';

/** Options of {@link lambdaBuildOptions}. */
export interface LambdaBundleOptions {
  /** Write `index.mjs.map` (and chunk maps) beside the code. @default false */
  readonly sourceMap?: boolean;
}

/** File name of the bundled entry; the function's handler is `index.handler`. */
export const LAMBDA_ENTRY_FILE = 'index.mjs';

/**
 * The esbuild options of a Lambda bundle.
 * @param entry absolute path of the handler's TypeScript file
 * @param outdir directory that receives `index.mjs` and `chunks/`
 * @param opts source maps
 */
export function lambdaBuildOptions(
  entry: string,
  outdir: string,
  opts: LambdaBundleOptions = {},
): BuildOptions & { metafile: true } {
  return {
    entryPoints: { index: entry },
    outdir,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    mainFields: ['module', 'main'],
    minify: true,
    sourcemap: opts.sourceMap ? 'external' : false,
    sourcesContent: false,
    // The Lambda runtime has no packages of its own we rely on: everything is bundled and pinned.
    external: [],
    // ESM bundles still meet CommonJS dependencies that call require(): give every file one.
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    metafile: true,
    logLevel: 'warning',
  };
}

/**
 * Bundles a handler into `outdir` (synchronously: CDK's local bundling is synchronous).
 * @param entry absolute path of the handler's TypeScript file
 * @param outdir output directory
 * @param opts source maps
 * @returns esbuild's metafile (what each output file holds and imports)
 */
export function bundleLambda(entry: string, outdir: string, opts: LambdaBundleOptions = {}): Metafile {
  return buildSync(lambdaBuildOptions(entry, outdir, opts)).metafile;
}

/** Sizes of a bundle: what a cold start reads, and everything in the asset. */
export interface BundleSize {
  /** Bytes of the entry and the chunks it imports statically (transitively): what a cold start loads. */
  readonly coldBytes: number;
  /** Bytes of every JavaScript file of the bundle, lazy chunks included (source maps not counted). */
  readonly totalBytes: number;
  /** Bytes of source maps (0 when they are off). */
  readonly mapBytes: number;
  /** The output files a cold start loads, as the metafile names them. */
  readonly coldFiles: string[];
}

/**
 * Measures a bundle from its metafile.
 * @param metafile what {@link bundleLambda} returned
 */
export function bundleSize(metafile: Metafile): BundleSize {
  const outputs = metafile.outputs;
  // Chunks loaded by import() carry an entryPoint too: the handler's is the top-level index.mjs.
  const entry = Object.keys(outputs).find(
    (f) => !f.includes('/chunks/') && f.endsWith(`/${LAMBDA_ENTRY_FILE}`),
  );
  if (!entry) throw new Error('bundle has no entry output');
  const cold = new Set<string>();
  const visit = (file: string) => {
    if (cold.has(file)) return;
    cold.add(file);
    for (const i of outputs[file]?.imports ?? [])
      if (i.kind === 'import-statement' && !i.external) visit(i.path);
  };
  visit(entry);
  let totalBytes = 0;
  let mapBytes = 0;
  for (const [file, out] of Object.entries(outputs)) {
    if (file.endsWith('.map')) mapBytes += out.bytes;
    else totalBytes += out.bytes;
  }
  const coldBytes = [...cold].reduce((n, f) => n + (outputs[f]?.bytes ?? 0), 0);
  return { coldBytes, totalBytes, mapBytes, coldFiles: [...cold] };
}

/**
 * Every Lambda entry of the project: the `handler.ts` and `*-handler.ts` files under `lambdas/`.
 * @param lambdasDir the `lambdas/` directory
 * @returns absolute paths, sorted
 */
export function handlerEntries(lambdasDir: string): string[] {
  return readdirSync(lambdasDir, { recursive: true, withFileTypes: true })
    .filter((f) => f.isFile() && /(^|-)handler\.ts$/.test(f.name))
    .map((f) => join(f.parentPath, f.name))
    .sort();
}
