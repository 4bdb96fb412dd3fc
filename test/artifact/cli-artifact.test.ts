/**
 * The `observatory` command as a user gets it: the package is built (scripts/build-cli.ts) and packed
 * with `npm pack` (so package.json `files` decides what ships), the tarball is unpacked into an empty
 * folder, and its `bin` is run through its shebang with Node 22 from a fresh working directory outside
 * the repository, with an empty HOME and no AWS_* variables. Every subcommand the CLI lists is run
 * there: its `--help` (found by walking the CLI's own help, nested commands included) and at least one
 * real use from {@link USES}. A subcommand without a use fails the table test.
 *
 * `npm install` of the tarball is not run: it would fetch the runtime dependencies from the registry,
 * and the bundle carries them all (only pg's optional native binding is external).
 */
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildCli } from '../../scripts/build-cli.ts';
import { startTcpServer } from '../probes/support/servers.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';

const ROOT = join(import.meta.dirname, '../..');
const NODE22 = join(ROOT, 'node_modules/node/bin/node');
const BATCH = join(ROOT, 'test/fixtures/batches/ec2-eu-west-1-sample.json');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** What every use gets: the folder it runs in (empty but for what the use puts there) and the CLI. */
interface UseContext {
  cwd: string;
  observatory(...args: string[]): Promise<Run>;
}

const work = mkdtempSync(join(tmpdir(), 'observatory-artifact-'));
let installed: { bin: string; pathDir: string; home: string };

/** Packs the project as `npm pack` does and unpacks it into an empty folder; returns its bin. */
async function packAndInstall(): Promise<typeof installed> {
  // A staging copy of what the package is made of, so the test never writes into the repository's dist/.
  const staging = join(work, 'staging');
  mkdirSync(staging);
  for (const f of ['package.json', 'README.md']) cpSync(join(ROOT, f), join(staging, f));
  await buildCli(join(staging, 'dist/cli'));
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
      cwd: staging,
      encoding: 'utf8',
      env: { ...process.env, npm_config_loglevel: 'error' },
    }),
  ) as { filename: string }[];
  const tarball = join(work, packed[0]!.filename);
  const pkg = join(work, 'install/node_modules/infra-observatory');
  mkdirSync(pkg, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', pkg, '--strip-components=1']);
  const bin = (JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { bin: Record<string, string> })
    .bin.observatory!;
  // What npm's bin linking gives a user: `observatory` on PATH, run by its `#!/usr/bin/env node`, here
  // with Node 22 first on PATH.
  const pathDir = join(work, 'bin');
  mkdirSync(pathDir);
  symlinkSync(join(pkg, bin), join(pathDir, 'observatory'));
  symlinkSync(NODE22, join(pathDir, 'node'));
  const home = join(work, 'home');
  mkdirSync(home);
  return { bin: join(pkg, bin), pathDir, home };
}

