/**
 * Turns zod issues into the one-line, path-first problems every validator of the project prints
 * (`probes.targets[3].port: expected 1-65535, got 0`). Pure; shared by the config loader and the
 * Lambda-side input validators.
 */
import type { z } from 'zod';

/**
 * Formats a zod issue path as `probes.targets[3].port`.
 * @param path the issue's path
 */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)),
    '',
  );
}

/** The scalar at `path` in `input`, or undefined (objects and arrays are not echoed back). */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return typeof cur === 'object' ? undefined : cur;
}

/**
 * Describes every issue on its own line: unknown keys one per key, missing values as `required`,
 * everything else with the value that was given. Custom (cross-field) messages already name the value.
 * @param issues the issues of a failed `safeParse`
 * @param input what was parsed
 */
export function describeIssues(issues: readonly z.core.$ZodIssue[], input: unknown): string[] {
  return issues.flatMap((issue) => {
    const path = formatPath(issue.path) || '(root)';
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => `${path === '(root)' ? k : `${path}.${k}`}: unknown key`);
    }
    const got = valueAt(input, issue.path);
    if (issue.code === 'invalid_type' && got === undefined) return [`${path}: required`];
    const suffix = got === undefined || issue.code === 'custom' ? '' : `, got ${JSON.stringify(got)}`;
    return [`${path}: ${issue.message.replace(/^Invalid input: /, '')}${suffix}`];
  });
}
