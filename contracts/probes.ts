/**
 * The probe run contract: what a probe function receives (targets, discovery, probe settings, the
 * source AZ). One definition for both sides: the config schema (`lib/config/schema.ts`) composes these
 * parts into `probes:`, and the probe handler validates its event with them.
 *
 * Written with `zod/mini`: the same validation and messages as classic zod (both build on `zod/v4/core`,
 * so classic schemas may hold these parts), at about 25 KB in a bundle instead of about 450 KB, which
 * is most of a cold start. Mini has functions where classic has methods: `z.optional(s)` for
 * `s.optional()`, `z._default(s, v)` for `s.default(v)`, `.check(z.minLength(1))` for `.min(1)`.
 */

import { isIP } from 'node:net';
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

// Classic zod loads the English messages on import; mini does not, and a Lambda imports only mini.
z.config(en());

/** An AWS region name. */
export const region = z
  .string()
  .check(z.regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/, 'expected an AWS region such as eu-west-1'));
/** An Availability Zone name. */
export const azName = z
  .string()
  .check(z.regex(/^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$/, 'expected an AZ name such as eu-west-1a'));
/** A TCP port. */
export const port = z.int().check(z.minimum(1, 'expected 1-65535'), z.maximum(65535, 'expected 1-65535'));
/** A name used in labels and resource names. */
export const name = z
  .string()
  .check(z.regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'expected 1-63 letters, digits, "_", "." or "-"'));
const nonEmpty = z.string().check(z.minLength(1));

/**
 * A string with a check beyond a regular expression; the message names the value (the issue formatter
 * adds no `, got` to custom issues).
 * @param problem what is wrong with the value, or undefined when it is fine
 */
export function checkedString(problem: (s: string) => string | undefined) {
  return z.string().check(
    z.superRefine((s, ctx) => {
      const p = problem(s);
      if (p) ctx.addIssue({ code: 'custom', message: `${p}, got ${JSON.stringify(s)}`, input: s });
    }),
  );
}