/** Runs `observatory` in `cwd` as a user's shell would, with no AWS settings or credentials in reach. */
function observatory(cwd: string, args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = {
    PATH: `${installed.pathDir}:/usr/local/bin:/usr/bin:/bin`,
    HOME: installed.home,
    // No instance metadata either: without it the SDK would try 169.254.169.254 for credentials.
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  return new Promise((resolve) => {
    execFile('observatory', args, { cwd, env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? Number((err as { code?: number | string }).code ?? 1) : 0;
      resolve({ code: Number.isNaN(code) ? -1 : code, stdout, stderr });
    });
  });
}

/** The subcommands a help text lists under `Commands:` (without commander's `help`). */
function listedCommands(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
}

/** Every command path the CLI lists, nested ones included (`rollback render`), from its own help. */
async function commandPaths(prefix: string[] = []): Promise<string[][]> {
  const help = await observatory(work, [...prefix, '--help']);
  const paths: string[][] = [];
  for (const name of listedCommands(help.stdout)) {
    paths.push([...prefix, name]);
    paths.push(...(await commandPaths([...prefix, name])));
  }
  return paths;
}

let pgMigrate: TestDatabase;
let pgStore: TestDatabase;
let pgReport: TestDatabase;
let tcp: Awaited<ReturnType<typeof startTcpServer>>;

/**
 * Real uses of each subcommand, keyed by the command path. Every top-level subcommand needs at least one
 * (a key equal to it or starting with it), so a subcommand added later fails until it has one.
 */
const USES: Record<string, (ctx: UseContext) => Promise<void>> = {
  async config({ cwd, observatory }) {
    cpSync(join(ROOT, 'config/example.yaml'), join(cwd, 'observatory.yaml'));
    const r = await observatory('config', 'observatory.yaml');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('observatory.yaml: valid');
    // Without a file, outside a checkout: one line that says what to pass, not an ENOENT.
    const bare = await observatory('config');
    expect(bare.code).toBe(2);
    expect(bare.stdout).toBe('');
    expect(bare.stderr).toBe(
      `observatory config: no file given and there is no config/example.yaml in ${cwd}; name the file: observatory config FILE\n`,
    );
  },

  async probe({ observatory }) {
    const target = `tcp://127.0.0.1:${tcp.port}`;
    const r = await observatory('probe', '-t', target, '-n', '2', '--interval', '10', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const run = JSON.parse(r.stdout) as {
      succeeded: number;
      outcomes: { target: string; tcp: { successes: number } }[];
    };
    expect(run.succeeded).toBe(1);
    expect(run.outcomes.map((o) => [o.target, o.tcp.successes])).toEqual([[target, 2]]);
  },

  async migrate({ observatory }) {
    const tags = (
      JSON.parse(readFileSync(join(ROOT, 'drizzle/meta/_journal.json'), 'utf8')) as {
        entries: { tag: string }[];
      }
    ).entries.map((e) => e.tag);
    const r = await observatory('migrate', '--database-url', pgMigrate.url);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      ...tags.map((t) => `applied ${t}`),
      `${tags.length} migrations applied; schema up to date (${tags.length} in total)`,
    ]);
    const again = await observatory('migrate', '--database-url', pgMigrate.url);
    expect(again.stdout.trim()).toBe(`nothing to apply; schema up to date (${tags.length} migrations)`);
  },

  async store({ cwd, observatory }) {
    // The case: --migrate from a folder that is not the repository (a relative batch path too).
    cpSync(BATCH, join(cwd, 'batch.json'));
    const r = await observatory('store', '--migrate', '--database-url', pgStore.url, 'batch.json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^batch\.json: stored \S+ \(1344 rows, 1344 written, 2 resources\)$/m);
    const counted = await pgStore.query<{ n: string }>('select count(*) n from metric_rows');
    expect(counted.map((c) => Number(c.n))).toEqual([1344]);
  },

  async report({ observatory }) {
    // The report reads what the store wrote; the rows are stored here from source, not under test.
    const { storeBatch } = await import('#utilization/store');
    expect((await storeBatch(pgReport.db, readFileSync(BATCH, 'utf8'))).outcome).toBe('stored');
    const r = await observatory(
      'report',
      '--database-url',
      pgReport.url,
      '--no-pricing',
      '--format',
      'json',
      '--as-of',
      '2025-01-20T00:00:00Z',
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { asOf: string; totals: { service: string; accountId: string }[] };
    expect(report.asOf).toBe('2025-01-20T00:00:00.000Z');
    expect(report.totals.map((t) => [t.service, t.accountId])).toEqual([['ec2', '111122223333']]);
  },

  async dashboards({ cwd, observatory }) {
    const r = await observatory('dashboards', '--out', 'dashboards');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const files = readdirSync(join(cwd, 'dashboards')).sort();
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const f of files) {
      const d = JSON.parse(readFileSync(join(cwd, 'dashboards', f), 'utf8')) as {
        uid: string;
        panels: unknown[];
      };
      expect(`${d.uid}.json`).toBe(f);
      expect(d.panels.length).toBeGreaterThan(0);
    }
  },

  async 'rollback render'({ cwd, observatory }) {
    cpSync(join(ROOT, 'config/example.yaml'), join(cwd, 'observatory.yaml'));
    cpSync(join(ROOT, 'lambdas/msk-rollback/example-input.json'), join(cwd, 'input.json'));
    const { SOURCE_BROKERS, TARGET_BROKERS } = await import('../msk-rollback/world.ts');
    const r = await observatory(
      'rollback',
      'render',
      '-i',
      'input.json',
      '--source-brokers',
      SOURCE_BROKERS,
      '--target-brokers',
      TARGET_BROKERS,
      '-c',
      'observatory.yaml',
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(ROOT, 'test/msk-rollback/golden/forward.properties'), 'utf8'));
  },

  async alertmanager({ observatory }) {
    const r = await observatory('alertmanager', '--topic-arn', 'arn:aws:sns:eu-west-1:111111111111:alerts');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const definition = parse(r.stdout) as { alertmanager_config: string };
    expect(parse(definition.alertmanager_config)).toMatchObject({
      receivers: expect.arrayContaining([
        expect.objectContaining({
          sns_configs: [expect.objectContaining({ topic_arn: 'arn:aws:sns:eu-west-1:111111111111:alerts' })],
        }),
      ]),
    });
  },

  async doctor({ cwd, observatory }) {
    cpSync(join(ROOT, 'config/example.yaml'), join(cwd, 'observatory.yaml'));
    const r = await observatory('doctor', '-c', 'observatory.yaml');
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /^observatory doctor: no usable AWS credentials \(.+\): set AWS_PROFILE, run aws sso login, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n$/,
    );
    expect(r.code).toBe(2);
  },
};

