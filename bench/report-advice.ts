/**
 * Cost of the report's advice sections in the local PostgreSQL, beside the idle findings measured in the
 * same run over the same rows: 200 m5.2xlarge instances x 30 days of hourly CPU (a rising series for a
 * quarter of them), NetworkIn and NetworkOut (432,000 rows).
 * - idle findings (`findUnderused`, the peer: one percentile pass per service);
 * - rightsizing (`findRightsizing`, pages of 500, catalog prices: no Price List round trips);
 * - capacity trends (`findCapacityForecasts`, daily p95 and the regr_* fits of every series).
 * Medians of RUNS runs, the three alternating. Prints figures; never passes or fails on time.
 *
 *   npx tsx bench/report-advice.ts     (PostgreSQL at 127.0.0.1:5432 or TEST_PG_ADMIN_URL)
 */
import { AdvicePolicySchema, UnderUsePolicySchema } from '#contracts/utilization';
import { splitBatch } from '#utilization/normalize';
import type { PricePort } from '#utilization/pricing';
import { findUnderused } from '#utilization/report';
import { findCapacityForecasts, findRightsizing } from '#utilization/report-advice';
import { storeBatch } from '#utilization/store';
import { createTestDatabase } from '../test/support/postgres.ts';
import { makeBatch } from '../test/utilization/store-fixtures.ts';

const RUNS = 5;
const INSTANCES = 200;
const HOURS = 30 * 24;
const START = new Date('2025-01-01T00:00:00Z');
const AS_OF = new Date(START.getTime() + HOURS * 3_600_000);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const time = async (fn: () => Promise<unknown>) => {
  const t = performance.now();
  await fn();
  return performance.now() - t;
};

const db = await createTestDatabase({ poolSize: 2 });
try {
  const batch = makeBatch({
    resources: INSTANCES,
    periods: HOURS,
    periodSeconds: 3600,
    windowStart: START,
    collectedAt: new Date(AS_OF.getTime() - 600_000),
    metrics: [
      { metric: 'CPUUtilization', statistic: 'Average', unit: 'Percent' },
      { metric: 'NetworkIn', statistic: 'Sum', unit: 'Bytes' },
      { metric: 'NetworkOut', statistic: 'Sum', unit: 'Bytes' },
    ],
    resource: { attributes: { instanceType: 'm5.2xlarge', platform: 'Linux/UNIX', tenancy: 'default' } },
    // CPU 12-20 %, a quarter rising 1 point a day; 1 GB an hour each way.
    value: (r, p, m) => (m > 0 ? 1e9 : r % 4 === 0 ? 20 + p / 24 : 12 + (r % 8)),
    batchId: 'bench-advice',
  });
  for (const part of splitBatch(batch)) {
    const stored = await storeBatch(db.db, part, { chunkRows: 20_000 });
    if (stored.outcome !== 'stored') throw new Error(`seed ${stored.outcome}: ${stored.reason}`);
  }
  await db.query('analyze');

  const policy = UnderUsePolicySchema.parse({});
  const advice = AdvicePolicySchema.parse({});
  const noPrices: PricePort = { hourly: async () => undefined };
  const bounds = { asOf: AS_OF, minCoverage: 0.8, liveWithinHours: 48 };
  const figures = { idle: [] as number[], rightsizing: [] as number[], trends: [] as number[] };
  let counts = { recommendations: 0, forecasts: 0 };
  for (let i = 0; i < RUNS; i++) {
    figures.idle.push(await time(() => findUnderused(db.db, policy, { asOf: AS_OF })));
    figures.rightsizing.push(
      await time(async () => {
        const recs = await findRightsizing(
          db.db,
          noPrices,
          { ec2: 14, rds: 7, ecs: 14, msk: 14 },
          advice.rightsizing,
          bounds,
        );
        counts = { ...counts, recommendations: recs.length };
      }),
    );
    figures.trends.push(
      await time(async () => {
        const t = await findCapacityForecasts(db.db, advice.trends, bounds);
        counts = { ...counts, forecasts: t.forecasts.length };
      }),
    );
  }
  const idle = median(figures.idle);
  const line = (name: string, ms: number) =>
    console.log(
      `${name.padEnd(12)} ${ms.toFixed(0).padStart(6)} ms  (${(ms / idle).toFixed(2)}x idle findings)`,
    );
  console.log(`${INSTANCES} instances x ${HOURS} hourly points x 3 metrics, median of ${RUNS}`);
  line('idle', idle);
  line('rightsizing', median(figures.rightsizing));
  line('trends', median(figures.trends));
  console.log(`${counts.recommendations} recommendations, ${counts.forecasts} forecasts`);
} finally {
  await db.drop();
}
