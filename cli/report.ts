/**
 * `observatory report`: the under-use report from the utilization database, as the report Lambda
 * builds it, printed as a table, CSV, Markdown or JSON.
 *
 * ```sh
 * DATABASE_URL=postgres://postgres@127.0.0.1:5432/observatory observatory report --format markdown
 * observatory report --config config/example.yaml --as-of 2025-01-20T00:00:00Z --no-pricing --format csv > idle.csv
 * ```
 * Costs come from the AWS Price List API (needs AWS credentials; `--no-pricing` skips it). The policy is
 * the config file's `utilization.policy` (rightsizing and trends: `utilization.rightsizing`, `.trends`,
 * `.forecastAlertDays`) when `--config` is given, else the defaults. Without pricing, rightsizing savings
 * are at the catalog's us-east-1 list prices (rightsizing-catalog.ts).
 * Exit status: 0 on success (with or without findings), 2 on a usage, config or database error.
 */
import { PricingClient } from '@aws-sdk/client-pricing';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { type AdvicePolicy, AdvicePolicySchema } from '#contracts/utilization';
import { AwsPriceList, CachedPrices, FailFastPrices, type PricePort } from '#utilization/pricing';
import { buildReport } from '#utilization/report';
import { formatReport, REPORT_FORMATS, type ReportFormat } from '#utilization/report-format';
import { ConfigError, loadConfig } from '../lib/config/loader.ts';
import { type UnderUsePolicy, UnderUsePolicySchema } from '../lib/config/schema.ts';
import { DATABASE_URL_OPTION, databaseUrl, withDatabase } from './database.ts';

/** Options of `observatory report`. */
export interface ReportCliOptions {
  format: ReportFormat;
  databaseUrl?: string;
  config?: string;
  asOf?: Date;
  pricing: boolean;
  pricingRegion: string;
}

/** A price port that prices nothing (for `--no-pricing`). */
const NO_PRICES: PricePort = {
  hourly: async () => Promise.reject(new Error('pricing disabled (--no-pricing)')),
};

/**
 * Builds and prints the report; returns the exit status.
 * @param opts parsed options
 * @param out where text goes
 * @param prices price source (default: the Price List API in `pricingRegion`)
 */
export async function runReportCommand(
  opts: ReportCliOptions,
  out: { write: (text: string) => void; error: (line: string) => void } = {
    write: (t) => process.stdout.write(t),
    error: (l) => console.error(l),
  },
  prices?: PricePort,
): Promise<number> {
  const url = databaseUrl(opts.databaseUrl, out);
  if (!url) return 2;
  let policy: UnderUsePolicy;
  let advice: AdvicePolicy;
  try {
    const utilization = opts.config ? loadConfig(opts.config).utilization : undefined;
    policy = utilization?.policy ?? UnderUsePolicySchema.parse({});
    advice = AdvicePolicySchema.parse(
      utilization
        ? {
            rightsizing: utilization.rightsizing,
            trends: utilization.trends,
            forecastAlertDays: utilization.forecastAlertDays,
          }
        : {},
    );
  } catch (err) {
    out.error(err instanceof ConfigError ? err.message : `error: ${(err as Error).message}`);
    return 2;
  }
  const source =
    prices ??
    (opts.pricing
      ? new FailFastPrices(
          new CachedPrices(new AwsPriceList(new PricingClient({ region: opts.pricingRegion }))),
        )
      : NO_PRICES);
  return withDatabase(url, out, async (handle) => {
    const report = await buildReport(handle.db, source, policy, {
      advice,
      ...(opts.asOf ? { asOf: opts.asOf } : {}),
    });
    out.write(formatReport(report, opts.format));
    return 0;
  });
}

/**
 * Registers `observatory report` on the program.
 * @param program the root commander program
 */
export function register(program: Command): void {
  program
    .command('report')
    .description('print the under-used resources report from the utilization database')
    .addOption(
      new Option('-f, --format <format>', 'output format').choices([...REPORT_FORMATS]).default('table'),
    )
    .option(...DATABASE_URL_OPTION)
    .option('-c, --config <file>', 'take the under-use policy from this config file')
    .option('--as-of <iso>', 'judge the windows ending at this instant (default: now)', (v: string) => {
      const d = new Date(v);
      if (Number.isNaN(d.getTime()))
        throw new InvalidArgumentError(`--as-of must be an ISO-8601 instant, got ${v}`);
      return d;
    })
    .option('--no-pricing', 'do not ask the AWS Price List API for costs')
    .addOption(
      new Option('--pricing-region <region>', 'Price List API endpoint region')
        .choices(['us-east-1', 'eu-central-1', 'ap-south-1'])
        .default('us-east-1'),
    )
    .action(async (opts: ReportCliOptions) => {
      process.exitCode = await runReportCommand(opts);
    });
}
