/**
 * How every Lambda function's code is bundled: one definition for `ObservedFunction` (the deployed
 * code), the bundle test (test/lib/bundles.test.ts, size budgets and a cold load) and
 * `bench/bundles.ts` (sizes and cold-import times), so all three measure the same thing.
 *
 * An ESM bundle with code splitting, in two builds:
 * - the handler's own build: its static graph in `index.mjs` and `chunks/`, which a cold start reads;
 * - a lazy build under `lazy/` of every package that the project's code loads only with `import()`
 *   (the AWS SDK clients of probe discovery, for example), reached at run time through the asset's
 *   `package.json` subpath imports (`#lazy/*`).
 *
 * Why two builds: in one build, esbuild puts a module that both graphs use into a chunk the entry
 * imports statically, holding the union of what both graphs use of it. The probe's SigV4 signer uses a
 * few helpers of `@smithy/core`; the lazy EC2 and Cloud Map clients use its whole protocol layer, and
 * that layer (about 70 KB) was read at every cold start. Built apart, each side carries what it uses.
 *
 * Source maps are opt-in: they double the asset and, with `--enable-source-maps`, cost parse time on
 * every cold start.
 */
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type BuildOptions, buildSync, type Metafile } from 'esbuild';

/** Options of {@link lambdaBuildOptions}. */
export interface LambdaBundleOptions {
  /** Write `index.mjs.map` (and chunk maps) beside the code. @default false */
  readonly sourceMap?: boolean;
  /** Module substitutions for both builds (esbuild's `alias`), e.g. a stub to measure what a module costs. */
  readonly alias?: Record<string, string>;
}

/** Directory of the lazy build inside the asset, and the subpath-import prefix that reaches it. */
export const LAZY_DIR = 'lazy';
const LAZY_IMPORT = '#lazy/';

/** File name of the bundled entry; the function's handler is `index.handler`. */
export const LAMBDA_ENTRY_FILE = 'index.mjs';

/**
 * What every bundle of the project shares, the Lambda functions' and the CLI's: ESM for Node 22 with code
 * splitting (`.mjs` files, chunks under `chunks/`), a `require()` in every file for the CommonJS
 * dependencies that call it, and the module substitutions a bundle needs.
 */
export const NODE_ESM_BUNDLE = {
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
  alias: {
    // Its default entry reads `native.wasm` from beside itself, which a bundle does not have; the
    // package's `bundled` entry carries the same WebAssembly inline (used by @platformatic/kafka).
    '@platformatic/wasm-utils': '@platformatic/wasm-utils/bundled',
  },
  metafile: true,
  logLevel: 'warning',
} as const satisfies BuildOptions;

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
    ...NODE_ESM_BUNDLE,
    entryPoints: { index: entry },
    outdir,
    mainFields: ['module', 'main'],
    minify: true,
    sourcemap: opts.sourceMap ? 'external' : false,
    sourcesContent: false,
    // The Lambda runtime has no packages of its own we rely on: everything is bundled and pinned.
    external: [],
    alias: { ...NODE_ESM_BUNDLE.alias, ...opts.alias },
  };
}

/**
 * The packages to build apart: every bare specifier that the project's own code (not a dependency)
 * loads with `import()` and that the handler's static graph never reaches.
 * @param metafile a plain build's metafile
 * @param entry the handler (as the metafile names inputs, relative to the working directory)
 * @returns specifier -> input path of the module it resolves to
 */
function lazyPackages(metafile: Metafile, entry: string): Map<string, string> {
  const inputs = metafile.inputs;
  const staticGraph = new Set<string>();
  const visit = (file: string) => {
    if (staticGraph.has(file)) return;
    staticGraph.add(file);
    for (const i of inputs[file]?.imports ?? [])
      if (i.kind !== 'dynamic-import' && !i.external) visit(i.path);
  };
  visit(entry);
  const lazy = new Map<string, string>();
  for (const [file, input] of Object.entries(inputs)) {
    if (file.includes('node_modules/')) continue;
    for (const i of input.imports) {
      const specifier = i.original ?? i.path;
      if (i.kind !== 'dynamic-import' || i.external || /^[./]/.test(specifier)) continue;
      if (staticGraph.has(i.path)) continue;
      const previous = lazy.get(specifier);
      if (previous && previous !== i.path)
        throw new Error(`${specifier} resolves to both ${previous} and ${i.path}: cannot build it apart`);
      lazy.set(specifier, i.path);
    }
  }
  return lazy;
}

/** Merges the metafiles of the handler's build and its lazy build. */
function mergeMetafiles(a: Metafile, b: Metafile): Metafile {
  return { inputs: { ...a.inputs, ...b.inputs }, outputs: { ...a.outputs, ...b.outputs } };
}

/**
 * Bundles a handler into `outdir` (synchronously: CDK's local bundling is synchronous).
 * @param entry absolute path of the handler's TypeScript file
 * @param outdir output directory
 * @param opts source maps
 * @returns esbuild's metafile (what each output file holds and imports)
 */
export function bundleLambda(entry: string, outdir: string, opts: LambdaBundleOptions = {}): Metafile {
  const options = lambdaBuildOptions(entry, outdir, opts);
  // The plain build is the bundle of every function that loads no package lazily (most of them); for
  // one that does, its metafile names the packages, and its files make way for the two builds.
  const plain = buildSync(options).metafile;
  const entryInput = Object.keys(plain.inputs).find((f) => resolve(f) === resolve(entry));
  const lazy = entryInput ? lazyPackages(plain, entryInput) : new Map<string, string>();
  if (lazy.size === 0) return plain;
  for (const file of Object.keys(plain.outputs)) rmSync(resolve(file), { force: true });

  const name = (specifier: string) => specifier.replace(/^@/, '').replace(/[^\w.-]+/g, '-');
  const main = buildSync({
    ...options,
    alias: {
      ...options.alias,
      ...Object.fromEntries([...lazy.keys()].map((s) => [s, `${LAZY_IMPORT}${name(s)}.mjs`])),
    },
    external: [...(options.external ?? []), `${LAZY_IMPORT}*`],
  }).metafile;
  const lazyBuild = buildSync({
    ...options,
    entryPoints: Object.fromEntries([...lazy].map(([s, path]) => [name(s), resolve(path)])),
    outdir: join(outdir, LAZY_DIR),
    chunkNames: '[name]-[hash]',
  }).metafile;
  // Subpath imports resolve from any file of the asset (index.mjs, chunks/, lazy/) to lazy/.
  writeFileSync(
    join(outdir, 'package.json'),
    `${JSON.stringify({ type: 'module', imports: { [`${LAZY_IMPORT}*`]: `./${LAZY_DIR}/*` } }, null, 2)}\n`,
  );
  return mergeMetafiles(main, lazyBuild);
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
