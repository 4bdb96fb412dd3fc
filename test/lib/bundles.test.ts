import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import type { Metafile } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import {
  bundleLambda,
  bundleSize,
  handlerEntries,
  LAMBDA_ENTRY_FILE,
} from '../../lib/observability/bundling.ts';

const ROOT = join(import.meta.dirname, '../..');

/**
 * Size budgets of what each function's cold start loads (the entry and its static chunks), in KB.
 * Sizes are deterministic for a locked dependency tree, so a budget breaks only when code or a
 * dependency grows: raise one deliberately, with the reason in the commit. `npm run bench` prints the
 * figures. The probe function's goal is 300 KB. Packages the code loads only with `import()` are built
 * apart (`lazy/`, see bundling.ts), so what they share with the static graph is not read at a cold start.
 */
// The Kafka-reading functions carry aws-msk-iam-sasl-signer-js and the STS client it signs with (~90 KB).
const COLD_PATH_BUDGET_KB: Record<string, number> = {
  'lambdas/grafana/publish-handler.ts': 820,
  'lambdas/msk-rollback/discover-topics-handler.ts': 1160,
  'lambdas/msk-rollback/poll-replication-handler.ts': 1260,
  'lambdas/msk-rollback/render-config-handler.ts': 1020,
  'lambdas/msk-rollback/request-approval-handler.ts': 880,
  'lambdas/msk-rollback/stop-replication-handler.ts': 880,
  'lambdas/msk-rollback/validate-clusters-handler.ts': 1510,
  'lambdas/msk-rollback/validate-input-handler.ts': 640,
  'lambdas/msk-rollback/verify-offsets-handler.ts': 1240,
  'lambdas/probes/handler.ts': 280,
  // 228 KB measured: Powertools, the remote-write client and zod/mini; the EC2 client loads with import()
  'lambdas/probes/network-performance-handler.ts': 240,
  'lambdas/utilization/collect-handler.ts': 1820,
  'lambdas/utilization/collection-summary-handler.ts': 780,
  'lambdas/utilization/migrate-handler.ts': 1000,
  'lambdas/utilization/report-handler.ts': 1290,
  'lambdas/utilization/store-handler.ts': 1180,
};

/** The subpath imports by which a bundle reaches the packages built apart, sorted. */
function lazySpecifiers(metafile: Metafile): string[] {
  const all = Object.values(metafile.outputs).flatMap((o) =>
    o.imports.filter((i) => i.external && i.path.startsWith('#lazy/')).map((i) => i.path),
  );
  return [...new Set(all)].sort();
}

