/**
 * Invokes a Lambda function's code once, the way the Node.js runtime does: imports the handler module
 * from the code root (the working directory, as /var/task is), calls the exported handler with the event
 * and a context whose remaining time counts down from the function's timeout, and writes the outcome
 * as JSON to a file (stdout is the function's log). Run by Node 22 in a child process, with the
 * environment the function would have.
 *
 *   node lambda-runner.mjs <code-root> <handler, e.g. index.handler> <event.json> <result.json> <timeout-ms>
 *
 * `RUNNER_HOSTS` (JSON `{ "host.suffix": "127.0.0.1" }`) answers name lookups of hosts that end with a
 * suffix with that address, as a VPC's private DNS would, so code that connects to AWS-named hosts
 * (MSK brokers) reaches loopback listeners. It patches `dns.lookup`, which `net` and `tls` call.
 */
import dns from 'node:dns';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [root, handlerName, eventFile, resultFile, timeoutMs] = process.argv.slice(2);
const hosts = Object.entries(JSON.parse(process.env.RUNNER_HOSTS ?? '{}'));
if (hosts.length > 0) {
  const lookup = dns.lookup;
  dns.lookup = (hostname, options, callback) => {
    const hit = hosts.find(([suffix]) => hostname.endsWith(suffix));
    if (!hit) return lookup(hostname, options, callback);
    const cb = typeof options === 'function' ? options : callback;
    const all = typeof options === 'object' && options?.all;
    process.nextTick(() => (all ? cb(null, [{ address: hit[1], family: 4 }]) : cb(null, hit[1], 4)));
  };
}

const dot = handlerName.lastIndexOf('.');
const [file, exportName] = [handlerName.slice(0, dot), handlerName.slice(dot + 1)];
const deadline = Date.now() + Number(timeoutMs);
const name = process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'function';
const context = {
  functionName: name,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:${process.env.AWS_REGION}:111111111111:function:${name}`,
  memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '128',
  awsRequestId: '6f0b7c1e-5d2a-4b8e-9c3f-1a2b3c4d5e6f',
  logGroupName: `/aws/lambda/${name}`,
  logStreamName: '2026/01/01/[$LATEST]0123456789abcdef',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  done() {},
  fail() {},
  succeed() {},
};

let outcome;
try {
  const module = await import(pathToFileURL(join(root, `${file}.mjs`)).href);
  const event = JSON.parse(readFileSync(eventFile, 'utf8'));
  outcome = { ok: true, result: (await module[exportName](event, context)) ?? null };
} catch (err) {
  const e = err instanceof Error ? err : new Error(String(err));
  outcome = { ok: false, error: { name: e.name, message: e.message, stack: e.stack } };
}
writeFileSync(resultFile, JSON.stringify(outcome));
// The runtime freezes the sandbox once the handler's promise settles; nothing after it counts.
process.exit(0);