describe('the packed observatory CLI, run from a foreign working directory', () => {
  let paths: string[][] = [];
  beforeAll(async () => {
    [installed, pgMigrate, pgStore, pgReport, tcp] = await Promise.all([
      packAndInstall(),
      createTestDatabase({ migrate: false }),
      createTestDatabase({ migrate: false }),
      createTestDatabase(),
      startTcpServer(),
    ]);
    paths = await commandPaths();
  }, 180_000);
  afterAll(async () => {
    await Promise.allSettled([pgMigrate?.drop(), pgStore?.drop(), pgReport?.drop(), tcp?.close()]);
    rmSync(work, { recursive: true, force: true });
  });

  it('ships the bin and the files it reads, and nothing of the sources', () => {
    const pkg = dirname(dirname(dirname(installed.bin)));
    const files = readdirSync(pkg, { recursive: true, withFileTypes: true })
      .filter((f) => f.isFile())
      .map((f) => join(f.parentPath, f.name).slice(pkg.length + 1));
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'dist/cli/observatory.mjs',
        'dist/cli/drizzle/meta/_journal.json',
        'dist/cli/lib/observability/rules/probes.yml',
      ]),
    );
    expect(files.filter((f) => f.endsWith('.ts'))).toEqual([]);
  });

  it('has a use for every subcommand the CLI lists, and none for one it does not', () => {
    const top = paths.filter((p) => p.length === 1).map((p) => p[0]!);
    expect(top).toEqual(expect.arrayContaining(['probe', 'store', 'migrate', 'doctor']));
    const covered = (name: string) => Object.keys(USES).some((k) => k === name || k.startsWith(`${name} `));
    expect(top.filter((c) => !covered(c))).toEqual([]);
    const listed = new Set(paths.map((p) => p.join(' ')));
    expect(Object.keys(USES).filter((k) => !listed.has(k))).toEqual([]);
  });

  it('prints the help of every subcommand, nested ones included, and exits 0', async () => {
    expect(paths.length).toBeGreaterThan(9);
    for (const path of paths) {
      const r = await observatory(work, [...path, '--help']);
      expect({ path, code: r.code, stderr: r.stderr }).toEqual({ path, code: 0, stderr: '' });
      expect(r.stdout).toMatch(new RegExp(`^Usage: observatory ${path.join(' ')} `));
    }
  });

  for (const [name, use] of Object.entries(USES)) {
    it(`runs ${name}`, async () => {
      const cwd = mkdtempSync(join(work, `cwd-${name.replace(/\W+/g, '-')}-`));
      const ctx: UseContext = { cwd, observatory: (...args) => observatory(cwd, args) };
      await use(ctx);
    }, 60_000);
  }
});
