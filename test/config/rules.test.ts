/**
 * The bad-config corpus: one broken variant of the example per rule, each refused by the schema with
 * the exact path and the offending value (before any stack is built).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigError, parseConfig } from '../../lib/config/loader.ts';
import { EXAMPLE_CONFIG } from '../support/cdk.ts';

type Config = Record<string, any>;

/** The problems the schema reports for the example after `mutate`. */
function problemsAfter(mutate: (c: Config) => void): string[] {
  const doc = parse(readFileSync(EXAMPLE_CONFIG, 'utf8')) as Config;
  mutate(doc);
  try {
    parseConfig(doc);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

interface Case {
  readonly rule: string;
  readonly mutate: (c: Config) => void;
  /** The one problem expected: its path, then a pattern the rest of the message must match. */
  readonly path: string;
  readonly message: RegExp;
}

const firstRegion = (c: Config) => c.probes.regions[0];
const cases: Case[] = [
  // uniqueness
  {
    rule: 'a duplicate availability zone',
    mutate: (c) => {
      firstRegion(c).availabilityZones[2].name = 'eu-west-1a';
    },
    path: 'probes.regions[0].availabilityZones[2].name',
    message: /duplicate availability zone "eu-west-1a" \(first at \[0\]\.name\)/,
  },
  {
    rule: 'a duplicate AZ ID',
    mutate: (c) => {
      firstRegion(c).availabilityZones[1].id = 'euw1-az1';
    },
    path: 'probes.regions[0].availabilityZones[1].id',
    message: /duplicate availability zone ID "euw1-az1"/,
  },
  {
    rule: 'a subnet given to two AZs',
    mutate: (c) => {
      firstRegion(c).availabilityZones[1].subnetId = firstRegion(c).availabilityZones[0].subnetId;
    },
    path: 'probes.regions[0].availabilityZones[1].subnetId',
    message: /duplicate subnet "subnet-0a1b2c3d4e5f61001"/,
  },
  {
    rule: 'a probe region listed twice',
    mutate: (c) => {
      c.probes.regions[1].region = 'eu-west-1';
      c.probes.regions[1].availabilityZones = structuredClone(firstRegion(c).availabilityZones).map(
        (az: Config, i: number) => ({ ...az, subnetId: `subnet-0a1b2c3d4e5f6900${i}` }),
      );
    },
    path: 'probes.regions[1].region',
    message: /duplicate probe region "eu-west-1"/,
  },
  {
    rule: 'a duplicate target name',
    mutate: (c) => {
      c.probes.targets[4].name = 'kafka-euw1-b1';
    },
    path: 'probes.targets[4].name',
    message: /duplicate target name "kafka-euw1-b1" \(first at targets\[2\]\.name\)/,
  },
  {
    rule: 'a duplicate member account',
    mutate: (c) => {
      c.utilization.accounts[1].id = '222222222222';
    },
    path: 'utilization.accounts[1].id',
    message: /duplicate member account "222222222222"/,
  },
  {
    rule: 'a utilization region listed twice',
    mutate: (c) => {
      c.utilization.regions = ['eu-west-1', 'us-east-1', 'eu-west-1'];
    },
    path: 'utilization.regions[2]',
    message: /duplicate region "eu-west-1"/,
  },
  {
    rule: 'a duplicate database subnet',
    mutate: (c) => {
      c.utilization.database.subnetIds[2] = c.utilization.database.subnetIds[0];
    },
    path: 'utilization.database.subnetIds[2]',
    message: /duplicate subnet "subnet-0a1b2c3d4e5f64001"/,
  },
  {
    rule: 'a duplicate MSK cluster',
    mutate: (c) => {
      c.mskRollback.clusters[1].arn = c.mskRollback.clusters[0].arn;
    },
    path: 'mskRollback.clusters[1].arn',
    message: /duplicate cluster ARN/,
  },
  // real regions
  {
    rule: 'a home region that does not exist',
    mutate: (c) => {
      c.monitoring.homeRegion = 'eu-west-9';
    },
    path: 'monitoring.homeRegion',
    message: /expected an AWS region .*, got "eu-west-9"$/,
  },
  {
    rule: 'a target source region that does not exist',
    mutate: (c) => {
      c.probes.targets[4].from = ['eu-wset-1'];
    },
    path: 'probes.targets[4].from[0]',
    message: /got "eu-wset-1"$/,
  },
  {
    rule: 'an AZ outside its region',
    mutate: (c) => {
      firstRegion(c).availabilityZones[2].name = 'eu-west-2c';
    },
    path: 'probes.regions[0].availabilityZones[2].name',
    message: /AZ "eu-west-2c" is not in region eu-west-1/,
  },
  // addresses
  {
    rule: 'a CIDR prefix longer than 32 bits',
    mutate: (c) => {
      firstRegion(c).vpcCidr = '10.10.0.0/33';
    },
    path: 'probes.regions[0].vpcCidr',
    message: /\/16 to \/28, not \/33, got "10.10.0.0\/33"$/,
  },
  {
    rule: 'a CIDR whose address is not an IPv4 address',
    mutate: (c) => {
      firstRegion(c).vpcCidr = '300.1.2.3/16';
    },
    path: 'probes.regions[0].vpcCidr',
    message: /expected an IPv4 CIDR block .*, got "300.1.2.3\/16"$/,
  },
  {
    rule: 'a TCP host that is a malformed IP address',
    mutate: (c) => {
      c.probes.targets[0].host = '10.0.0.256';
    },
    path: 'probes.targets[0].host',
    message: /not a valid IP address, got "10.0.0.256"$/,
  },
  {
    rule: 'an A answer that is not an IPv4 address',
    mutate: (c) => {
      c.probes.targets[10].expectAnswers = ['2001:db8::1'];
    },
    path: 'probes.targets[10].expectAnswers[0]',
    message: /an A answer is an IPv4 address, got "2001:db8::1"$/,
  },
  // schedules
  {
    rule: 'a cron minute out of range',
    mutate: (c) => {
      c.probes.schedule = 'cron(99 * * * ? *)';
    },
    path: 'probes.schedule',
    message: /^minutes: "99": 99 is outside 0-59, got "cron\(99 \* \* \* \? \*\)"$/,
  },
  {
    rule: 'a zero rate',
    mutate: (c) => {
      c.utilization.schedule = 'rate(0 minutes)';
    },
    path: 'utilization.schedule',
    message: /the rate must be at least 1, got "rate\(0 minutes\)"$/,
  },
  {
    rule: 'a cron with both day fields set',
    mutate: (c) => {
      c.utilization.schedule = 'cron(0 8 1 * MON *)';
    },
    path: 'utilization.schedule',
    message: /exactly one of day-of-month and day-of-week must be "\?"/,
  },
  // regular expressions
  {
    rule: 'a body regex that does not compile',
    mutate: (c) => {
      c.probes.targets[7].bodyRegex = '"status":\\s*("ok"';
    },
    path: 'probes.targets[7].bodyRegex',
    message: /does not compile: .*, got /,
  },
  {
    rule: 'a header regex that does not compile',
    mutate: (c) => {
      c.probes.targets[8].headers = { 'content-type': '[json' };
    },
    path: 'probes.targets[8].headers.content-type',
    message: /does not compile: /,
  },
  // mutually exclusive and ordered fields
  {
    rule: 'a threshold with both above and below',
    mutate: (c) => {
      c.utilization.thresholds[0].below = 5;
    },
    path: 'utilization.thresholds[0].below',
    message: /"above" \(90\) and "below" \(5\) exclude each other/,
  },
  {
    rule: 'a threshold with neither above nor below',
    mutate: (c) => {
      delete c.utilization.thresholds[1].below;
    },
    path: 'utilization.thresholds[1]',
    message: /expected one of "above" or "below"/,
  },
  {
    rule: 'a workspace both created and imported',
    mutate: (c) => {
      c.monitoring.workspace.workspaceId = 'ws-1234abcd-0000-1111-2222-333344445555';
    },
    path: 'monitoring.workspace.workspaceId',
    message: /"create: true" and "workspaceId" \(ws-1234abcd-.*\) exclude each other/,
  },
  {
    rule: 'a workspace neither created nor imported',
    mutate: (c) => {
      c.monitoring.workspace = { alias: 'x' };
    },
    path: 'monitoring.workspace',
    message: /expected "create: true" or "workspaceId: ws-\.\.\."/,
  },
  {
    rule: 'minCapacity above maxCapacity',
    mutate: (c) => {
      c.utilization.database.minCapacity = 8;
    },
    path: 'utilization.database.minCapacity',
    message: /minCapacity 8 is above maxCapacity 4/,
  },
  {
    rule: 'a capacity that is not a multiple of 0.5 ACU',
    mutate: (c) => {
      c.utilization.database.maxCapacity = 4.2;
    },
    path: 'utilization.database.maxCapacity',
    message: /multiple of 0.5 ACU, got 4.2$/,
  },
  // versions and enumerations
  {
    rule: 'a Kafka version the MM2 image does not support',
    mutate: (c) => {
      c.mskRollback.kafkaVersion = '3.6.0';
    },
    path: 'mskRollback.kafkaVersion',
    message: /expected a Kafka release the MM2 image pins \(3\.7\.0, .*3\.9\.1\), got "3\.6\.0"$/,
  },
  {
    rule: 'a log retention CloudWatch Logs does not offer',
    mutate: (c) => {
      c.monitoring.logRetentionDays = 31;
    },
    path: 'monitoring.logRetentionDays',
    message: /expected one of .*\(1, 3, 5, 7, 14, 30, 60, .*3653\), got 31$/,
  },
  {
    rule: 'a route table ID of the wrong shape',
    mutate: (c) => {
      firstRegion(c).availabilityZones[0].routeTableId = 'rt-123';
    },
    path: 'probes.regions[0].availabilityZones[0].routeTableId',
    message: /expected a route table ID such as rtb-0abc1234, got "rt-123"$/,
  },
  {
    rule: 'a runbook base URL that is not http(s)',
    mutate: (c) => {
      c.monitoring.runbookBaseUrl = 'ftp://wiki.example.com/runbooks';
    },
    path: 'monitoring.runbookBaseUrl',
    message: /got "ftp:\/\/wiki.example.com\/runbooks"$/,
  },
];

describe('the bad-config corpus', () => {
  it('starts from an example the schema accepts', () => {
    expect(problemsAfter(() => {})).toEqual([]);
  });

  it.each(cases)('refuses $rule at $path', ({ mutate, path, message }) => {
    const problems = problemsAfter(mutate);
    expect(problems).toHaveLength(1);
    const [problem = ''] = problems;
    expect(problem.startsWith(`${path}: `), problem).toBe(true);
    expect(problem.slice(path.length + 2)).toMatch(message);
  });
});
