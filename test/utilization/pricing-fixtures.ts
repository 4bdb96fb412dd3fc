/**
 * GetProducts responses shaped like the real Price List API's: `PriceList` is an array of JSON strings,
 * each a product with its attributes and OnDemand (and Reserved) terms. Prices are eu-west-1 list prices
 * of the kind the API returns; the tests only rely on them being what this file says.
 */
import { GetProductsCommand, type GetProductsCommandInput, PricingClient } from '@aws-sdk/client-pricing';
import { mockClient } from 'aws-sdk-client-mock';

let skuCounter = 0;

/** One Price List item as GetProducts returns it (before JSON.stringify). */
export function priceItem(opts: {
  serviceCode: string;
  productFamily: string;
  attributes: Record<string, string>;
  usd: string;
  unit?: string;
  description?: string;
  reservedUsd?: string;
}): string {
  const sku = `SKU${String(++skuCounter).padStart(13, '0')}`;
  const onDemand = `${sku}.JRTCKXETXF`;
  const item = {
    product: {
      productFamily: opts.productFamily,
      attributes: { servicecode: opts.serviceCode, ...opts.attributes },
      sku,
    },
    serviceCode: opts.serviceCode,
    terms: {
      OnDemand: {
        [onDemand]: {
          priceDimensions: {
            [`${onDemand}.6YS6EN2CT7`]: {
              unit: opts.unit ?? 'Hrs',
              endRange: 'Inf',
              description: opts.description ?? `$${Number(opts.usd)} per On Demand hour`,
              appliesTo: [],
              rateCode: `${onDemand}.6YS6EN2CT7`,
              beginRange: '0',
              pricePerUnit: { USD: opts.usd },
            },
          },
          sku,
          effectiveDate: '2024-11-01T00:00:00Z',
          offerTermCode: 'JRTCKXETXF',
          termAttributes: {},
        },
      },
      ...(opts.reservedUsd
        ? {
            Reserved: {
              [`${sku}.4NA7Y494T4`]: {
                priceDimensions: {
                  [`${sku}.4NA7Y494T4.6YS6EN2CT7`]: {
                    unit: 'Hrs',
                    endRange: 'Inf',
                    description: 'reserved instance applied',
                    appliesTo: [],
                    rateCode: `${sku}.4NA7Y494T4.6YS6EN2CT7`,
                    beginRange: '0',
                    pricePerUnit: { USD: opts.reservedUsd },
                  },
                },
                sku,
                effectiveDate: '2024-11-01T00:00:00Z',
                offerTermCode: '4NA7Y494T4',
                termAttributes: {
                  LeaseContractLength: '1yr',
                  OfferingClass: 'standard',
                  PurchaseOption: 'No Upfront',
                },
              },
            },
          }
        : {}),
    },
    version: '20241120183523',
    publicationDate: '2024-11-20T18:35:23Z',
  };
  return JSON.stringify(item);
}

const ec2 = (instanceType: string, usd: string, os = 'Linux') =>
  priceItem({
    serviceCode: 'AmazonEC2',
    productFamily: 'Compute Instance',
    usd,
    reservedUsd: (Number(usd) * 0.62).toFixed(10),
    description: `$${Number(usd)} per On Demand ${os} ${instanceType} Instance Hour`,
    attributes: {
      instanceType,
      regionCode: 'eu-west-1',
      location: 'EU (Ireland)',
      operatingSystem: os,
      tenancy: 'Shared',
      capacitystatus: 'Used',
      preInstalledSw: 'NA',
      licenseModel: 'No License required',
      usagetype: `EU-BoxUsage:${instanceType}`,
      operation: 'RunInstances',
      vcpu: '2',
      memory: '8 GiB',
    },
  });

