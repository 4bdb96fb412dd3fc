/**
 * AWS Network Manager Infrastructure Performance, as the stack subscribes to it and the reader
 * function queries it: the pairs (built from config at synth time, bundled with the function) and the
 * one query shape the API offers.
 */
import * as z from 'zod/mini';

/** One subscribed pair: two AZ IDs of one region, or two regions. */
export const NetworkPerformancePairSchema = z.discriminatedUnion('scope', [
  z.strictObject({ scope: z.literal('az'), region: z.string(), source: z.string(), destination: z.string() }),
  z.strictObject({ scope: z.literal('region'), source: z.string(), destination: z.string() }),
]);
export type NetworkPerformancePair = z.infer<typeof NetworkPerformancePairSchema>;

/** The only metric, statistic and the finest period the API offers. */
export const NETWORK_PERFORMANCE_QUERY = {
  Metric: 'aggregate-latency',
  Statistic: 'p50',
  Period: 'five-minutes',
} as const;

/** File name of the bundled pairs inside the reader function's bundle. */
export const NETWORK_PERFORMANCE_PAIRS_FILE = 'network-performance-pairs.json';

/**
 * Every ordered pair to subscribe to for a set of probe regions: each pair of distinct AZ IDs within a
 * region (AWS publishes AZ pairs only within one region), and each pair of distinct probe regions.
 * @param regions the probe regions, each with its AZ IDs
 */
export function networkPerformancePairs(
  regions: readonly { readonly region: string; readonly azIds: readonly string[] }[],
): NetworkPerformancePair[] {
  const pairs: NetworkPerformancePair[] = [];
  for (const r of regions)
    for (const source of r.azIds)
      for (const destination of r.azIds)
        if (source !== destination) pairs.push({ scope: 'az', region: r.region, source, destination });
  for (const a of regions)
    for (const b of regions)
      if (a.region !== b.region) pairs.push({ scope: 'region', source: a.region, destination: b.region });
  return pairs;
}
