import { GetProductsCommand, PricingClient } from '@aws-sdk/client-pricing';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AwsPriceList,
  CachedPrices,
  ec2OperatingSystem,
  estimateMonthlyCost,
  HOURS_PER_MONTH,
  type PricedResource,
  parseHourlyPrice,
} from '#utilization/pricing';
import { CATALOGUE, mockPricing, priceItem } from './pricing-fixtures.ts';

const pricing = mockPricing();
afterAll(() => pricing.restore());
beforeEach(() => pricing.resetHistory());

const client = () => new PricingClient({ region: 'us-east-1' });
const ec2 = (attributes: Record<string, string>): PricedResource => ({
  service: 'ec2',
  region: 'eu-west-1',
  attributes,
  capacity: { vcpu: 2 },
});

describe('parseHourlyPrice', () => {
  it('reads the on-demand hourly USD price and ignores reserved terms', () => {
    expect(parseHourlyPrice(CATALOGUE.AmazonEC2![0]!)).toMatchObject({
      usd: 0.107,
      description: '$0.107 per On Demand Linux m5.large Instance Hour',
    });
  });

  it('accepts the "hours" unit MSK and Fargate use and skips non-hourly dimensions', () => {
    expect(parseHourlyPrice(CATALOGUE.AmazonMSK![0]!)?.usd).toBe(0.226);
    expect(parseHourlyPrice(CATALOGUE.AmazonMSK![1]!)).toBeUndefined(); // GB-Mo storage
  });

  it('skips products whose usagetype does not match the pattern', () => {
    expect(
      parseHourlyPrice(CATALOGUE.AmazonECS![2]!, /^(?:[A-Z0-9]+-)?Fargate-vCPU-Hours:perCPU$/),
    ).toBeUndefined();
    expect(
      parseHourlyPrice(CATALOGUE.AmazonECS![0]!, /^(?:[A-Z0-9]+-)?Fargate-vCPU-Hours:perCPU$/)?.usd,
    ).toBe(0.04456);
  });

  it('ignores free (zero-priced) dimensions', () => {
    const free = priceItem({
      serviceCode: 'AmazonEC2',
      productFamily: 'Compute Instance',
      usd: '0.0000000000',
      attributes: {},
    });
    expect(parseHourlyPrice(free)).toBeUndefined();
  });
});

