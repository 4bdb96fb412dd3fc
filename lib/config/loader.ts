/**
 * Reads and validates a config file. The only I/O of the config module.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { describeIssues } from '#contracts/issues';
import { type ObservatoryConfig, ObservatoryConfigSchema } from './schema.ts';

export { formatPath } from '#contracts/issues';

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
 * Validates an already parsed config object.
 * @param input the parsed YAML
 * @param file name used in error messages
 * @throws ConfigError listing every problem
 */
export function parseConfig(input: unknown, file = '<config>'): ObservatoryConfig {
  const result = ObservatoryConfigSchema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(file, describeIssues(result.error.issues, input));
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
