import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkIamBootstrap,
  connectOffsetsTopic,
  renderMm2Properties,
} from '../../lambdas/msk-rollback/mm2-config.ts';
import { planOf, reversePlan } from './plans.ts';
import { SOURCE_BROKERS, TARGET_BROKERS } from './world.ts';

const golden = (name: string) => readFileSync(join(import.meta.dirname, 'golden', name), 'utf8');

/** Parses a Java properties file the way java.util.Properties does for the subset we emit. */
function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const i = line.indexOf(' = ');
    out.set(line.slice(0, i), line.slice(i + 3).replace(/\\(.)/g, '$1'));
  }
  return out;
}

describe('MM2 config rendering', () => {
  it('renders the forward flow exactly as the golden file', () => {
    expect(renderMm2Properties(planOf(), { source: SOURCE_BROKERS, target: TARGET_BROKERS })).toBe(
      golden('forward.properties'),
    );
  });

  it('renders the reverse flow exactly as the golden file', () => {
    expect(renderMm2Properties(reversePlan(), { source: TARGET_BROKERS, target: SOURCE_BROKERS })).toBe(
      golden('reverse.properties'),
    );
  });

  it('keeps topic names, keeps offset syncs on the target and syncs group offsets', () => {
    const p = parseProperties(golden('forward.properties'));
    expect(p.get('replication.policy.class')).toBe(
      'org.apache.kafka.connect.mirror.IdentityReplicationPolicy',
    );
    expect(p.get('orders-v2->orders-v3.offset-syncs.topic.location')).toBe('target');
    expect(p.get('orders-v2->orders-v3.sync.group.offsets.enabled')).toBe('true');
    expect(p.get('orders-v2->orders-v3.emit.checkpoints.enabled')).toBe('true');
    expect(p.get('orders-v3->orders-v2.enabled')).toBe('false');
    // Without this MM2 would start a herder for the disabled pair and write heartbeats into the source.
    expect(p.get('emit.heartbeats.enabled')).toBe('false');
    expect(p.get('tasks.max')).toBe('4');
  });

  it('authenticates to both clusters with MSK IAM', () => {
    const p = parseProperties(golden('reverse.properties'));
    for (const alias of ['orders-v2', 'orders-v3']) {
      expect(p.get(`${alias}.security.protocol`)).toBe('SASL_SSL');
      expect(p.get(`${alias}.sasl.mechanism`)).toBe('AWS_MSK_IAM');
      expect(p.get(`${alias}.sasl.jaas.config`)).toBe(
        'software.amazon.msk.auth.iam.IAMLoginModule required;',
      );
    }
  });

  it('starts a reverse flow at the end of the source so history is not replayed', () => {
    expect(parseProperties(golden('forward.properties')).get('orders-v2.consumer.auto.offset.reset')).toBe(
      'earliest',
    );
    expect(parseProperties(golden('reverse.properties')).get('orders-v3.consumer.auto.offset.reset')).toBe(
      'latest',
    );
  });

  it('writes regex backslashes so the properties loader returns the user pattern', () => {
    const p = parseProperties(golden('forward.properties'));
    expect(p.get('orders-v2->orders-v3.topics')).toBe('orders\\..*, payments\\.settled');
    expect(p.get('orders-v2->orders-v3.topics.exclude')).toBe(
      'orders\\.tmp\\..*, .*[\\-\\.]internal, .*\\.replica, __.*, heartbeats',
    );
  });

  it('refuses bootstrap brokers that are not the IAM listener', () => {
    expect(() => checkIamBootstrap('b-1.x.kafka.eu-west-1.amazonaws.com:9092', 'source')).toThrow(
      'source bootstrap brokers "b-1.x.kafka.eu-west-1.amazonaws.com:9092" are not host:9098 pairs of the MSK IAM listener',
    );
    expect(checkIamBootstrap(' a.b:9098 , c.d:9098', 'target')).toBe('a.b:9098,c.d:9098');
  });

  it('names the Connect offsets topic after the source alias', () => {
    expect(connectOffsetsTopic(planOf())).toBe('mm2-offsets.orders-v2.internal');
  });
});
