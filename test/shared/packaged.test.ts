import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { migrationsFolder, packagedPath } from '#shared/packaged';

const ROOT = join(import.meta.dirname, '../..');

describe('packagedPath', () => {
  const work = mkdtempSync(join(tmpdir(), 'observatory-packaged-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  // A built CLI's layout: the entry beside the packaged files, chunks one level down.
  const pkg = join(work, 'pkg');
  mkdirSync(join(pkg, 'dist/cli/chunks'), { recursive: true });
  mkdirSync(join(pkg, 'dist/cli/drizzle/meta'), { recursive: true });
  writeFileSync(join(pkg, 'dist/cli/drizzle/meta/_journal.json'), '{}');
  const chunk = pathToFileURL(join(pkg, 'dist/cli/chunks/migrate-abc.mjs')).href;

  it('finds a file beside the bundle from a chunk one folder down, whatever the working directory', () => {
    expect(packagedPath('drizzle/meta/_journal.json', chunk)).toBe(
      join(pkg, 'dist/cli/drizzle/meta/_journal.json'),
    );
  });

  it('stops at the package root and names the file and the folders searched', () => {
    writeFileSync(join(pkg, 'package.json'), '{}');
    // A copy above the package root must not be picked up.
    mkdirSync(join(work, 'lib/observability/rules'), { recursive: true });
    expect(() => packagedPath('lib/observability/rules', chunk)).toThrow(
      `lib/observability/rules is not packaged with this code: looked in ${join(pkg, 'dist/cli/chunks')} and every folder up to ${pkg}`,
    );
  });

  it('resolves the repository migrations from source and lets MIGRATIONS_FOLDER override them', () => {
    expect(migrationsFolder({})).toBe(join(ROOT, 'drizzle'));
    expect(migrationsFolder({ MIGRATIONS_FOLDER: 'some/where' })).toBe(join(process.cwd(), 'some/where'));
  });
});
