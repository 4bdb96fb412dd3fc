/**
 * `observatory probe`: runs the Lambda's probe engine from a workstation against any target.
 *
 * ```sh
 * observatory probe -t tcp://db.internal:5432 -t https://example.com/health -t 'dns://example.com?type=AAAA'
 * observatory probe --config config/example.yaml --json --repeat 10 --every 60
 * observatory probe -t tcp://10.0.0.5:443 --remote-write https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write
 * ```
 * Exit status: 0 when every probe succeeded, 1 when one failed, 2 on a usage or config error.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';

/** Options of `observatory probe` as commander parses them. */
export interface ProbeCliOptions {
  config?: string;
  target: string[];
  attempts?: number;
  timeout?: number;
  interval?: number;
  concurrency?: number;
  /** Seconds; default {@link defaultDeadlineSeconds}. */
  deadline?: number;
  json?: boolean;
  repeat: number;
  every: number;
  remoteWrite?: string;
  ca?: string;
  insecure?: boolean;
  dnsServer: string[];
  expectStatus?: number[];
  bodyRegex?: string;
  header: string[];
  followRedirects?: boolean;
  sourceRegion: string;
  sourceAz: string;
  sourceAzId: string;
}

/**
 * Most TCP attempts the CLI makes per address. The Lambda keeps the config's budget (50, inside its
 * one-minute run); on a workstation, measuring loss of 0.1% needs on the order of 1,000 attempts.
 */
export const CLI_MAX_ATTEMPTS = 1000;

const int = (what: string, min: number, max: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new InvalidArgumentError(`${what} must be an integer ${min}-${max}, got "${value}"`);
  return n;
};
const collect = (value: string, previous: string[]) => [...previous, value];

/**
 * Registers `observatory probe` on the program.
 * @param program the root commander program
 */
export function register(program: Command): void {
  program
    .command('probe')
    .description('probe TCP, HTTP(S) and DNS targets with the engine the probe Lambdas run')
    .option('-c, --config <file>', 'read targets and settings from the probes section of a config file')
    .option(
      '-t, --target <uri>',
      'tcp://host:port | http(s)://... | dns://name[?type=A&expect=v1,v2] (repeatable)',
      collect,
      [],
    )
    .option(
      '-n, --attempts <n>',
      `TCP connections per address, up to ${CLI_MAX_ATTEMPTS} (default: config or 5)`,
      int('attempts', 1, CLI_MAX_ATTEMPTS),
    )
    .option(
      '--timeout <ms>',
      'timeout of one TCP attempt, HTTP probe or DNS query (default: config or 2000)',
      int('timeout', 1, 120_000),
    )
    .option('--interval <ms>', 'pause between TCP attempts (default 100)', int('interval', 0, 60_000))
    .option(
      '--concurrency <n>',
      'addresses probed at once (default: config or 16)',
      int('concurrency', 1, 256),
    )
    .option(
      '--deadline <seconds>',
      'time budget of one run; later probes are reported as deadline failures (default: 55, or more when the attempts need it)',
      int('deadline', 1, 86_400),
    )
    .option('--json', 'print one JSON document per run (one line each) instead of a table')
    .option('--repeat <n>', 'number of runs', int('repeat', 1, 1_000_000), 1)
    .option('--every <seconds>', 'time between run starts when repeating', int('every', 1, 86_400), 60)
    .option(
      '--remote-write <url>',
      'also write samples to this remote-write URL (SigV4-signed when it is AMP)',
    )
    .option(
      '--ca <file>',
      'trust the PEM certificates in this file for HTTPS targets (in addition to the defaults)',
    )
    .option('--insecure', 'do not fail HTTPS targets on an untrusted certificate')
    .option('--dns-server <addr>', 'resolver for dns:// targets, ip or ip:port (repeatable)', collect, [])
    .option(
      '--expect-status <codes>',
      'HTTP status codes that count as success, comma-separated (default 200)',
      (v: string) => v.split(',').map((c) => int('status code', 100, 599)(c.trim())),
    )
    .option('--body-regex <re>', 'HTTP body must match this regular expression')
    .option('--header <name=regex>', 'HTTP response header must match (repeatable)', collect, [])
    .option('--follow-redirects', 'follow HTTP redirects (up to 10)')
    .addOption(
      new Option('--source-region <region>', 'source_region label').default(
        process.env.AWS_REGION ?? 'local',
      ),
    )
    .option('--source-az <az>', 'source_az label', 'local')
    .option('--source-az-id <id>', 'source_az_id label', 'local')
    .action(async (opts: ProbeCliOptions) => {
      // The engine, the remote-write client and the config schema load only when the command runs.
      const { runProbeCommand } = await import('./probe-run.ts');
      process.exitCode = await runProbeCommand(opts);
    });
}