/** What is wrong with a host name or IP address. */
export function hostProblem(s: string): string | undefined {
  if (isIP(s)) return undefined;
  if (/^[\d.]+$/.test(s) || s.includes(':')) return 'not a valid IP address';
  const labels = s.replace(/\.$/, '').split('.');
  const ok =
    s.length <= 253 && labels.every((l) => /^[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?$/.test(l));
  return ok ? undefined : 'expected a DNS name or an IP address';
}

/** What is wrong with a JavaScript regular expression (as the probe engine compiles it). */
export function regexProblem(s: string): string | undefined {
  try {
    new RegExp(s);
    return undefined;
  } catch (err) {
    return `does not compile: ${(err as Error).message}`;
  }
}
const host = checkedString(hostProblem);
const regex = checkedString(regexProblem);
/** Source regions of a target: each at most once. */
const fromRegions = z.array(region).check(
  z.superRefine((items, ctx) => {
    const seen = new Map<string, number>();
    items.forEach((item, i) => {
      const first = seen.get(item);
      if (first === undefined) seen.set(item, i);
      else
        ctx.addIssue({
          code: 'custom',
          path: [i],
          message: `duplicate region "${item}" (first at [${first}])`,
          input: item,
        });
    });
  }),
);
const vpcEndpointId = z
  .string()
  .check(z.regex(/^vpce-[0-9a-f]{8,17}$/, 'expected a VPC endpoint ID such as vpce-0abc1234'));

const targetBase = {
  name,
  /** Region of the target, when known (becomes the target_region label). */
  region: z.optional(region),
  /** AZ of the target, when known (becomes the target_az label). */
  az: z.optional(azName),
  /** Source regions that probe this target; all probe regions when omitted. */
  from: z.optional(fromRegions),
  /** Probe every address the name resolves to separately. */
  allAddresses: z._default(z.boolean(), true),
};

/** A TCP connect target. */
export const TcpTargetSchema = z.strictObject({
  ...targetBase,
  kind: z.literal('tcp'),
  host,
  port,
});
/** An HTTP(S) target with optional assertions. */
export const HttpTargetSchema = z.strictObject({
  ...targetBase,
  kind: z.literal('http'),
  url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
  method: z._default(z.enum(['GET', 'HEAD']), 'GET'),
  expectStatus: z._default(z.array(z.int().check(z.minimum(100), z.maximum(599))), [200]),
  /** JavaScript regular expression the body must match. */
  bodyRegex: z.optional(regex),
  /** Header name to a JavaScript regular expression its value must match. */
  headers: z.optional(z.record(z.string(), regex)),
  followRedirects: z._default(z.boolean(), false),
  /** Fail the probe when the certificate expires in fewer days than this. */
  certMinDays: z._default(z.int().check(z.minimum(0)), 14),
});
/** A DNS lookup target. */
export const DnsTargetSchema = z
  .strictObject({
    ...targetBase,
    kind: z.literal('dns'),
    query: host,
    recordType: z._default(z.enum(['A', 'AAAA', 'CNAME', 'TXT', 'SRV']), 'A'),
    expectAnswers: z.optional(z.array(z.string().check(z.minLength(1)))),
  })
  .check(
    z.superRefine((t, ctx) => {
      const family = ({ A: 4, AAAA: 6 } as Record<string, number>)[t.recordType];
      t.expectAnswers?.forEach((answer, i) => {
        if (family !== undefined && isIP(answer) !== family)
          ctx.addIssue({
            code: 'custom',
            path: ['expectAnswers', i],
            message: `an ${t.recordType} answer is an IPv${family} address, got ${JSON.stringify(answer)}`,
            input: answer,
          });
      });
    }),
  );
/** Any probe target. */
export const ProbeTargetSchema = z.discriminatedUnion('kind', [
  TcpTargetSchema,
  HttpTargetSchema,
  DnsTargetSchema,
]);

/** Where targets come from besides the static list: Cloud Map namespaces and tagged EC2 instances. */
export const ProbeDiscoverySchema = z._default(
  z.strictObject({
    cloudMap: z._default(
      z.array(
        z.strictObject({
          namespace: nonEmpty,
          services: z.optional(z.array(z.string())),
          port: z.optional(port),
        }),
      ),
      [],
    ),
    ec2Tags: z.optional(
      z.strictObject({
        tagKey: z._default(nonEmpty, 'observatory:probe'),
        portTagKey: z._default(nonEmpty, 'observatory:port'),
        defaultPort: z._default(port, 443),
      }),
    ),
  }),
  { cloudMap: [] },
);

/** Probe settings shared by the config's `probes:` section and the run request. */
export const probeSettings = {
  /** Fresh TCP connections per target per run. */
  attempts: z._default(z.int().check(z.minimum(1), z.maximum(50)), 5),
  /** Timeout of one attempt. */
  timeoutMs: z._default(z.int().check(z.minimum(100), z.maximum(30_000)), 2_000),
  /** Targets probed at once. */
  concurrency: z._default(z.int().check(z.minimum(1), z.maximum(256)), 16),
};

/** The AZ a probe function runs in; becomes the source_* labels. */
export const ProbeSourceSchema = z.strictObject({
  region: nonEmpty,
  az: nonEmpty,
  azId: nonEmpty,
});

/** Interface VPC endpoints whose per-AZ network interfaces form the AZ-to-AZ mesh. */
export const ProbeMeshSchema = z.strictObject({
  vpcEndpointIds: z.array(vpcEndpointId).check(z.minLength(1)),
  /** @default 443 */
  port: z._default(z.int().check(z.minimum(1), z.maximum(65535)), 443),
});

/** The run request of one probe invocation. */
export const ProbeEventSchema = z.strictObject({
  source: ProbeSourceSchema,
  targets: z._default(z.array(ProbeTargetSchema), []),
  discovery: ProbeDiscoverySchema,
  ...probeSettings,
  mesh: z.optional(ProbeMeshSchema),
  /**
   * AZ ID of each AZ name the deployment probes from (names differ between accounts, IDs do not):
   * a target whose AZ is known gets its ID as `target_az_id`, the key AWS's own figures use.
   */
  zoneIds: z.optional(z.record(z.string(), z.string())),
  /** Pause between TCP attempts. @default 100 */
  intervalMs: z.optional(z.int().check(z.minimum(0), z.maximum(10_000))),
  /** TCP connect time above which an attempt counts as a SYN retransmission. @default 900 */
  synRetransmitThresholdMs: z.optional(z.int().check(z.minimum(1))),
});

/** A validated probe invocation (defaults applied). */
export type ProbeEvent = z.infer<typeof ProbeEventSchema>;
/** The raw payload as the scheduler sends it (defaults not yet applied). */
export type ProbeEventInput = z.input<typeof ProbeEventSchema>;
/** The AZ a run measures from. */
export type ProbeSource = z.infer<typeof ProbeSourceSchema>;
/** Discovery settings of a run. */
export type ProbeDiscovery = z.infer<typeof ProbeDiscoverySchema>;
/** A target as configured (defaults applied). */
export type ProbeTarget = z.infer<typeof ProbeTargetSchema>;
