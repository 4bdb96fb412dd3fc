import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkAlertmanagerTarget } from '../../../cli/alertmanager.ts';

const ROOT = join(import.meta.dirname, '../../..');

describe('observatory alertmanager', () => {
  it('takes the region from the topic ARN when none is given', () => {
    expect(checkAlertmanagerTarget('arn:aws:sns:eu-west-1:111111111111:alerts')).toEqual({
      topicArn: 'arn:aws:sns:eu-west-1:111111111111:alerts',
      region: 'eu-west-1',
    });
  });

  it.each([
    ['not-an-arn', undefined, /"not-an-arn" is not an SNS topic ARN/],
    ['arn:aws:sqs:eu-west-1:111111111111:alerts', undefined, /is not an SNS topic ARN/],
    ['arn:aws:sns:eu-west-1:1111:alerts', undefined, /is not an SNS topic ARN/],
    ['arn:aws:sns:eu-west-9:111111111111:alerts', undefined, /names unknown region "eu-west-9"/],
    ['arn:aws:sns:eu-west-1:111111111111:alerts', 'mars-1', /--region "mars-1" is not an AWS region/],
    ['arn:aws:sns:eu-west-1:111111111111:alerts', 'us-east-1', /not the topic's region "eu-west-1"/],
  ])('refuses %s with region %s', (arn, region, message) => {
    expect(() => checkAlertmanagerTarget(arn, region)).toThrow(message);
  });

  it('prints the definition for a valid topic and exits 2 without output for a bad one', () => {
    const run = (...args: string[]) =>
      spawnSync('npx', ['tsx', 'bin/cli.ts', 'alertmanager', ...args], { cwd: ROOT, encoding: 'utf8' });
    const ok = run('--topic-arn', 'arn:aws:sns:eu-west-1:111111111111:alerts');
    expect(ok.status).toBe(0);
    expect(parse(ok.stdout)).toHaveProperty('alertmanager_config');
    const bad = run('--topic-arn', 'arn:aws:sns:eu-west-1:111111111111:alerts', '--region', 'us-east-1');
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain(`--region "us-east-1" is not the topic's region "eu-west-1"`);
    expect(bad.stderr).not.toMatch(/at .*\.ts:\d+/);
  });
});
