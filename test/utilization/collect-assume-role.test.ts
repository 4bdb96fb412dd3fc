import { AssumeRoleCommand, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { assumeRoleCredentials, memberRoleArn, partitionOf } from '#utilization/assume-role';
import { asShardError, ShardError } from '#utilization/shard-error';
import { fixture } from '../fixtures/aws/load.ts';

const stsMock = mockClient(STSClient);
const sts = new STSClient({ region: 'eu-west-1' });

function accessDenied() {
  const f = fixture<{
    name: string;
    message: string;
    $fault: 'client';
    $metadata: { httpStatusCode: number };
  }>('sts/assume-role-access-denied.json');
  return new STSServiceException({
    name: f.name,
    message: f.message,
    $fault: f.$fault,
    $metadata: f.$metadata,
  });
}

beforeEach(() => stsMock.reset());

describe('assumeRoleCredentials', () => {
  it('assumes the named role in the member account with the external ID and session name', async () => {
    stsMock.on(AssumeRoleCommand).resolves(fixture('sts/assume-role.json'));
    const port = assumeRoleCredentials(sts, {
      roleName: 'InfraObservatoryReader',
      externalId: 'observatory-7f3a',
      sessionName: 'observatory-collect',
      now: () => new Date('2024-05-01T11:00:00Z'),
    });
    const creds = await port.forAccount('111122223333');
    expect(creds).toEqual({
      accessKeyId: 'ASIAQEXAMPLE7MEMBER1',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY',
      sessionToken: expect.stringMatching(/^IQoJ/),
      expiration: new Date('2024-05-01T11:12:00Z'),
    });
    expect(stsMock.commandCalls(AssumeRoleCommand)[0]!.args[0].input).toEqual({
      RoleArn: 'arn:aws:iam::111122223333:role/InfraObservatoryReader',
      RoleSessionName: 'observatory-collect',
      ExternalId: 'observatory-7f3a',
      DurationSeconds: 900,
    });
  });

  it('reuses credentials until five minutes before they expire', async () => {
    stsMock.on(AssumeRoleCommand).resolves(fixture('sts/assume-role.json'));
    let now = new Date('2024-05-01T11:00:00Z');
    const port = assumeRoleCredentials(sts, { roleName: 'InfraObservatoryReader', now: () => now });
    await port.forAccount('111122223333');
    now = new Date('2024-05-01T11:06:59Z');
    await port.forAccount('111122223333');
    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(1);
    now = new Date('2024-05-01T11:07:01Z');
    await port.forAccount('111122223333');
    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(2);
    expect(stsMock.commandCalls(AssumeRoleCommand)[0]!.args[0].input.ExternalId).toBeUndefined();
  });

  it('turns AccessDenied into a ShardError naming the account and the reason', async () => {
    stsMock.on(AssumeRoleCommand).rejects(accessDenied());
    const port = assumeRoleCredentials(sts, { roleName: 'InfraObservatoryReader' });
    const error = await port.forAccount('111122223333').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShardError);
    const shardError = error as ShardError;
    expect(shardError.name).toBe('ShardError');
    expect(shardError.accountId).toBe('111122223333');
    expect(shardError.reason).toBe('access-denied');
    expect(shardError.message).toMatch(
      /^shard 111122223333 failed: access-denied: AccessDenied: User: .* is not authorized to perform: sts:AssumeRole/,
    );
  });

  it('does not cache a refusal: the next attempt asks STS again', async () => {
    stsMock.on(AssumeRoleCommand).rejectsOnce(accessDenied()).resolves(fixture('sts/assume-role.json'));
    const port = assumeRoleCredentials(sts, {
      roleName: 'InfraObservatoryReader',
      now: () => new Date('2024-05-01T11:00:00Z'),
    });
    await expect(port.forAccount('111122223333')).rejects.toThrow(ShardError);
    await expect(port.forAccount('111122223333')).resolves.toMatchObject({
      accessKeyId: 'ASIAQEXAMPLE7MEMBER1',
    });
  });

  it('fails with role-not-configured when no role name is given, without calling STS', async () => {
    const port = assumeRoleCredentials(sts, { roleName: '' });
    await expect(port.forAccount('111122223333')).rejects.toMatchObject({
      name: 'ShardError',
      reason: 'role-not-configured',
      accountId: '111122223333',
    });
    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(0);
  });

  it('maps a disabled region to region-disabled and leaves throttling alone', async () => {
    stsMock.on(AssumeRoleCommand).rejects(
      new STSServiceException({
        name: 'RegionDisabledException',
        message: 'STS is not activated in this region for account:111122223333',
        $fault: 'client',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    const port = assumeRoleCredentials(sts, { roleName: 'InfraObservatoryReader' });
    await expect(port.forAccount('111122223333')).rejects.toMatchObject({ reason: 'region-disabled' });
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'Throttling' });
    expect(asShardError(throttled, '111122223333')).toBeUndefined();
  });
});

describe('role ARNs', () => {
  it('builds the member role ARN in the partition of the region', () => {
    expect(partitionOf('eu-west-1')).toBe('aws');
    expect(partitionOf('cn-north-1')).toBe('aws-cn');
    expect(partitionOf('us-gov-west-1')).toBe('aws-us-gov');
    expect(memberRoleArn(partitionOf('cn-north-1'), '111122223333', 'Reader')).toBe(
      'arn:aws-cn:iam::111122223333:role/Reader',
    );
  });
});
