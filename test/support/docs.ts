/**
 * Reading the project's Markdown docs the way GitHub renders them: heading anchors, relative links,
 * and the config keys a reference table documents; and listing the keys a zod schema accepts.
 */
import type { core } from 'zod';

/** The Markdown of a file without its fenced code blocks (their `#` lines are not headings). */
function withoutFences(markdown: string): string[] {
  let fence: string | undefined;
  return markdown.split('\n').filter((line) => {
    const open = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === undefined && open !== undefined) {
      fence = open;
      return false;
    }
    if (fence !== undefined) {
      if (line.trim().startsWith(fence)) fence = undefined;
      return false;
    }
    return true;
  });
}

/**
 * GitHub's anchor of a heading's text: inline markup gone, lower-cased, every character that is not a
 * letter, digit, space, `-` or `_` dropped, spaces to `-` (github-slugger's rule).
 * @param heading the heading's text after the `#`s
 */
export function githubSlug(heading: string): string {
  return heading
    .trim()
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M}\- _]/gu, '')
    .replace(/ /g, '-');
}

/**
 * Every heading anchor of a Markdown document, with GitHub's `-1`, `-2` suffixes for repeated headings.
 * @param markdown the document
 */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const line of withoutFences(markdown)) {
    const text = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line)?.[1];
    if (text === undefined) continue;
    const slug = githubSlug(text);
    let anchor = slug;
    for (let n = 1; anchors.has(anchor); n++) anchor = `${slug}-${n}`;
    anchors.add(anchor);
  }
  return anchors;
}

/** A Markdown link outside code: its target as written. */
export interface MarkdownLink {
  line: number;
  target: string;
}

/**
 * The inline links and images of a document (`[text](target)`), outside fenced blocks and code spans.
 * @param markdown the document
 */
export function markdownLinks(markdown: string): MarkdownLink[] {
  const links: MarkdownLink[] = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((raw, i) => {
    const open = /^\s*(`{3,}|~{3,})/.exec(raw)?.[1];
    if (fence === undefined && open !== undefined) fence = open;
    else if (fence !== undefined) {
      if (raw.trim().startsWith(fence)) fence = undefined;
    } else {
      const line = raw.replace(/(`+)[^`]*?\1/g, '');
      for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
        links.push({ line: i + 1, target: m[1]! });
    }
  });
  return links;
}

/**
 * The config paths a reference documents: the first cell of every table row, when it is one or more
 * backticked paths (`` `probes.schedule` ``, `` `utilization.thresholds[].metric` ``). A trailing `[]`
 * names the array key itself (`` `probes.regions[]` `` documents `probes.regions`).
 * @param markdown the reference
 */
export function documentedKeys(markdown: string): Set<string> {
  const keys = new Set<string>();
  for (const line of withoutFences(markdown)) {
    const cell = /^\|([^|]*)\|/.exec(line)?.[1];
    if (cell === undefined) continue;
    for (const m of cell.matchAll(/`([A-Za-z][\w.[\]]*)`/g)) keys.add(m[1]!.replace(/\[\]$/, ''));
  }
  return keys;
}

/**
 * Every key path a zod schema accepts: `a.b` for a key `b` of object `a`, `a[].b` for a key of the
 * items of array `a`. Walks objects, arrays, optionals, defaults, unions (discriminated ones too, whose
 * options' keys merge), intersections, pipes and lazies; a record's own keys are free and end the walk.
 * @param schema a classic or mini zod schema
 * @param prefix the path of the schema itself ('' for the root)
 */
export function schemaKeys(schema: core.$ZodType, prefix = ''): string[] {
  const def = (schema as core.$ZodTypes)._zod.def;
  switch (def.type) {
    case 'object':
      return Object.entries(def.shape).flatMap(([key, value]) => {
        const path = prefix === '' ? key : `${prefix}.${key}`;
        return [path, ...schemaKeys(value, path)];
      });
    case 'array':
      return schemaKeys(def.element, `${prefix}[]`);
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'nonoptional':
    case 'readonly':
    case 'catch':
      return schemaKeys(def.innerType, prefix);
    case 'union':
      return [...new Set(def.options.flatMap((option) => schemaKeys(option, prefix)))];
    case 'intersection':
      return [...new Set([...schemaKeys(def.left, prefix), ...schemaKeys(def.right, prefix)])];
    case 'pipe':
      return [...new Set([...schemaKeys(def.in, prefix), ...schemaKeys(def.out, prefix)])];
    case 'lazy':
      return schemaKeys(def.getter(), prefix);
    default:
      return [];
  }
}
