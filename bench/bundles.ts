/**
 * Every Lambda function's bundle, built exactly as `ObservedFunction` builds it (`lambdaBuildOptions`):
 * what a cold start loads (the entry and the chunks it imports statically), the whole asset (lazy
 * chunks included), and a cold `import()` in a fresh Node 22 process, median of 10 processes, net of
 * the same import of an empty module measured alternately with it. Then what two options cost on the
 * probe function: source maps (with `--enable-source-maps`, as the function runs them) and tracing
 * (Powertools Tracer and the X-Ray SDK, replaced by a no-op stub). Prints figures; never fails on time.
 *
 *   npx tsx bench/bundles.ts [filter]      (filter: a substring of the handler path)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  bundleLambda,
  bundleSize,
  handlerEntries,
  LAMBDA_ENTRY_FILE,
} from '../lib/observability/bundling.ts';

const ROOT = join(import.meta.dirname, '..');
const RUNS = 10;
const filter = process.argv[2] ?? '';
const work = mkdtempSync(join(tmpdir(), 'observatory-bench-bundles-'));
const empty = join(work, 'empty.mjs');
writeFileSync(empty, 'export {};\n');

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;

// A failed import prints its error line, not the minified source Node quotes around it.
function run(...args: Parameters<typeof execFileSync>): string {
  try {
    return String(execFileSync(...args));
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '');
    throw new Error(
      `import failed: ${stderr.split('\n').find((l) => /^\w*Error/.test(l)) ?? (err as Error).message}`,
    );
  }
}

/** Milliseconds of one `import()` of `file` in a fresh Node 22 process (the one running this bench). */
function importMs(file: string, nodeOptions: string[] = []): number {
  const out = run(
    process.execPath,
    [
      ...nodeOptions,
      '--input-type=module',
      '-e',
      `const t = performance.now(); await import(${JSON.stringify(file)}); console.log(performance.now() - t);`,
    ],
    {
      encoding: 'utf8',
      // What the function's environment holds at init (Powertools reads these at import).
      env: {
        PATH: process.env.PATH,
        AWS_REGION: 'eu-west-1',
        AWS_LAMBDA_FUNCTION_NAME: 'bench',
        POWERTOOLS_SERVICE_NAME: 'bench',
        POWERTOOLS_METRICS_NAMESPACE: 'Bench',
        REMOTE_WRITE_URL: 'http://127.0.0.1:9/api/v1/write',
      },
    },
  );
  return Number(out.trim().split('\n').pop());
}

/** Median cold import net of an empty module, the two measured alternately. */
function coldImport(file: string, nodeOptions: string[] = []): { net: number; empty: number } {
  const mod: number[] = [];
  const base: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    base.push(importMs(empty, nodeOptions));
    mod.push(importMs(join(file), nodeOptions));
  }
  return { net: median(mod) - median(base), empty: median(base) };
}

const rows: string[][] = [];
const row = (
  name: string,
  dir: string,
  metafile: Parameters<typeof bundleSize>[0],
  nodeOptions: string[] = [],
) => {
  const size = bundleSize(metafile);
  const t = coldImport(join(dir, LAMBDA_ENTRY_FILE), nodeOptions);
  rows.push([
    name,
    kb(size.coldBytes),
    kb(size.totalBytes),
    size.mapBytes ? kb(size.mapBytes) : '-',
    `${t.net.toFixed(0)} ms`,
    `${t.empty.toFixed(1)} ms`,
  ]);
};

try {
  for (const entry of handlerEntries(join(ROOT, 'lambdas'))) {
    const name = relative(ROOT, entry);
    if (!name.includes(filter)) continue;
    const dir = join(work, name.replace(/\W+/g, '-'));
    row(name, dir, bundleLambda(entry, dir));
  }

  const probe = join(ROOT, 'lambdas/probes/handler.ts');
  if ('lambdas/probes/handler.ts'.includes(filter)) {
    const maps = join(work, 'probe-maps');
    row('  probe, source maps on', maps, bundleLambda(probe, maps, { sourceMap: true }), [
      '--enable-source-maps',
    ]);
    // Tracing's share: the same bundle with the Tracer and its middleware replaced by no-ops.
    const stub = join(work, 'tracer-stub.mjs');
    writeFileSync(
      stub,
      'export class Tracer { captureAWSv3Client(c) { return c; } }\nexport const captureLambdaHandler = () => ({ before: () => {} });\n',
    );
    const untraced = join(work, 'probe-untraced');
    const metafile = bundleLambda(probe, untraced, {
      alias: { '@aws-lambda-powertools/tracer/middleware': stub, '@aws-lambda-powertools/tracer': stub },
    });
    row('  probe, tracing stubbed out', untraced, metafile);
  }

  const header = ['function', 'cold path', 'whole asset', 'source maps', 'cold import (net)', 'empty module'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(
    `Lambda bundles (ObservedFunction's esbuild options; cold import: median of ${RUNS} fresh Node ${process.versions.node} processes, net of an empty module)`,
  );
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  console.log('goal for the probe function: cold path <= 300 KB, cold import <= 150 ms');
} finally {
  rmSync(work, { recursive: true, force: true });
}
