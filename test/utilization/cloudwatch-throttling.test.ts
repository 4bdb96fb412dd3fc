import { Readable } from 'node:stream';
import { HttpResponse } from '@smithy/protocol-http';
import { describe, expect, it } from 'vitest';
import { createCloudWatchClient } from '#utilization/aws-clients';
import { buildQueries, computeWindow, fetchMetricData, planCalls } from '#utilization/cloudwatch';
import { answerGetMetricData } from '../fixtures/aws/get-metric-data-fake.ts';
import { fixture } from '../fixtures/aws/load.ts';

// No aws-sdk-client-mock here: it replaces `send`, which would bypass the retry middleware under test.
// The client is real down to its HTTP handler, which answers like CloudWatch's JSON protocol does.
const region = 'eu-west-1';
const window = computeWindow(new Date('2024-05-01T11:07:31Z'), 60, 300, 10);
const instance = {
  resource: {
    resourceArn: 'arn:aws:ec2:eu-west-1:111122223333:instance/i-0a1b2c3d4e5f60001',
    accountId: '111122223333',
    region,
    service: 'ec2' as const,
    resourceType: 'instance',
    name: 'web-1',
    state: 'running',
    tags: {},
    capacity: {},
    hasAgentMetrics: false,
    observedAt: '2024-05-01T11:07:31.000Z',
  },
  target: { service: 'ec2' as const, instanceId: 'i-0a1b2c3d4e5f60001' },
};

describe('throttling', () => {
  it('retries a ThrottlingException with the adaptive client and returns complete results', async () => {
    const throttle = fixture<{ statusCode: number; headers: Record<string, string>; body: unknown }>(
      'cloudwatch/get-metric-data-throttling.http.json',
    );
    const requests: string[] = [];
    const requestHandler = {
      async handle(request: { body: Uint8Array | string; headers: Record<string, string> }) {
        const text = typeof request.body === 'string' ? request.body : new TextDecoder().decode(request.body);
        requests.push(request.headers['x-amz-target']!);
        const body =
          requests.length === 1
            ? throttle.body
            : (() => {
                const input = JSON.parse(text);
                const out = answerGetMetricData({
                  ...input,
                  StartTime: new Date(input.StartTime * 1000),
                  EndTime: new Date(input.EndTime * 1000),
                });
                return {
                  MetricDataResults: out.MetricDataResults!.map((r) => ({
                    ...r,
                    Timestamps: r.Timestamps!.map((t) => t.getTime() / 1000),
                  })),
                  Messages: [],
                };
              })();
        const statusCode = requests.length === 1 ? throttle.statusCode : 200;
        const headers =
          requests.length === 1 ? throttle.headers : { 'content-type': 'application/x-amz-json-1.0' };
        return {
          response: new HttpResponse({
            statusCode,
            headers,
            body: Readable.from([Buffer.from(JSON.stringify(body))]),
          }),
        };
      },
      updateHttpClientConfig() {},
      httpHandlerConfigs: () => ({}),
    };
    const cw = createCloudWatchClient(
      region,
      {
        accessKeyId: 'AKIDEXAMPLE',
        secretAccessKey: 'secret',
        sessionToken: 'token',
        expiration: new Date(Date.now() + 3600_000),
      },
      { requestHandler, maxAttempts: 4 },
    );
    const strategy = await cw.config.retryStrategy();
    expect(strategy.constructor.name).toBe('AdaptiveRetryStrategy');
    expect(await cw.config.maxAttempts()).toBe(4);
    const { units } = buildQueries([instance], window);
    const result = await fetchMetricData(cw, planCalls(units));
    expect(requests).toEqual([
      'GraniteServiceVersion20100801.GetMetricData',
      'GraniteServiceVersion20100801.GetMetricData',
    ]);
    expect(result.getMetricDataCalls).toBe(1);
    expect(result.series.size).toBe(6);
    expect(
      [...result.series.values()].every((s) => s.timestamps.length === 12 && s.status === 'Complete'),
    ).toBe(true);
    expect(result.series.get('q0')!.timestamps[0]).toEqual(window.start);
  });
});
