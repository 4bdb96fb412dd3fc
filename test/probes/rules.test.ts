import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const RULES = join(import.meta.dirname, '..', '..', 'lib', 'observability', 'rules');

describe('probe alert rules', () => {
  it('pass promtool check rules', () => {
    const out = execFileSync('promtool', ['check', 'rules', join(RULES, 'probes.yml')], { encoding: 'utf8' });
    expect(out).toContain('SUCCESS: 10 rules found');
  });

  it('fire and stay quiet as their promtool unit tests expect', () => {
    const out = execFileSync('promtool', ['test', 'rules', join(RULES, 'probes.test.yml')], {
      encoding: 'utf8',
    });
    expect(out).toContain('SUCCESS');
  });
});
