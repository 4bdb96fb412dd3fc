/**
 * Reads and validates a config file. The only I/O of the config module.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { type ObservatoryConfig, ObservatoryConfigSchema } from './schema.ts';

/** A config that failed to parse or validate; `problems` lists every issue by path. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`invalid config ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

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

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const path = formatPath(issue.path) || '(root)';
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `${path === '(root)' ? k : `${path}.${k}`}: unknown key`).join('\n');
  }
  const got = valueAt(input, issue.path);
  // Custom (cross-field) messages already name the offending value.
  const suffix = got === undefined || issue.code === 'custom' ? '' : `, got ${JSON.stringify(got)}`;
  if (issue.code === 'invalid_type' && got === undefined)
    return `${path}: required (${issue.message.replace(/^Invalid input: /, '')})`;
  return `${path}: ${issue.message.replace(/^Invalid input: /, '')}${suffix}`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return typeof cur === 'object' ? undefined : cur;
}

/**
 * Validates an already parsed config object.
 * @param input the parsed YAML
 * @param file name used in error messages
 * @throws ConfigError listing every problem
 */
export function parseConfig(input: unknown, file = '<config>'): ObservatoryConfig {
  const result = ObservatoryConfigSchema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(
      file,
      result.error.issues.flatMap((i) => describeIssue(i, input).split('\n')),
    );
  }
  return result.data;
}

/**
 * Reads, parses and validates a YAML config file.
 * @param file path of the YAML file
 * @throws ConfigError on a missing file, a YAML syntax error or any schema problem
 */
export function loadConfig(file: string): ObservatoryConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read file: ${(err as Error).message}`]);
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => `yaml: ${e.message.split('\n')[0]}`),
    );
  }
  return parseConfig(doc.toJS(), file);
}
