/**
 * Topic and consumer-group filters exactly as MirrorMaker 2 applies them: a name is selected when it fully
 * matches one include pattern and no exclude pattern. MM2 replaces its default excludes when any are set,
 * so the excludes every flow needs (internal, replica and MM2 heartbeat topics; tool and Connect groups)
 * are always added to the user's.
 */

/** Topics never replicated: Kafka and MM2 internal topics and the MM2 heartbeats topic. */
export const REQUIRED_TOPIC_EXCLUDES: readonly string[] = [
  '.*[\\-\\.]internal',
  '.*\\.replica',
  '__.*',
  'heartbeats',
];

/** Groups never synchronized: console tools, Kafka Connect workers and internal groups. */
export const REQUIRED_GROUP_EXCLUDES: readonly string[] = ['console-consumer-.*', 'connect-.*', '__.*'];

/** Include and exclude patterns (full-match regular expressions). */
export interface NameFilter {
  readonly include: readonly string[];
  readonly exclude: readonly string[];
}

/**
 * Adds the required excludes to a filter, without duplicates, keeping the user's order first.
 * @param filter the user's filter
 * @param required the excludes every flow needs
 */
export function withRequiredExcludes(filter: NameFilter, required: readonly string[]): NameFilter {
  const exclude = [...filter.exclude];
  for (const p of required) if (!exclude.includes(p)) exclude.push(p);
  return { include: [...filter.include], exclude };
}

/** A compiled filter. */
export type NameMatcher = (name: string) => boolean;

/**
 * Compiles a filter the way MM2 does (`Pattern.compile(String.join("|", patterns)).matcher(name).matches()`).
 * @param filter include and exclude patterns
 */
export function compileFilter(filter: NameFilter): NameMatcher {
  const anyOf = (patterns: readonly string[]) =>
    patterns.length === 0 ? null : new RegExp(`^(?:${patterns.map((p) => `(?:${p})`).join('|')})$`);
  const include = anyOf(filter.include);
  const exclude = anyOf(filter.exclude);
  return (name) => (include?.test(name) ?? false) && !(exclude?.test(name) ?? false);
}

/**
 * Names selected by a filter, sorted.
 * @param names candidate names
 * @param filter include and exclude patterns (required excludes are not added here)
 */
export function selectNames(names: Iterable<string>, filter: NameFilter): string[] {
  const matches = compileFilter(filter);
  return [...new Set(names)].filter(matches).sort();
}
