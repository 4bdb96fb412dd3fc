/**
 * The Prometheus JMX exporter's rule engine (jmx_exporter `JmxCollector`), reimplemented for tests, so a
 * simulated MirrorMaker 2 can emit exactly the series the exporter's rules in the MM2 image would:
 *
 * - each numeric MBean attribute is matched as `domain<k1=v1, k2=v2><>attribute: value`;
 * - a rule's `pattern` is anchored as `^.*(?:pattern).*$`, the first matching rule wins;
 * - `name` and label templates are the pattern's replacement (`$1`), names pass `safeName` (illegal
 *   characters and runs of `_` become one `_`) and are lower-cased with `lowercaseOutputName`;
 * - empty label names or values are dropped; `valueFactor` scales the value; a COUNTER gets `_total`
 *   (jmx_exporter 1.x); a rule without `name` uses the default export format
 *   (`domain_firstvalue_attribute`, the other bean properties as labels).
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/** One rule of the exporter's config. */
export interface JmxRule {
  pattern?: string;
  name?: string;
  labels?: Record<string, string>;
  type?: string;
  valueFactor?: number;
}

/** The exporter's config (the parts the rule engine reads). */
export interface JmxExporterConfig {
  lowercaseOutputName?: boolean;
  lowercaseOutputLabelNames?: boolean;
  rules?: JmxRule[];
}

/** One numeric MBean attribute. */
export interface MBeanAttribute {
  readonly domain: string;
  /** Key properties in ObjectName order. */
  readonly properties: readonly (readonly [string, string])[];
  readonly attribute: string;
  readonly value: number;
}

/** A series the exporter exposes. */
export interface ExportedSample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Reads an exporter config file (YAML). */
export function readJmxExporterConfig(path: string): JmxExporterConfig {
  return parse(readFileSync(path, 'utf8')) as JmxExporterConfig;
}

/** jmx_exporter's `safeName`. */
export function safeName(name: string): string {
  let out = /^[0-9]/.test(name) ? '_' : '';
  let prevUnderscore = false;
  for (const c of name) {
    if (!/[a-zA-Z0-9:_]/.test(c) || c === '_') {
      if (!prevUnderscore) out += '_';
      prevUnderscore = true;
    } else {
      out += c;
      prevUnderscore = false;
    }
  }
  return out;
}

/**
 * Applies the rules to one attribute.
 * @returns the exported sample, or undefined when no rule matches (the attribute is not exported)
 */
export function applyRules(config: JmxExporterConfig, bean: MBeanAttribute): ExportedSample | undefined {
  const props = bean.properties.map(([k, v]) => `${k}=${v}`).join(', ');
  const matchName = `${bean.domain}<${props}><>${bean.attribute}`;
  const subject = `${matchName}: ${bean.value}`;
  const rules = config.rules ?? [{}];
  for (const rule of rules) {
    const regex = rule.pattern === undefined ? undefined : new RegExp(`^.*(?:${rule.pattern}).*$`);
    if (regex && !regex.test(subject)) continue;
    const replace = (template: string) => (regex ? subject.replace(regex, template) : template);
    let name: string;
    const labels: Record<string, string> = {};
    if (rule.name === undefined) {
      const [first, ...rest] = bean.properties;
      name = safeName(`${bean.domain}${first ? `_${first[1]}` : ''}_${bean.attribute}`);
      for (const [k, v] of rest) labels[safeName(k)] = v;
    } else {
      name = safeName(replace(rule.name));
      for (const [k, v] of Object.entries(rule.labels ?? {})) {
        let labelName = safeName(replace(k));
        const labelValue = replace(v);
        if (config.lowercaseOutputLabelNames) labelName = labelName.toLowerCase();
        if (labelName && labelValue) labels[labelName] = labelValue;
      }
    }
    if (!name) return undefined;
    if (config.lowercaseOutputName) name = name.toLowerCase();
    if (rule.type?.toUpperCase() === 'COUNTER' && !name.endsWith('_total')) name = `${name}_total`;
    return { name, labels, value: bean.value * (rule.valueFactor ?? 1) };
  }
  return undefined;
}
