/**
 * Environment of the MSK rollback functions, set by `MskRollbackStack`. Parsed when a handler runs, so a
 * missing variable fails the invocation naming it.
 */
import { z } from 'zod';

const json = <T extends z.ZodType>(schema: T) =>
  z.string().transform((s, ctx) => {
    try {
      return schema.parse(JSON.parse(s)) as z.infer<T>;
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `not valid JSON for this setting: ${(err as Error).message}` });
      return z.NEVER;
    }
  });
const csv = z.string().transform((s) => s.split(',').filter(Boolean));

const EnvSchema = z.object({
  ROLLBACK_CLUSTERS: json(z.array(z.object({ name: z.string(), arn: z.string() }))),
  ROLLBACK_DEFAULTS: json(
    z.object({
      maxLagRecords: z.number(),
      holdMinutes: z.number(),
      convergeTimeoutMinutes: z.number(),
      approvalTimeoutMinutes: z.number(),
      tasks: z.number(),
      cpu: z.number(),
      memoryMiB: z.number(),
    }),
  ),
  ECS_CLUSTER_ARN: z.string().min(1),
  CONFIG_BUCKET: z.string().min(1),
  ALERT_TOPIC_ARN: z.string().min(1),
  REMOTE_WRITE_URL: z.url(),
  TASK_VPC_ID: z.string().min(1),
  TASK_SUBNET_IDS: csv,
  TASK_SECURITY_GROUP_IDS: csv,
});

/** The parsed environment. */
export type RollbackEnv = z.infer<typeof EnvSchema>;

/**
 * Returns the environment variables a function needs, parsed.
 * @param keys the variables this function needs (others are not checked)
 */
export function rollbackEnv<K extends keyof RollbackEnv>(...keys: K[]): Pick<RollbackEnv, K> {
  const mask = Object.fromEntries(keys.map((k) => [k, true])) as { [k in keyof RollbackEnv]?: true };
  const result = EnvSchema.pick(mask).safeParse(process.env);
  if (!result.success) {
    throw new Error(
      `function environment is incomplete: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return result.data as unknown as Pick<RollbackEnv, K>;
}
