import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// The exporter's rules are Java regular expressions: they are checked with java.util.regex itself
// (JDK 17 of this machine, `java File.java`), against MBean names formatted as the exporter does.
const RULES = parse(
  readFileSync(join(import.meta.dirname, '../../lib/msk-rollback/mm2-image/jmx-exporter.yml'), 'utf8'),
) as {
  rules: { pattern: string; name: string; labels?: Record<string, string> }[];
};
const dir = mkdtempSync(join(tmpdir(), 'observatory-jmx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MATCHER = `
import java.util.*;
import java.util.regex.*;
public class Match {
  public static void main(String[] a) throws Exception {
    List<String> lines = new java.io.BufferedReader(new java.io.InputStreamReader(System.in)).lines().toList();
    int sep = lines.indexOf("---");
    List<Pattern> patterns = new ArrayList<>();
    for (String p : lines.subList(0, sep)) patterns.add(Pattern.compile(p));
    for (String bean : lines.subList(sep + 1, lines.size())) {
      String out = "none";
      for (int i = 0; i < patterns.size(); i++) {
        Matcher m = patterns.get(i).matcher(bean);
        if (m.matches()) {
          StringBuilder sb = new StringBuilder(String.valueOf(i));
          for (int g = 1; g <= m.groupCount(); g++) sb.append("\\t").append(m.group(g) == null ? "" : m.group(g));
          out = sb.toString();
          break;
        }
      }
      System.out.println(out);
    }
  }
}`;

/** Applies the rules to bean strings; returns metric name and labels as the exporter would produce them. */
function apply(beans: string[]): ({ name: string; labels: Record<string, string> } | null)[] {
  const file = join(dir, 'Match.java');
  writeFileSync(file, MATCHER);
  const input = [...RULES.rules.map((r) => r.pattern), '---', ...beans].join('\n');
  const lines = execFileSync('java', [file], { input, encoding: 'utf8', timeout: 60_000 }).trim().split('\n');
  return lines.map((line) => {
    if (line === 'none') return null;
    const [index, ...groups] = line.split('\t');
    const rule = RULES.rules[Number(index)]!;
    const sub = (s: string) => s.replace(/\$(\d)/g, (_, n) => groups[Number(n) - 1] ?? '');
    const labels = Object.fromEntries(
      Object.entries(rule.labels ?? {}).flatMap(([k, v]) => (sub(v) === '' ? [] : [[k, sub(v)]])),
    );
    return {
      name: sub(rule.name)
        .toLowerCase()
        .replace(/[^a-z0-9_:]/g, '_'),
      labels,
    };
  });
}

describe('JMX exporter rules for MirrorMaker 2', () => {
  it('match source-connector MBeans with and without the source= tag of newer Kafka releases', () => {
    const [newer, older, latency] = apply([
      'kafka.connect.mirror<type=MirrorSourceConnector, source=orders-v2, target=orders-v3, topic=orders.created, partition=3><>record-count',
      'kafka.connect.mirror<type=MirrorSourceConnector, target=orders-v3, topic=orders.created, partition=3><>record-count',
      'kafka.connect.mirror<type=MirrorSourceConnector, source=orders-v2, target=orders-v3, topic=payments.settled, partition=0><>replication-latency-ms-max',
    ]);
    expect(newer).toEqual({
      name: 'mm2_record_count_total',
      labels: { source: 'orders-v2', target: 'orders-v3', topic: 'orders.created', partition: '3' },
    });
    expect(older).toEqual({
      name: 'mm2_record_count_total',
      labels: { target: 'orders-v3', topic: 'orders.created', partition: '3' },
    });
    expect(latency).toEqual({
      name: 'mm2_replication_latency_ms_max',
      labels: { source: 'orders-v2', target: 'orders-v3', topic: 'payments.settled', partition: '0' },
    });
  });

  it('match record age, checkpoint latency and MM2 consumer lag, and ignore other attributes', () => {
    const [age, checkpoint, oldCheckpoint, consumerLag, other] = apply([
      'kafka.connect.mirror<type=MirrorSourceConnector, source=orders-v2, target=orders-v3, topic=orders.created, partition=0><>record-age-ms-max',
      'kafka.connect.mirror<type=MirrorCheckpointConnector, source=orders-v2, target=orders-v3, group=billing, topic=payments.settled, partition=0><>checkpoint-latency-ms-max',
      'kafka.connect.mirror<type=MirrorCheckpointConnector, target=orders-v3, group=billing, topic=payments.settled, partition=0><>checkpoint-latency-ms',
      'kafka.consumer<type=consumer-fetch-manager-metrics, client-id=consumer-null-1, topic=orders.created, partition=2><>records-lag',
      'kafka.connect.mirror<type=MirrorSourceConnector, source=a, target=b, topic=t, partition=0><>something-else',
    ]);
    expect(age?.name).toBe('mm2_record_age_ms_max');
    expect(checkpoint).toEqual({
      name: 'mm2_checkpoint_latency_ms_max',
      labels: {
        source: 'orders-v2',
        target: 'orders-v3',
        group: 'billing',
        topic: 'payments.settled',
        partition: '0',
      },
    });
    expect(oldCheckpoint?.labels).toEqual({
      target: 'orders-v3',
      group: 'billing',
      topic: 'payments.settled',
      partition: '0',
    });
    expect(consumerLag).toEqual({
      name: 'mm2_consumer_records_lag',
      labels: { client_id: 'consumer-null-1', topic: 'orders.created', partition: '2' },
    });
    expect(other).toBeNull();
  });
});
