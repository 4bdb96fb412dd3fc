/**
 * The EventBridge Scheduler grammar of recurring schedules: `rate(value unit)` and the six-field
 * `cron(minutes hours day-of-month month day-of-week year)`.
 *
 * Hand-written because no maintained npm library validates AWS's dialect (six fields, `?`, `L`, `W`,
 * `#`, a year field); the cron packages implement the five-field Vixie or the Quartz grammar, which
 * accept expressions Scheduler refuses and refuse ones it accepts.
 * @see https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
 */

interface Field {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const FIELDS: readonly Field[] = [
  { name: 'minutes', min: 0, max: 59 },
  { name: 'hours', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  { name: 'day-of-week', min: 1, max: 7, names: DAYS },
  { name: 'year', min: 1970, max: 2199 },
];
const DAY_OF_MONTH = 2;
const DAY_OF_WEEK = 4;

/** The value of one cron atom (a number or a month/day name), or an error message. */
function value(field: Field, atom: string): number | string {
  const named = field.names?.indexOf(atom.toUpperCase()) ?? -1;
  if (named >= 0) return named + 1;
  if (!/^\d+$/.test(atom)) return `"${atom}" is not a number${field.names ? ' or a name' : ''}`;
  const n = Number(atom);
  return n < field.min || n > field.max ? `${n} is outside ${field.min}-${field.max}` : n;
}

/** Problems of one comma-separated item of a field. */
function itemProblem(field: Field, index: number, item: string): string | undefined {
  if (item === '*') return undefined;
  if (index === DAY_OF_MONTH && /^(L|LW|L-\d+)$/.test(item)) {
    const offset = Number(item.slice(2) || 0);
    return offset > 30 ? `"${item}": L-n needs n in 0-30` : undefined;
  }
  if (index === DAY_OF_MONTH && item.endsWith('W')) {
    const v = value(field, item.slice(0, -1));
    return typeof v === 'string' ? `"${item}": ${v}` : undefined;
  }
  if (index === DAY_OF_WEEK && (item === 'L' || /^[^#]+L$/.test(item))) {
    const v = item === 'L' ? 7 : value(field, item.slice(0, -1));
    return typeof v === 'string' ? `"${item}": ${v}` : undefined;
  }
  if (index === DAY_OF_WEEK && item.includes('#')) {
    const [day = '', nth = ''] = item.split('#');
    const v = value(field, day);
    if (typeof v === 'string') return `"${item}": ${v}`;
    return /^[1-5]$/.test(nth) ? undefined : `"${item}": the week after # must be 1-5`;
  }
  const [base = '', step, extra] = item.split('/');
  if (extra !== undefined) return `"${item}" has more than one "/"`;
  if (step !== undefined && (!/^\d+$/.test(step) || Number(step) < 1))
    return `"${item}": the step after "/" must be a positive integer`;
  if (base === '*') return undefined;
  const [from = '', to, more] = base.split('-');
  if (more !== undefined) return `"${item}" is not a range a-b`;
  const a = value(field, from);
  if (typeof a === 'string') return `"${item}": ${a}`;
  if (to === undefined) return undefined;
  const b = value(field, to);
  if (typeof b === 'string') return `"${item}": ${b}`;
  return a > b ? `"${item}": the range runs backwards` : undefined;
}

/** The problem of a six-field cron body, or undefined when Scheduler accepts it. */
function cronProblem(body: string): string | undefined {
  const parts = body.trim().split(/\s+/);
  if (parts.length !== 6)
    return `cron() needs 6 fields (minutes hours day-of-month month day-of-week year), got ${parts.length}`;
  for (const [i, part] of parts.entries()) {
    const field = FIELDS[i] as Field;
    if (part === '?') {
      if (i !== DAY_OF_MONTH && i !== DAY_OF_WEEK)
        return `${field.name}: "?" is only valid in day-of-month or day-of-week`;
      continue;
    }
    for (const item of part.split(',')) {
      const problem = itemProblem(field, i, item);
      if (problem) return `${field.name}: ${problem}`;
    }
  }
  if ((parts[DAY_OF_MONTH] === '?') === (parts[DAY_OF_WEEK] === '?'))
    return 'exactly one of day-of-month and day-of-week must be "?"';
  return undefined;
}

/**
 * Checks a recurring EventBridge Scheduler expression.
 * @param expression e.g. `rate(5 minutes)` or `cron(0/15 8-18 ? * MON-FRI *)`
 * @returns what is wrong, or undefined when Scheduler accepts it
 */
export function scheduleProblem(expression: string): string | undefined {
  const rate = /^rate\((.*)\)$/.exec(expression);
  if (rate) {
    const m = /^(\d+) (minute|minutes|hour|hours|day|days)$/.exec(rate[1] ?? '');
    if (!m) return 'rate() needs "<positive integer> minute(s)|hour(s)|day(s)"';
    const n = Number(m[1]);
    if (n < 1) return 'the rate must be at least 1';
    const plural = (m[2] ?? '').endsWith('s');
    if (n === 1 && plural) return `use the singular unit for 1: rate(1 ${m[2]?.slice(0, -1)})`;
    if (n > 1 && !plural) return `use the plural unit for ${n}: rate(${n} ${m[2]}s)`;
    return undefined;
  }
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (cron) return cronProblem(cron[1] ?? '');
  return 'expected rate(...) or cron(...)';
}
