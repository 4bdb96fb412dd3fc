/**
 * The subcommands of `observatory` (bin/cli.ts) and how the program is put together for one run.
 *
 * Each subcommand lives in its own module under `cli/` and is imported only when it is the one
 * invoked: `--help` imports none, `config` never loads the AWS SDK, and no command loads aws-cdk-lib.
 *
 * Adding a command is one line in {@link COMMANDS}: its name, the one-line description `--help` shows
 * and a loader of a module that exports `register(program: Command)`, which defines the command (with
 * the same name and description; test/cli/commands.test.ts checks they match) on the program it gets.
 */
import { Command } from 'commander';

/** A subcommand: what `--help` lists, and how to load the module that defines it. */
export interface CommandEntry {
  readonly name: string;
  readonly description: string;
  readonly load: () => Promise<{ register(program: Command): void }>;
}

/** Every subcommand, in the order `--help` lists them. */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'probe',
    description: 'probe TCP, HTTP(S) and DNS targets with the engine the probe Lambdas run',
    load: () => import('./probe.ts'),
  },
  {
    name: 'store',
    description: 'store utilization batch files into the database (same code as the store Lambda)',
    load: () => import('./store.ts'),
  },
  {
    name: 'migrate',
    description: 'apply the utilization database schema migrations and print the ones applied',
    load: () => import('./migrate.ts'),
  },
  {
    name: 'report',
    description: 'print the under-used resources report from the utilization database',
    load: () => import('./report.ts'),
  },
  {
    name: 'rollback',
    description: 'MSK rollbacks: check an input, start and follow a rollback, approve or reject a cutover',
    load: () => import('./rollback.ts'),
  },
  {
    name: 'dashboards',
    description:
      'write the Grafana dashboards (Network, MSK replication, Utilization, Pipeline health) as JSON files',
    load: () => import('./dashboards.ts'),
  },
  {
    name: 'config',
    description: 'validate a config file and print a summary of what it enables',
    load: () => import('./config.ts'),
  },
  {
    name: 'doctor',
    description:
      'check that a deployed estate works: stacks, AMP, fresh samples, schedules, DLQ, executions, database, dashboards',
    load: () => import('./doctor.ts'),
  },
  {
    name: 'alertmanager',
    description:
      'print the AMP Alertmanager definition (for an imported workspace: pipe to `aws amp put-alert-manager-definition`)',
    load: () => import('./alertmanager.ts'),
  },
];

/** The root program, without subcommands. */
export function rootProgram(): Command {
  return (
    new Command('observatory')
      .description('Infra Observatory: network probes, utilization reports and MSK rollbacks on AMP')
      .showHelpAfterError()
      // Usage errors exit 2, a failed check (a probe down, a rejected batch) exits 1.
      .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  );
}

/**
 * The subcommand an argument list invokes (`probe ...`, `help probe`), if it is one of {@link COMMANDS}.
 * @param args the arguments after the program name
 */
export function invoked(args: readonly string[]): CommandEntry | undefined {
  const first = args.findIndex((a) => !a.startsWith('-'));
  const name = args[first] === 'help' ? args[first + 1] : args[first];
  return COMMANDS.find((c) => c.name === name);
}

/**
 * Builds the program for an argument list: the invoked subcommand's own module, or, for help and
 * unknown commands, a placeholder per command so `--help` lists them all without loading any.
 * @param args the arguments after the program name
 */
export async function programFor(args: readonly string[]): Promise<Command> {
  const program = rootProgram();
  const entry = invoked(args);
  if (entry) (await entry.load()).register(program);
  else for (const c of COMMANDS) program.command(c.name).description(c.description);
  return program;
}

/** The oldest Node.js major the CLI runs on (package.json `engines`, the Lambda runtime). */
export const MIN_NODE_MAJOR = 22;

/**
 * Why the CLI cannot run on this Node.js, or undefined when it can.
 * @param version `process.versions.node`, e.g. `20.20.2`
 */
export function nodeVersionProblem(version: string): string | undefined {
  const major = Number(version.split('.')[0]);
  if (major >= MIN_NODE_MAJOR) return undefined;
  return `observatory needs Node.js ${MIN_NODE_MAJOR} or later, this is ${version}: install Node.js ${MIN_NODE_MAJOR}, or run it through npx or npm run in the repository, which put its node@${MIN_NODE_MAJOR} first on PATH`;
}
