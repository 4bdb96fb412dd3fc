import { generateAuthTokenFromCredentialsProvider } from 'aws-msk-iam-sasl-signer-js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mskIamAuthToken } from '../../lambdas/msk-rollback/adapters/kafka-admin.ts';

const NOW = new Date('2026-03-02T09:00:00Z');
const CREDENTIALS = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'tok',
};

function presignedUrl(token: string): URL {
  return new URL(Buffer.from(token, 'base64url').toString('utf8'));
}

beforeEach(() => {
  // Only the clock is faked: the signer stamps X-Amz-Date and the expiry from it.
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
});

afterEach(() => {
  vi.useRealTimers();
});

describe('MSK IAM auth token', () => {
  it('is the token aws-msk-iam-sasl-signer-js signs for kafka-cluster:Connect in the region', async () => {
    const { token, expiresAtMs } = await mskIamAuthToken('eu-west-1', CREDENTIALS);
    const reference = await generateAuthTokenFromCredentialsProvider({
      region: 'eu-west-1',
      awsCredentialsProvider: async () => CREDENTIALS,
    });
    expect(token).toBe(reference.token);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    const url = presignedUrl(token);
    expect(url.host).toBe('kafka.eu-west-1.amazonaws.com');
    expect(url.searchParams.get('Action')).toBe('kafka-cluster:Connect');
    expect(url.searchParams.get('X-Amz-Credential')).toBe(
      'AKIAIOSFODNN7EXAMPLE/20260302/eu-west-1/kafka-cluster/aws4_request',
    );
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(url.searchParams.get('X-Amz-Security-Token')).toBe('tok');
    expect(url.searchParams.get('User-Agent')).toMatch(/^aws-msk-iam-sasl-signer-js\//);
    expect(expiresAtMs).toBe(NOW.getTime() + 900_000);
  });

  it('never outlives the credentials that signed it', async () => {
    const expiring = async () => ({ ...CREDENTIALS, expiration: new Date(NOW.getTime() + 120_000) });
    const { token, expiresAtMs } = await mskIamAuthToken('us-east-2', expiring);
    const url = presignedUrl(token);
    expect(url.searchParams.get('X-Amz-Expires')).toBe('120');
    expect(url.searchParams.get('X-Amz-Credential')).toContain('/us-east-2/kafka-cluster/');
    expect(expiresAtMs).toBe(NOW.getTime() + 120_000);
  });
});