describe('estimateMonthlyCost', () => {
  it('prices an EC2 instance from GetProducts with the filters that pick one product', async () => {
    const cost = await estimateMonthlyCost(
      ec2({ instanceType: 'm5.large', platform: 'Linux/UNIX', tenancy: 'default' }),
      new AwsPriceList(client()),
    );
    expect(cost).toEqual({ monthlyUsd: 78.11, basis: `m5.large Linux at $0.107/h x ${HOURS_PER_MONTH} h` });
    const input = pricing.commandCalls(GetProductsCommand)[0]!.args[0].input;
    expect(input).toMatchObject({ ServiceCode: 'AmazonEC2', FormatVersion: 'aws_v1', MaxResults: 100 });
    expect(input.Filters).toEqual([
      { Field: 'regionCode', Value: 'eu-west-1', Type: 'TERM_MATCH' },
      { Field: 'instanceType', Value: 'm5.large', Type: 'TERM_MATCH' },
      { Field: 'operatingSystem', Value: 'Linux', Type: 'TERM_MATCH' },
      { Field: 'tenancy', Value: 'Shared', Type: 'TERM_MATCH' },
      { Field: 'preInstalledSw', Value: 'NA', Type: 'TERM_MATCH' },
      { Field: 'capacitystatus', Value: 'Used', Type: 'TERM_MATCH' },
      { Field: 'licenseModel', Value: 'No License required', Type: 'TERM_MATCH' },
    ]);
  });

  it('prices Windows instances as Windows', async () => {
    const cost = await estimateMonthlyCost(
      ec2({ instanceType: 'm5.large', platform: 'Windows' }),
      new AwsPriceList(client()),
    );
    expect(cost.monthlyUsd).toBe(148.19);
  });

  it('prices a Fargate service as vCPU plus memory hours of its tasks, skipping Spot and ARM products', async () => {
    const prices = new AwsPriceList(client());
    const cost = await estimateMonthlyCost(
      {
        service: 'ecs',
        region: 'eu-west-1',
        attributes: { launchType: 'FARGATE' },
        capacity: { vcpu: 0.5, memoryMiB: 1024, desiredCount: 2 },
      },
      prices,
    );
    // (0.5 vCPU x 2 x 0.04456 + 1 GB x 2 x 0.00489) x 730
    expect(cost.monthlyUsd).toBe(39.67);
    expect(cost.basis).toBe('0.5 vCPU x 2 tasks at $0.04456/h + 1 GB x 2 tasks at $0.00489/h x 730 h');
    // Four products contain "Fargate-vCPU-Hours:perCPU"-ish text across pages: every page was read.
    expect(prices.requests).toBeGreaterThan(2);
  });

  it('prices MSK brokers and RDS instances', async () => {
    const prices = new AwsPriceList(client());
    expect(
      (
        await estimateMonthlyCost(
          {
            service: 'msk',
            region: 'eu-west-1',
            attributes: { brokerType: 'kafka.m5.large' },
            capacity: { brokers: 3 },
          },
          prices,
        )
      ).monthlyUsd,
    ).toBe(494.94);
    const rds = (multiAz: string) =>
      estimateMonthlyCost(
        {
          service: 'rds',
          region: 'eu-west-1',
          attributes: { instanceClass: 'db.t3.medium', engine: 'postgres', multiAz },
          capacity: {},
        },
        prices,
      );
    expect((await rds('false')).monthlyUsd).toBe(55.48);
    expect((await rds('true')).monthlyUsd).toBe(110.96);
  });

  it('says why a resource cannot be priced instead of guessing', async () => {
    const prices = new AwsPriceList(client());
    expect(await estimateMonthlyCost(ec2({}), prices)).toEqual({ basis: 'no instanceType attribute' });
    expect(await estimateMonthlyCost(ec2({ instanceType: 'x9.huge' }), prices)).toEqual({
      basis: 'no on-demand price found for x9.huge Linux in eu-west-1',
    });
    expect(
      await estimateMonthlyCost(
        { service: 'ecs', region: 'eu-west-1', attributes: { launchType: 'EC2' }, capacity: {} },
        prices,
      ),
    ).toEqual({ basis: 'launch type EC2: the cost is in the container instances' });
    expect(
      await estimateMonthlyCost(
        {
          service: 'rds',
          region: 'eu-west-1',
          attributes: { instanceClass: 'db.m5.large', engine: 'oracle-ee' },
          capacity: {},
        },
        prices,
      ),
    ).toEqual({ basis: 'engine oracle-ee is not priced (licence terms vary)' });
  });
});

describe('CachedPrices', () => {
  it('asks the Price List API once per product across a report', async () => {
    const prices = new CachedPrices(new AwsPriceList(client()));
    const r = ec2({ instanceType: 'm5.large' });
    const costs = await Promise.all([
      estimateMonthlyCost(r, prices),
      estimateMonthlyCost(r, prices),
      estimateMonthlyCost(r, prices),
    ]);
    expect(costs.map((c) => c.monthlyUsd)).toEqual([78.11, 78.11, 78.11]);
    expect(pricing.commandCalls(GetProductsCommand)).toHaveLength(1);
  });

  it('does not remember a failed lookup', async () => {
    let fail = true;
    const prices = new CachedPrices({
      hourly: async () => {
        if (fail) throw new Error('ThrottlingException: Rate exceeded');
        return { usd: 1, sku: 'X', description: '' };
      },
    });
    const q = { serviceCode: 'AmazonEC2', filters: [] };
    await expect(prices.hourly(q)).rejects.toThrow('Rate exceeded');
    fail = false;
    expect((await prices.hourly(q))?.usd).toBe(1);
  });
});

describe('ec2OperatingSystem', () => {
  it('maps EC2 PlatformDetails to the Price List operatingSystem', () => {
    expect(
      [
        'Linux/UNIX',
        'Windows',
        'Windows with SQL Server Standard',
        'Red Hat Enterprise Linux',
        'SUSE Linux',
        'Ubuntu Pro',
        undefined,
      ].map(ec2OperatingSystem),
    ).toEqual(['Linux', 'Windows', 'Windows', 'RHEL', 'SUSE', 'Ubuntu Pro', 'Linux']);
  });
});
