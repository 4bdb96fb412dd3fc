/**
 * Reads and validates a config file. The only I/O of the config module.
 */
import { readFileSync } from 'node:fs';
import { parseDocument, type YAMLError } from 'yaml';
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
  const [first] = doc.errors;
  // One mistake often yields several parser errors (a bad indent is also a multi-line key); the later
  // ones are consequences of the first, so only the first is reported, at its line.
  if (first) throw new ConfigError(file, [yamlProblem(first)]);
  return parseConfig(doc.toJS(), file);
}

/** `yaml: line 3, column 6: Nested mappings are not allowed in compact mappings` */
function yamlProblem(error: YAMLError): string {
  const message = error.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? error.code;
  const pos = error.linePos?.[0];
  return pos ? `yaml: line ${pos.line}, column ${pos.col}: ${message}` : `yaml: ${message}`;
}