describe('Lambda bundles', () => {
  const entries = handlerEntries(join(ROOT, 'lambdas'));
  const work = mkdtempSync(join(tmpdir(), 'observatory-bundle-test-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('has a budget for every handler and no budget for a handler that is gone', () => {
    expect(entries.map((e) => relative(ROOT, e)).sort()).toEqual(Object.keys(COLD_PATH_BUDGET_KB).sort());
  });

  // Bundled exactly as ObservedFunction does, then loaded by Node 22: catches CommonJS-in-ESM breakage,
  // a chunk that is missing, and import-time crashes before a deploy would.
  for (const entry of entries) {
    const name = relative(ROOT, entry);
    it(`bundles ${name} within its budget, without lib/, and loads it`, () => {
      const outdir = join(work, name.replace(/\W+/g, '-'));
      const metafile = bundleLambda(entry, outdir);
      const size = bundleSize(metafile);
      expect(size.mapBytes).toBe(0);
      // Runtime code never imports infrastructure code: what both need lives in contracts/.
      expect(Object.keys(metafile.inputs).filter((f) => relative(ROOT, f).startsWith('lib/'))).toEqual([]);
      expect(Math.round(size.coldBytes / 1024)).toBeLessThanOrEqual(COLD_PATH_BUDGET_KB[name] ?? 0);
      // Then every package built apart, as the function reaches it: through the asset's package.json,
      // from a file in chunks/ (a package that reads files beside its own modules fails here).
      const lazy = lazySpecifiers(metafile);
      mkdirSync(join(outdir, 'chunks'), { recursive: true });
      writeFileSync(
        join(outdir, 'chunks', 'load-check.mjs'),
        `await import('../${LAMBDA_ENTRY_FILE}').then((m) => console.log(typeof m.handler));\n` +
          `for (const s of ${JSON.stringify(lazy)}) console.log(Object.keys(await import(s)).length > 0);\n`,
      );
      const type = execFileSync(process.execPath, [join(outdir, 'chunks', 'load-check.mjs')], {
        env: {
          ...process.env,
          AWS_REGION: 'eu-west-1',
          POWERTOOLS_SERVICE_NAME: 'bundle-test',
          POWERTOOLS_METRICS_NAMESPACE: 'Test',
        },
        encoding: 'utf8',
        timeout: 30_000,
      }).trim();
      expect(type.split('\n')).toEqual(['function', ...lazy.map(() => 'true')]);
    });
  }

  it('keeps the discovery SDK clients of the probe function out of its cold path', () => {
    const outdir = join(work, 'probe-lazy');
    const metafile = bundleLambda(join(ROOT, 'lambdas/probes/handler.ts'), outdir);
    const size = bundleSize(metafile);
    const coldInputs = size.coldFiles.flatMap((file) => Object.keys(metafile.outputs[file]?.inputs ?? {}));
    expect(coldInputs.some((f) => f.includes('lambdas/probes/run.ts'))).toBe(true);
    expect(coldInputs.some((f) => f.includes('@aws-sdk/client-ec2'))).toBe(false);
    expect(coldInputs.some((f) => f.includes('zod/v4/classic'))).toBe(false);
    // The lazy chunks are in the asset: the SDK is there when discovery needs it.
    expect(size.totalBytes - size.coldBytes).toBeGreaterThan(500 * 1024);
    // What the lazy clients share with the signer is not read at a cold start: the signer's few
    // helpers of @smithy/core are, the protocol layer only the clients use is not.
    expect(coldInputs.some((f) => f.includes('@smithy/signature-v4'))).toBe(true);
    expect(coldInputs.filter((f) => f.includes('@smithy/core/dist-es/submodules/protocols/json/'))).toEqual(
      [],
    );
  });

  it('builds apart exactly the packages the code loads with import(): discovery, credentials, DescribeLogDirs', () => {
    const lazyOf = (handler: string) =>
      lazySpecifiers(bundleLambda(join(ROOT, handler), join(work, `lazy-${handler.replace(/\W+/g, '-')}`)));
    expect(lazyOf('lambdas/probes/handler.ts')).toEqual([
      '#lazy/aws-sdk-client-ec2.mjs',
      '#lazy/aws-sdk-client-servicediscovery.mjs',
      '#lazy/aws-sdk-credential-provider-node.mjs',
    ]);
    expect(lazyOf('lambdas/msk-rollback/discover-topics-handler.ts')).toEqual([
      '#lazy/platformatic-kafka.mjs',
    ]);
  });

  it('leaves in the asset exactly what its builds describe, nothing of the plain build it replaced', () => {
    const outdir = join(work, 'probe-files');
    const metafile = bundleLambda(join(ROOT, 'lambdas/probes/handler.ts'), outdir);
    const onDisk = readdirSync(outdir, { recursive: true, withFileTypes: true })
      .filter((f) => f.isFile())
      .map((f) => join(f.parentPath, f.name))
      .sort();
    const described = [...Object.keys(metafile.outputs).map((f) => resolve(f)), join(outdir, 'package.json')];
    expect(onDisk).toEqual(described.sort());
  });

  it('writes source maps only when asked', () => {
    const outdir = join(work, 'probe-maps');
    const size = bundleSize(
      bundleLambda(join(ROOT, 'lambdas/probes/handler.ts'), outdir, { sourceMap: true }),
    );
    expect(size.mapBytes).toBeGreaterThan(size.coldBytes);
  });
});