/** The catalogue the fake answers from, keyed by service code. */
export const CATALOGUE: Record<string, string[]> = {
  AmazonEC2: [
    ec2('m5.large', '0.1070000000'),
    ec2('m5.4xlarge', '0.8560000000'),
    ec2('m5.large', '0.2030000000', 'Windows'),
  ],
  AmazonRDS: [
    priceItem({
      serviceCode: 'AmazonRDS',
      productFamily: 'Database Instance',
      usd: '0.0760000000',
      description: '$0.076 per RDS db.t3.medium Single-AZ instance hour (or partial hour) running PostgreSQL',
      attributes: {
        instanceType: 'db.t3.medium',
        regionCode: 'eu-west-1',
        databaseEngine: 'PostgreSQL',
        deploymentOption: 'Single-AZ',
        usagetype: 'EU-InstanceUsg:db.t3.medium',
      },
    }),
    priceItem({
      serviceCode: 'AmazonRDS',
      productFamily: 'Database Instance',
      usd: '0.1520000000',
      attributes: {
        instanceType: 'db.t3.medium',
        regionCode: 'eu-west-1',
        databaseEngine: 'PostgreSQL',
        deploymentOption: 'Multi-AZ',
        usagetype: 'EU-Multi-AZUsage:db.t3.medium',
      },
    }),
  ],
  AmazonECS: [
    priceItem({
      serviceCode: 'AmazonECS',
      productFamily: 'Compute',
      unit: 'hours',
      usd: '0.0445600000',
      description: 'AWS Fargate - vCPU - EU (Ireland)',
      attributes: { regionCode: 'eu-west-1', usagetype: 'EU-Fargate-vCPU-Hours:perCPU', operation: '' },
    }),
    priceItem({
      serviceCode: 'AmazonECS',
      productFamily: 'Compute',
      unit: 'hours',
      usd: '0.0048900000',
      description: 'AWS Fargate - Memory - EU (Ireland)',
      attributes: { regionCode: 'eu-west-1', usagetype: 'EU-Fargate-GB-Hours', operation: '' },
    }),
    // Cheaper Spot and ARM products that CONTAINS also matches: the usagetype pattern must skip them.
    priceItem({
      serviceCode: 'AmazonECS',
      productFamily: 'Compute',
      unit: 'hours',
      usd: '0.0140000000',
      attributes: { regionCode: 'eu-west-1', usagetype: 'EU-SpotUsage:Fargate-vCPU-Hours:perCPU' },
    }),
    priceItem({
      serviceCode: 'AmazonECS',
      productFamily: 'Compute',
      unit: 'hours',
      usd: '0.0356500000',
      attributes: { regionCode: 'eu-west-1', usagetype: 'EU-Fargate-ARM-vCPU-Hours:perCPU' },
    }),
  ],
  AmazonMSK: [
    priceItem({
      serviceCode: 'AmazonMSK',
      productFamily: 'Managed Streaming for Apache Kafka (MSK)',
      unit: 'hours',
      usd: '0.2260000000',
      description: 'USD 0.226 per Kafka.m5.large broker hour in EU (Ireland)',
      attributes: {
        regionCode: 'eu-west-1',
        usagetype: 'EU-Kafka.m5.large',
        computeFamily: 'm5.large',
        operation: 'RunBroker',
      },
    }),
    priceItem({
      serviceCode: 'AmazonMSK',
      productFamily: 'Storage',
      unit: 'GB-Mo',
      usd: '0.1100000000',
      attributes: { regionCode: 'eu-west-1', usagetype: 'EU-Kafka.Storage.GP2' },
    }),
  ],
};

/** Applies GetProducts filters the way the API does (TERM_MATCH: equal, CONTAINS: substring). */
export function matches(item: string, filters: GetProductsCommandInput['Filters']): boolean {
  const attrs = (JSON.parse(item) as { product: { attributes: Record<string, string> } }).product.attributes;
  return (filters ?? []).every((f) => {
    const v = attrs[f.Field!];
    if (v === undefined) return false;
    return f.Type === 'CONTAINS' ? v.includes(f.Value!) : v.toLowerCase() === f.Value!.toLowerCase();
  });
}

/**
 * Mocks every PricingClient to answer GetProducts from `CATALOGUE`, one product per page (so
 * pagination with NextToken is exercised).
 */
export function mockPricing() {
  const mock = mockClient(PricingClient);
  mock.on(GetProductsCommand).callsFake(async (input: GetProductsCommandInput) => {
    const all = (CATALOGUE[input.ServiceCode!] ?? []).filter((item) => matches(item, input.Filters));
    const start = input.NextToken ? Number(input.NextToken) : 0;
    const page = all.slice(start, start + 1);
    return {
      FormatVersion: 'aws_v1',
      PriceList: page,
      ...(start + 1 < all.length ? { NextToken: String(start + 1) } : {}),
      $metadata: { httpStatusCode: 200 },
    };
  });
  return mock;
}
