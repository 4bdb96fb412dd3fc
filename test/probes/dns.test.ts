import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeDns } from '#probes/dns';
import { type Running, startDnsServer } from './support/servers.ts';

const DELAY_MS = 120;
const ZONE = {
  'api.example.test': { A: ['10.0.1.10', '10.0.2.10', '10.0.3.10'], AAAA: ['fd00::10'] },
  'www.example.test': { CNAME: ['api.example.test'] },
  'txt.example.test': { TXT: ['v=spf1 -all'] },
  'empty.example.test': {},
};

describe('probeDns', () => {
  let fast: Running & { queries: () => number };
  let slow: Running;
  let silent: Running;
  beforeAll(async () => {
    fast = await startDnsServer(ZONE);
    slow = await startDnsServer(ZONE, { delayMs: DELAY_MS });
    silent = await startDnsServer(ZONE, { silent: true });
  });
  afterAll(async () => {
    await Promise.all([fast.close(), slow.close(), silent.close()]);
  });

  it('counts the answers of an A query sent to the configured server', async () => {
    const before = fast.queries();
    const r = await probeDns({
      query: 'api.example.test',
      servers: [`127.0.0.1:${fast.port}`],
      timeoutMs: 1000,
    });
    expect(r).toMatchObject({
      success: 1,
      recordType: 'A',
      answers: ['10.0.1.10', '10.0.2.10', '10.0.3.10'],
      servers: [`127.0.0.1:${fast.port}`],
    });
    expect(fast.queries() - before).toBe(1);
    expect(r.lookupSeconds).toBeGreaterThan(0);
  });

  it('measures a lookup time that includes the server delay', async () => {
    const r = await probeDns({
      query: 'api.example.test',
      servers: [`127.0.0.1:${slow.port}`],
      timeoutMs: 2000,
    });
    expect(r.success).toBe(1);
    expect(r.lookupSeconds).toBeGreaterThanOrEqual(DELAY_MS / 1000);
    expect(r.lookupSeconds).toBeLessThan(1);
  });

  it('passes when every expected answer is present, ignoring case and a trailing dot', async () => {
    const r = await probeDns({
      query: 'API.example.test',
      servers: [`127.0.0.1:${fast.port}`],
      timeoutMs: 1000,
      expectAnswers: ['10.0.2.10', '10.0.1.10'],
    });
    expect(r.success).toBe(1);
    const cname = await probeDns({
      query: 'www.example.test',
      recordType: 'CNAME',
      servers: [`127.0.0.1:${fast.port}`],
      timeoutMs: 1000,
      expectAnswers: ['API.example.test.'],
    });
    expect(cname).toMatchObject({ success: 1, answers: ['api.example.test'] });
  });

  it('fails with reason answers naming the missing values', async () => {
    const r = await probeDns({
      query: 'api.example.test',
      servers: [`127.0.0.1:${fast.port}`],
      timeoutMs: 1000,
      expectAnswers: ['10.0.1.10', '10.0.9.9'],
    });
    expect(r).toMatchObject({ success: 0, reason: 'answers', error: 'A api.example.test: missing 10.0.9.9' });
    expect(r.answers).toHaveLength(3);
  });

  it('queries AAAA and TXT records', async () => {
    const aaaa = await probeDns({
      query: 'api.example.test',
      recordType: 'AAAA',
      servers: [`127.0.0.1:${fast.port}`],
      timeoutMs: 1000,
    });
    expect(aaaa).toMatchObject({ success: 1, answers: ['fd00::10'] });
    const txt = await probeDns({
      query: 'txt.example.test',
      recordType: 'TXT',
      servers: [`127.0.0.1:${fast.port}`],
      timeoutMs: 1000,
    });
    expect(txt).toMatchObject({ success: 1, answers: ['v=spf1 -all'] });
  });

  it('fails an unknown name (NXDOMAIN) and an empty answer with reason dns', async () => {
    const nx = await probeDns({
      query: 'nope.example.test',
      servers: [`127.0.0.1:${fast.port}`],
      timeoutMs: 1000,
    });
    expect(nx).toMatchObject({
      success: 0,
      reason: 'dns',
      error: 'A nope.example.test: ENOTFOUND',
      answers: [],
    });
    const empty = await probeDns({
      query: 'empty.example.test',
      servers: [`127.0.0.1:${fast.port}`],
      timeoutMs: 1000,
    });
    expect(empty).toMatchObject({ success: 0, reason: 'dns' });
  });

  it('times out on a server that never answers', async () => {
    const r = await probeDns({
      query: 'api.example.test',
      servers: [`127.0.0.1:${silent.port}`],
      timeoutMs: 300,
    });
    expect(r).toMatchObject({
      success: 0,
      reason: 'timeout',
      error: 'A api.example.test: no answer within 300 ms',
    });
    expect(r.lookupSeconds).toBeGreaterThanOrEqual(0.29);
    expect(r.lookupSeconds).toBeLessThan(2);
  });

  it('stops at the abort signal with reason deadline', async () => {
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    const r = await probeDns({
      query: 'api.example.test',
      servers: [`127.0.0.1:${silent.port}`],
      timeoutMs: 5000,
      signal: abort.signal,
    });
    expect(r).toMatchObject({ success: 0, reason: 'deadline' });
    expect(r.lookupSeconds).toBeLessThan(1);
  });
});
