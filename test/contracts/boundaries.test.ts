/**
 * Runtime code (lambdas/) never imports infrastructure code (lib/), and lib/ never imports lambdas/:
 * what both need lives in contracts/. Import specifiers are read with TypeScript's own pre-processor
 * (static imports, re-exports, dynamic `import()`), and `#alias/*` specifiers are resolved through
 * package.json `imports`, so neither a relative path nor an alias slips through.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const aliases = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { imports: Record<string, string> }
).imports;

/** Every .ts file under a top-level folder, relative to the repository root. */
function sources(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(folder, f));
}

/** The repository-relative target of a specifier, or undefined for a package import. */
function target(file: string, specifier: string): string | undefined {
  if (specifier.startsWith('.')) return relative(ROOT, resolve(ROOT, dirname(file), specifier));
  for (const [pattern, to] of Object.entries(aliases)) {
    const prefix = pattern.replace('*', '');
    if (specifier.startsWith(prefix))
      return relative(ROOT, resolve(ROOT, to.replace('*', specifier.slice(prefix.length))));
  }
  return undefined;
}

/** `file -> specifier` for every import of a file in `from` that lands in `forbidden`. */
function crossings(from: string, forbidden: string): string[] {
  return sources(from).flatMap((file) =>
    ts
      .preProcessFile(readFileSync(join(ROOT, file), 'utf8'), true, true)
      .importedFiles.filter((imp) => target(file, imp.fileName)?.startsWith(`${forbidden}/`))
      .map((imp) => `${file} -> ${imp.fileName}`),
  );
}

/**
 * Crossings another branch removes (the probe event contract moves to contracts/probes.ts). Each entry
 * must still cross, so the list cannot outlive the move: when it lands, this test asks to delete it.
 */
const MOVING_ELSEWHERE: string[] = [];

describe('contract boundaries', () => {
  it('finds the crossings it is meant to catch', () => {
    expect(target('lambdas/x/y.ts', '../../lib/config/schema.ts')).toBe('lib/config/schema.ts');
    expect(target('lib/a/b.ts', '#utilization/report')).toBe('lambdas/utilization/report.ts');
    expect(target('lib/a/b.ts', 'aws-cdk-lib')).toBeUndefined();
  });

  it('keeps runtime code (lambdas/) from importing lib/', () => {
    const found = crossings('lambdas', 'lib');
    expect(found.filter((c) => !MOVING_ELSEWHERE.includes(c))).toEqual([]);
    expect(MOVING_ELSEWHERE.filter((c) => !found.includes(c))).toEqual([]);
  });

  it('keeps infrastructure code (lib/) from importing lambdas/', () => {
    expect(crossings('lib', 'lambdas')).toEqual([]);
  });

  it('keeps contracts/ free of both sides', () => {
    expect([...crossings('contracts', 'lib'), ...crossings('contracts', 'lambdas')]).toEqual([]);
  });
});
