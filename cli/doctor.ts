/**
 * `observatory doctor`: checks the estate a config describes with the caller's AWS credentials and prints
 * one row per check (ok / warn / fail, the evidence, the fix).
 *
 * ```sh
 * observatory doctor -c config/prod.yaml
 * observatory doctor -c config/prod.yaml --json
 * ```
 * Exit status: 0 when no check failed (warnings pass), 1 when one failed, 2 on a usage or config error
 * or when no AWS credentials are available.
 *
 * Only the config module is loaded up front; the AWS SDK clients, the checks and (when Grafana is
 * configured) the dashboards are imported when the command runs, so `observatory --help` stays fast.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { migrationsFolder, packagedPath } from '#shared/packaged';
import type { DoctorDeps } from './doctor/run.ts';

/** Options of `observatory doctor` as commander parses them. */
export interface DoctorCliOptions {
  config: string;
  json?: boolean;
}

/** The Monitoring stack's rule files, inside the package (the built CLI carries a copy). */
export const RULES_DIR = join('lib', 'observability', 'rules');

/**
 * Names of the rule-groups namespaces the Monitoring stack loads: one per `lib/observability/rules/*.yml`
 * that is not a promtool test file (the rule of `listRuleFiles` in monitoring-stack.ts, which imports
 * aws-cdk-lib and so is not loaded here).
 * @param dir the rules directory
 */
export function ruleNamespaces(dir = packagedPath(RULES_DIR)): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yml') && !f.endsWith('.test.yml'))
    .sort()
    .map((f) => basename(f, '.yml'));
}

/** The migrations shipped with this version, from their drizzle/meta/_journal.json. */
export function readJournal(
  file = join(migrationsFolder(), 'meta', '_journal.json'),
): { tag: string; when: number }[] {
  const journal = JSON.parse(readFileSync(file, 'utf8')) as { entries: { tag: string; when: number }[] };
  return journal.entries.map((e) => ({ tag: e.tag, when: e.when })).sort((a, b) => a.when - b.when);
}

/**
 * Registers `observatory doctor` on the program.
 * @param program the root commander program
 */
export function register(program: Command): void {
  program
    .command('doctor')
    .description(
      'check that a deployed estate works: stacks, AMP, fresh samples, schedules, DLQ, executions, database, dashboards',
    )
    .requiredOption('-c, --config <file>', 'config file of the estate')
    .option('--json', 'print one JSON document instead of a table')
    .action(async (opts: DoctorCliOptions) => {
      process.exitCode = await runDoctorCommand(opts);
    });
}

/**
 * Runs the command and prints its report; returns the exit status.
 * @param opts parsed options
 * @param overrides replace parts of the real dependencies (tests: fake estate)
 * @param out where the report goes
 */
export async function runDoctorCommand(
  opts: DoctorCliOptions,
  overrides: Partial<DoctorDeps> = {},
  out: { log: (s: string) => void; error: (s: string) => void } = console,
): Promise<number> {
  const { ConfigError, loadConfig } = await import('../lib/config/loader.ts');
  let config: Awaited<ReturnType<typeof loadConfig>>;
  try {
    config = loadConfig(opts.config);
  } catch (err) {
    out.error(err instanceof ConfigError ? err.message : `error: ${(err as Error).message}`);
    return 2;
  }
  const [{ runDoctor, sdkClients, isCredentialsError }, { createPromQuery }, model, { PROJECT_VERSION }] =
    await Promise.all([
      import('./doctor/run.ts'),
      import('./doctor/promql.ts'),
      import('./doctor/model.ts'),
      import('#contracts/stacks'),
    ]);
  const deps: DoctorDeps = {
    clients: sdkClients,
    promQuery: (url, region) => createPromQuery(url, { sigv4: { region } }),
    version: PROJECT_VERSION,
    configFile: opts.config,
    journal: readJournal(),
    ruleNamespaces: ruleNamespaces(),
    dashboards: async () => {
      const { buildDashboards } = await import('../lib/observability/dashboards/index.ts');
      return buildDashboards().map((d) => ({
        uid: d.uid,
        title: d.title,
        dashboard: d.dashboard as unknown as Record<string, unknown>,
      }));
    },
    grafanaGet: grafanaGet,
    tokenFromSecret: async (secret, arn) =>
      (await import('../lambdas/grafana/publish-handler.ts')).tokenFromSecret(secret, arn),
    ...overrides,
  };
  let results: Awaited<ReturnType<typeof runDoctor>>;
  try {
    results = await runDoctor(config, deps);
  } catch (err) {
    if (isCredentialsError(err)) {
      out.error(
        `observatory doctor: no usable AWS credentials (${(err as Error).message.split('\n')[0]}): set AWS_PROFILE, run aws sso login, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`,
      );
      return 2;
    }
    throw err;
  }
  out.log(
    opts.json
      ? model.renderJson(results, {
          config: opts.config,
          version: PROJECT_VERSION,
          checkedAt: (deps.now?.() ?? new Date()).toISOString(),
        })
      : model.renderTable(results),
  );
  return model.exitStatus(results);
}

/** Reads a dashboard by UID from Grafana's HTTP API; undefined on 404. */
export async function grafanaGet(
  url: string,
  token: string,
  uid: string,
): Promise<Record<string, unknown> | undefined> {
  const res = await fetch(`${url.replace(/\/+$/, '')}/api/dashboards/uid/${encodeURIComponent(uid)}`, {
    headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    signal: AbortSignal.timeout(15_000),
  });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`grafana GET /api/dashboards/uid/${uid} returned ${res.status}`);
  return ((await res.json()) as { dashboard: Record<string, unknown> }).dashboard;
}
