import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');

function handlerEntries(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return handlerEntries(path);
    return /-?handler\.ts$/.test(name) ? [path] : [];
  });
}

describe('Lambda bundles', () => {
  const entries = handlerEntries(join(ROOT, 'lambdas'));

  it('finds the handlers of every capability', () => {
    const rel = entries.map((e) => relative(ROOT, e));
    expect(rel).toEqual(
      expect.arrayContaining(['lambdas/probes/handler.ts', 'lambdas/utilization/store-handler.ts']),
    );
  });

  // Bundled exactly as ObservedFunction does (ESM, node22, require shim), then loaded by Node 22:
  // catches CommonJS-in-ESM breakage and import-time crashes before a deploy would.
  for (const entry of entries) {
    it(`bundles and loads ${relative(ROOT, entry)}`, async () => {
      const outdir = mkdtempSync(join(tmpdir(), 'observatory-bundle-test-'));
      const outfile = join(outdir, 'index.mjs');
      const result = await build({
        entryPoints: [entry],
        outfile,
        bundle: true,
        format: 'esm',
        platform: 'node',
        target: 'node22',
        mainFields: ['module', 'main'],
        minify: true,
        sourcemap: true,
        logLevel: 'silent',
        banner: {
          js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
        },
      });
      expect(result.errors).toEqual([]);
      const type = execFileSync(
        process.execPath,
        [
          '--enable-source-maps',
          '--input-type=module',
          '-e',
          `const m = await import(${JSON.stringify(outfile)}); console.log(typeof m.handler);`,
        ],
        {
          env: {
            ...process.env,
            AWS_REGION: 'eu-west-1',
            POWERTOOLS_SERVICE_NAME: 'bundle-test',
            POWERTOOLS_METRICS_NAMESPACE: 'Test',
          },
          encoding: 'utf8',
          timeout: 30_000,
        },
      ).trim();
      expect(type).toBe('function');
    });
  }
});
