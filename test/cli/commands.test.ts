/**
 * The `observatory` command table and the built CLI: every command's module defines the command the
 * table lists, `--help` loads no command module, and no command that does not synthesize can reach
 * aws-cdk-lib. Behaviour of each command is tested from source in its own area's tests.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS, invoked, nodeVersionProblem, programFor, rootProgram } from '../../cli/commands.ts';
import { buildCli, cliBuildOptions } from '../../scripts/build-cli.ts';

const ROOT = join(import.meta.dirname, '../..');

describe('observatory command table', () => {
  for (const entry of COMMANDS) {
    it(`the ${entry.name} module defines ${entry.name} with the description --help lists`, async () => {
      const program = rootProgram();
      (await entry.load()).register(program);
      const defined = program.commands.map((c) => [c.name(), c.description()]);
      expect(defined).toEqual([[entry.name, entry.description]]);
    });
  }

  it('picks the invoked command, also after help, and none for options or unknown names', () => {
    expect(invoked(['probe', '-t', 'tcp://x:1'])?.name).toBe('probe');
    expect(invoked(['help', 'rollback'])?.name).toBe('rollback');
    expect(invoked(['--help'])).toBeUndefined();
    expect(invoked(['nope'])).toBeUndefined();
  });

  it('lists every command for --help without loading their modules', async () => {
    const program = await programFor(['--help']);
    expect(program.commands.map((c) => c.name())).toEqual(COMMANDS.map((c) => c.name));
    expect(program.commands.every((c) => c.options.length === 0)).toBe(true);
  });
});

describe('nodeVersionProblem', () => {
  it('refuses a Node.js older than 22 in one line that says what to do, and accepts 22 and later', () => {
    expect(nodeVersionProblem('20.20.2')).toBe(
      'observatory needs Node.js 22 or later, this is 20.20.2: install Node.js 22, or run it through npx or npm run in the repository, which put its node@22 first on PATH',
    );
    expect(nodeVersionProblem('21.7.3')).toMatch(/^observatory needs Node\.js 22 or later, this is 21\.7\.3/);
    expect(nodeVersionProblem('22.0.0')).toBeUndefined();
    expect(nodeVersionProblem('24.1.0')).toBeUndefined();
  });
});

describe('built CLI', () => {
  let dir: string;
  let entry: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'observatory-cli-build-'));
    entry = await buildCli(dir);
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (...args: string[]) =>
    spawnSync(process.execPath, [entry, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });

  it('prints help listing every command and exits 0', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toContain(c.name);
  });

  it('validates the example config and reports a bad file with exit 1 and no stack trace', () => {
    const ok = run('config', 'config/example.yaml');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('config/example.yaml: valid');
    const bad = run('config', 'config/missing.yaml');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('invalid config config/missing.yaml');
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 2 on an unknown command', () => {
    expect(run('nope').status).toBe(2);
  });

  it('loads only the entry and commander for --help, and aws-cdk-lib for no command', async () => {
    const { metafile } = await build({ ...cliBuildOptions(join(dir, 'meta')), write: false });
    const outputs = metafile.outputs;
    const staticClosure = (file: string, seen = new Set<string>()): Set<string> => {
      if (seen.has(file)) return seen;
      seen.add(file);
      for (const i of outputs[file]?.imports ?? [])
        if (i.kind === 'import-statement' && !i.external) staticClosure(i.path, seen);
      return seen;
    };
    const inputsOf = (files: Set<string>) => [...files].flatMap((f) => Object.keys(outputs[f]?.inputs ?? {}));
    const entryFile = Object.keys(outputs).find((f) => f.endsWith('/observatory.mjs'))!;
    const help = inputsOf(staticClosure(entryFile));
    expect(help.filter((f) => f.startsWith('cli/') && f !== 'cli/commands.ts')).toEqual([]);
    expect(help.some((f) => f.includes('node_modules/zod'))).toBe(false);
    const all = Object.values(outputs).flatMap((o) => Object.keys(o.inputs));
    expect(all.some((f) => f.includes('node_modules/aws-cdk-lib'))).toBe(false);
  });
});
