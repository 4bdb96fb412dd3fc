/**
 * Validation of a batch before it is stored: schema, shard consistency, duplicate collapsing and the
 * checksum of its canonical content.
 *
 * A batch is accepted or rejected whole. A rejection carries a reason that names each problem with the
 * indexes of the rows that have it (capped, with counts), so an operator can find them in the file.
 */
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { type Batch, BatchSchema, type MetricRow, MetricRowSchema, type ResourceRow } from './rows.ts';

/** Indexes listed per problem before "and N more". */
export const MAX_LISTED_INDEXES = 10;
/** Problems listed per reason before "and N more problems". */
export const MAX_LISTED_PROBLEMS = 10;
/** Longest reason kept (the ledger's error column and log lines stay readable). */
export const MAX_REASON_LENGTH = 4000;

/** A batch that passed validation, with duplicates collapsed and rows in natural-key order. */
export interface ValidBatch {
  readonly ok: true;
  readonly batch: Batch;
  /** Metric rows, one per natural key (the last occurrence wins), sorted by natural key. */
  readonly rows: MetricRow[];
  /** Resources, one per ARN (the last occurrence wins), sorted by ARN. */
  readonly resources: ResourceRow[];
  /** Metric rows dropped because a later row in the batch had the same natural key. */
  readonly duplicateRows: number;
  /** sha256 (hex) of the canonical content (see `canonicalContent`), computed when first read. */
  readonly checksum: string;
  /**
   * Hashes up to `rows` more rows of the checksum ahead of its first read, so a caller can spread the
   * work over its waits; returns whether rows are left.
   */
  readonly checksumStep: (rows: number) => boolean;
  /** Earliest and latest `periodStart` of the rows (epoch ms), or undefined for a batch without rows. */
  readonly periodRange?: { readonly min: number; readonly max: number };
}

/** Options of `validateBatch`. */
export interface ValidateOptions {
  /**
   * sha256 (hex) of the raw input when the caller has it already (the store hashes the raw bytes for
   * its redelivery look-up); used as the checksum of an invalid batch instead of hashing again.
   * @default - computed from the input
   */
  readonly rawChecksum?: string;
  /**
   * Most rows (metric rows plus resources) a batch may have; a larger one is rejected before the
   * schema is checked, since validating it would take memory in proportion.
   * @default - no limit
   */
  readonly maxRows?: number;
}

/** A batch that failed validation. */
export interface InvalidBatch {
  readonly ok: false;
  /** The batch ID when one could be read from the input. */
  readonly batchId?: string;
  /** Fields of the batch that could be read, for the ledger row. */
  readonly partial: PartialBatchInfo;
  readonly reason: string;
  /** sha256 (hex) of the raw input. */
  readonly checksum: string;
}

/** What the ledger records about a batch that may be invalid: every field is best effort. */
export interface PartialBatchInfo {
  readonly accountId?: string;
  readonly region?: string;
  readonly service?: string;
  readonly windowStart?: Date;
  readonly windowEnd?: Date;
  readonly collectedAt?: Date;
  readonly rowCount: number;
  readonly resourceCount: number;
}

/** The result of `validateBatch`. */
export type BatchValidation = ValidBatch | InvalidBatch;

/** The natural key of a metric row as one string; instants are compared as epoch milliseconds. */
export function naturalKey(
  row: Pick<MetricRow, 'resourceArn' | 'metric' | 'statistic' | 'periodStart' | 'periodSeconds'>,
): string {
  return [
    row.resourceArn,
    row.metric,
    row.statistic,
    String(Date.parse(row.periodStart)).padStart(15, '0'),
    String(row.periodSeconds),
  ].join('\u0000');
}

/**
 * Parses and validates a batch.
 * @param input a batch object, or the raw JSON text of a batch file
 * @returns the valid batch with duplicates collapsed, or the reason it is invalid
 */
export function validateBatch(input: unknown, options: ValidateOptions = {}): BatchValidation {
  const rawChecksum = options.rawChecksum ?? sha256(typeof input === 'string' ? input : safeStringify(input));
  let value: unknown = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (err) {
      return invalid(undefined, {}, `batch is not valid JSON: ${(err as Error).message}`, rawChecksum);
    }
  }
  const partial = readPartial(value);
  const batchId = readBatchId(value);
  const maxRows = options.maxRows ?? Number.POSITIVE_INFINITY;
  if (partial.rowCount + partial.resourceCount > maxRows) {
    return invalid(
      batchId,
      partial,
      `batch has ${partial.rowCount} rows and ${partial.resourceCount} resources, more than the store's limit of ${maxRows} in one batch: collect it in smaller batches`,
      rawChecksum,
    );
  }

  const instants = new InstantCache();
  let batch = fastParse(value, instants);
  if (!batch) {
    // The fast path only ever says "valid"; every other verdict, and its wording, is zod's.
    const parsed = BatchSchema.safeParse(value);
    if (!parsed.success) {
      return invalid(batchId, partial, describeIssues(parsed.error.issues, partial), rawChecksum);
    }
    batch = parsed.data;
  }

  const problems = new ProblemList();
  if (Date.parse(batch.window.start) >= Date.parse(batch.window.end)) {
    problems.add(
      'window',
      '',
      `window.start ${batch.window.start} is not before window.end ${batch.window.end}`,
    );
  }
  const { accountId, region, service } = batch.shard;
  const shardText = `${accountId}/${region}/${service}`;
  batch.rows.forEach((row, i) => {
    if (row.accountId !== accountId || row.region !== region || row.service !== service) {
      problems.add(
        'rows:shard',
        '',
        `row account/region/service ${row.accountId}/${row.region}/${row.service} disagrees with shard ${shardText}`,
        { collection: 'rows', index: i },
      );
    }
  });
  batch.resources.forEach((res, i) => {
    if (res.accountId !== accountId || res.region !== region || res.service !== service) {
      problems.add(
        'resources:shard',
        '',
        `resource account/region/service ${res.accountId}/${res.region}/${res.service} disagrees with shard ${shardText}`,
        { collection: 'resources', index: i },
      );
    }
  });
  if (!problems.empty)
    return invalid(
      batchId,
      partial,
      problems.describe(batch.rows.length, batch.resources.length),
      rawChecksum,
    );

  // Rows of one batch share few distinct period starts: parse each once.
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const row of batch.rows) {
    const ms = instants.ms(row.periodStart);
    if (ms < min) min = ms;
    if (ms > max) max = ms;
  }
  const rows = collapseOrdered(batch.rows, instants) ?? collapseAndSort(batch.rows, instants);
  const byArn = new Map<string, ResourceRow>();
  for (const res of batch.resources) byArn.set(res.resourceArn, res);
  const resources = [...byArn.values()].sort((a, b) =>
    a.resourceArn < b.resourceArn ? -1 : a.resourceArn > b.resourceArn ? 1 : 0,
  );

  const checksum = new CanonicalChecksum(batch, rows, resources, instants);
  return {
    ok: true,
    batch,
    rows,
    resources,
    duplicateRows: batch.rows.length - rows.length,
    ...(rows.length > 0 ? { periodRange: { min, max } } : {}),
    get checksum() {
      return checksum.digest();
    },
    checksumStep: (count: number) => checksum.step(count),
  };
}

/**
 * Rows already in natural-key order (what the collector writes): duplicates are neighbours and the last
 * one of each run wins. The same result as `collapseAndSort`, in one pass that builds no key strings;
 * undefined when the rows are not in order (or hold a value this shortcut does not compare like
 * `naturalKey` does).
 */
function collapseOrdered(rows: readonly MetricRow[], instants: InstantCache): MetricRow[] | undefined {
  const out: MetricRow[] = [];
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const next = rows[i + 1];
    if (next === undefined) {
      out.push(row);
      break;
    }
    const order = compareKeys(row, next, instants);
    if (order === undefined || order > 0) return undefined;
    if (order < 0) out.push(row);
  }
  return out;
}

/**
 * Compares the natural keys of two rows as the strings of `naturalKey` compare, or undefined when that
 * cannot be told field by field: a text field holding the separator NUL, or an instant outside the
 * 15-digit epoch milliseconds the key pads to.
 */
function compareKeys(a: MetricRow, b: MetricRow, instants: InstantCache): number | undefined {
  for (const field of ['resourceArn', 'metric', 'statistic'] as const) {
    const x = a[field];
    const y = b[field];
    if (x === y) continue;
    if (x.includes('\u0000') || y.includes('\u0000')) return undefined;
    return x < y ? -1 : 1;
  }
  const x = instants.ms(a.periodStart);
  const y = instants.ms(b.periodStart);
  if (!(x >= 0 && y >= 0 && x < 1e15 && y < 1e15)) return undefined;
  if (x !== y) return x < y ? -1 : 1;
  if (a.periodSeconds === b.periodSeconds) return 0;
  const p = String(a.periodSeconds);
  const q = String(b.periodSeconds);
  return p < q ? -1 : p > q ? 1 : 0;
}

/** One row per natural key (the last occurrence wins), sorted by natural key. */
function collapseAndSort(rows: readonly MetricRow[], instants: InstantCache): MetricRow[] {
  const byKey = new Map<string, MetricRow>();
  for (const row of rows) byKey.set(keyOf(row, instants.key(row.periodStart)), row);
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
}

/** The batch without its rows, checked by zod; the rows are checked by `rowsPassFast`. */
const EnvelopeSchema = BatchSchema.omit({ rows: true });

/**
 * The common case of a valid batch, checked without running zod on every row: the envelope and the
 * resources (a few hundred) go through zod, and each metric row field is checked against the same zod
 * schema once per distinct value (a batch repeats its ARNs, metric names, units and period starts), the
 * numbers with plain code. Returns undefined whenever anything is not plainly valid, and the caller
 * runs the full zod parse, so every rejection and its wording stay zod's.
 */
function fastParse(value: unknown, instants: InstantCache): Batch | undefined {
  if (!isPlainObject(value)) return undefined;
  const rows = (value as { rows?: unknown }).rows;
  if (!Array.isArray(rows) || !rowsPassFast(rows, instants)) return undefined;
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as object)) if (k !== 'rows') rest[k] = v;
  const envelope = EnvelopeSchema.safeParse(rest);
  return envelope.success ? { ...envelope.data, rows: rows as MetricRow[] } : undefined;
}

// The row's numbers are checked in plain code; every other field of the schema, whatever fields it
// gains, through its own zod schema once per distinct value.
const NUMBER_FIELDS = ['periodSeconds', 'value'] as const;
const TEXT_FIELDS = Object.keys(MetricRowSchema.shape).filter(
  (k) => !(NUMBER_FIELDS as readonly string[]).includes(k),
) as Exclude<keyof MetricRow, (typeof NUMBER_FIELDS)[number]>[];
const ROW_FIELDS = TEXT_FIELDS.length + NUMBER_FIELDS.length;

/** Every row a plain object with exactly the fields of `MetricRowSchema`, each valid, on its period grid. */
function rowsPassFast(rows: readonly unknown[], instants: InstantCache): boolean {
  const shape = MetricRowSchema.shape;
  const text = TEXT_FIELDS.map((field) => ({ field, check: new DistinctStrings(shape[field]) }));
  for (const item of rows) {
    if (!isPlainObject(item)) return false;
    const r = item as Record<string, unknown>;
    let fields = 0;
    for (const _ in r) fields++;
    if (fields !== ROW_FIELDS) return false;
    const seconds = r.periodSeconds;
    const value = r.value;
    if (
      !(typeof value === 'number' && Number.isFinite(value)) ||
      !(typeof seconds === 'number' && Number.isSafeInteger(seconds) && seconds > 0)
    )
      return false;
    for (const t of text) if (!t.check.ok(r[t.field])) return false;
    if ((instants.ms(r.periodStart as string) / 1000) % seconds !== 0) return false;
  }
  return true;
}

/** Strings a zod schema accepted, so each distinct value is checked once. */
class DistinctStrings {
  private readonly accepted = new Set<string>();
  // The previous row's value, most often the same again: compared without a hash look-up.
  private last: string | undefined;
  constructor(private readonly schema: z.ZodType) {}
  ok(value: unknown): boolean {
    if (typeof value !== 'string') return false;
    if (value === this.last) return true;
    if (!this.accepted.has(value)) {
      if (!this.schema.safeParse(value).success) return false;
      this.accepted.add(value);
    }
    this.last = value;
    return true;
  }
}

function isPlainObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Parses each distinct instant string once (a batch repeats each period start for every resource). */
class InstantCache {
  private readonly parsed = new Map<string, { ms: number; key: string; iso: string }>();

  // Neighbouring rows mostly share their instant or repeat the last lookup: skip the hash look-up then.
  private lastText: string | undefined;
  private lastHit: { ms: number; key: string; iso: string } | undefined;

  private get(text: string) {
    if (text === this.lastText) return this.lastHit!;
    let hit = this.parsed.get(text);
    if (!hit) {
      const ms = Date.parse(text);
      hit = { ms, key: String(ms).padStart(15, '0'), iso: new Date(ms).toISOString() };
      this.parsed.set(text, hit);
    }
    this.lastText = text;
    this.lastHit = hit;
    return hit;
  }
  ms(text: string): number {
    return this.get(text).ms;
  }
  /** The instant as `naturalKey` writes it. */
  key(text: string): string {
    return this.get(text).key;
  }
  iso(text: string): string {
    return this.get(text).iso;
  }
}

function keyOf(
  row: Pick<MetricRow, 'resourceArn' | 'metric' | 'statistic' | 'periodSeconds'>,
  instant: string,
): string {
  return `${row.resourceArn}\u0000${row.metric}\u0000${row.statistic}\u0000${instant}\u0000${row.periodSeconds}`;
}

/** Rows hashed per update of the digest: large enough to amortize the call, small enough to stay cheap. */
const HASH_ROWS_PER_UPDATE = 4096;

/**
 * sha256 of `canonicalJson(canonicalContent(batch, rows, resources))`, computed without building that
 * text: the rows (which dominate a batch) are written field by field in sorted-key order straight into the
 * digest. Equal to the plain definition byte for byte (a unit test holds it to that), so checksums already
 * in the ledger stay comparable.
 */
export function canonicalChecksum(
  batch: Batch,
  rows: readonly MetricRow[],
  resources: readonly ResourceRow[],
  instants: InstantCache = new InstantCache(),
): string {
  return new CanonicalChecksum(batch, rows, resources, instants).digest();
}

/**
 * `canonicalChecksum` in steps, so a caller can hash the rows while it waits for something else (the
 * store hashes while the database writes a chunk).
 */
export class CanonicalChecksum {
  private readonly hash = createHash('sha256');
  // A batch repeats its ARNs, metric names and units row after row: quote each distinct string once.
  private readonly quoted = new Map<string, string>();
  private next = 0;
  private result: string | undefined;

  constructor(
    private readonly batch: Batch,
    private readonly rows: readonly MetricRow[],
    resources: readonly ResourceRow[],
    private readonly instants: InstantCache = new InstantCache(),
  ) {
    const head = canonicalJson({ batchId: batch.batchId });
    this.hash.update(`${head.slice(0, -1)},"resources":`);
    this.hash.update(canonicalJson(resources.map(({ observedAt: _observedAt, ...rest }) => rest)));
    this.hash.update(',"rows":[');
  }

  /**
   * Hashes up to `count` more rows.
   * @returns whether rows are left
   */
  step(count: number): boolean {
    const { rows, instants } = this;
    const end = Math.min(rows.length, this.next + count);
    const q = (text: string) => this.quote(text);
    let part = '';
    // Rows in a run share all but their instant and value: the text around them is reused while the
    // fields it holds equal the previous row's.
    let head = '';
    let middle = '';
    let prev: MetricRow | undefined;
    for (let i = this.next; i < end; i++) {
      const r = rows[i]!;
      if (
        prev === undefined ||
        r.accountId !== prev.accountId ||
        r.metric !== prev.metric ||
        r.periodSeconds !== prev.periodSeconds
      ) {
        head = `{"accountId":${q(r.accountId)},"metric":${q(r.metric)},"periodSeconds":${r.periodSeconds},"periodStart":"`;
      }
      if (
        prev === undefined ||
        r.region !== prev.region ||
        r.resourceArn !== prev.resourceArn ||
        r.resourceType !== prev.resourceType ||
        r.service !== prev.service ||
        r.statistic !== prev.statistic ||
        r.unit !== prev.unit
      ) {
        middle = `","region":${q(r.region)},"resourceArn":${q(r.resourceArn)},"resourceType":${q(r.resourceType)},"service":${q(r.service)},"statistic":${q(r.statistic)},"unit":${q(r.unit)},"value":`;
      }
      prev = r;
      // Numbers as JSON.stringify writes them: for finite numbers (all validation lets through) that is String().
      part += `${i === 0 ? '' : ','}${head}${instants.iso(r.periodStart)}${middle}${r.value}}`;
      if ((i + 1) % HASH_ROWS_PER_UPDATE === 0) {
        this.hash.update(part);
        part = '';
      }
    }
    if (part) this.hash.update(part);
    this.next = end;
    return end < rows.length;
  }

  /** The checksum (hex), hashing whatever rows are left. */
  digest(): string {
    if (this.result === undefined) {
      this.step(Number.POSITIVE_INFINITY);
      const { batch } = this;
      const tail = canonicalJson({
        shard: batch.shard,
        version: batch.version,
        window: { start: iso(batch.window.start), end: iso(batch.window.end) },
      });
      this.hash.update(`],${tail.slice(1)}`);
      this.result = this.hash.digest('hex');
    }
    return this.result;
  }

  private quote(text: string): string {
    let json = this.quoted.get(text);
    if (json === undefined) {
      json = JSON.stringify(text);
      this.quoted.set(text, json);
    }
    return json;
  }
}

/**
 * The content a batch's checksum covers: identity (version, batchId, shard, window) and the collapsed,
 * sorted rows and resources, with instants normalized to UTC milliseconds. `collectedAt`, `stats` and each
 * resource's `observedAt` are left out on purpose: a retried collection of the same window that read the
 * same data is the same batch (a duplicate), not a conflict.
 */
export function canonicalContent(batch: Batch, rows: MetricRow[], resources: ResourceRow[]): unknown {
  return {
    version: batch.version,
    batchId: batch.batchId,
    shard: batch.shard,
    window: { start: iso(batch.window.start), end: iso(batch.window.end) },
    rows: rows.map((r) => ({ ...r, periodStart: iso(r.periodStart) })),
    resources: resources.map(({ observedAt: _observedAt, ...rest }) => rest),
  };
}

/** JSON with object keys sorted at every level, so equal content always gives equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(
        Object.keys(v as object)
          .sort()
          .map((k) => [k, (v as Record<string, unknown>)[k]]),
      );
    }
    return v;
  });
}

/** sha256 of a string (as UTF-8) or of bytes, hex. */
export function sha256(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

function iso(text: string): string {
  return new Date(Date.parse(text)).toISOString();
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function invalid(
  batchId: string | undefined,
  partial: Partial<PartialBatchInfo>,
  reason: string,
  checksum: string,
): InvalidBatch {
  const text = reason.length > MAX_REASON_LENGTH ? `${reason.slice(0, MAX_REASON_LENGTH - 1)}…` : reason;
  return {
    ok: false,
    ...(batchId === undefined ? {} : { batchId }),
    partial: { rowCount: 0, resourceCount: 0, ...partial },
    reason: text,
    checksum,
  };
}

function readBatchId(value: unknown): string | undefined {
  const id = (value as { batchId?: unknown } | null)?.batchId;
  return typeof id === 'string' && id.length >= 1 && id.length <= 200 ? id : undefined;
}

function readPartial(value: unknown): PartialBatchInfo {
  const v = (value ?? {}) as Record<string, unknown>;
  const shard = (v.shard ?? {}) as Record<string, unknown>;
  const window = (v.window ?? {}) as Record<string, unknown>;
  const str = (x: unknown) => (typeof x === 'string' && x.length > 0 && x.length <= 200 ? x : undefined);
  const date = (x: unknown) => {
    const ms = typeof x === 'string' ? Date.parse(x) : Number.NaN;
    return Number.isFinite(ms) ? new Date(ms) : undefined;
  };
  const info: Record<string, unknown> = {
    accountId: str(shard.accountId),
    region: str(shard.region),
    service: str(shard.service),
    windowStart: date(window.start),
    windowEnd: date(window.end),
    collectedAt: date(v.collectedAt),
    rowCount: Array.isArray(v.rows) ? v.rows.length : 0,
    resourceCount: Array.isArray(v.resources) ? v.resources.length : 0,
  };
  return Object.fromEntries(
    Object.entries(info).filter(([, x]) => x !== undefined),
  ) as unknown as PartialBatchInfo;
}

type Collection = 'rows' | 'resources';

/** Groups problems so a batch with 10,000 bad rows yields a short reason, not 10,000 lines. */
class ProblemList {
  private readonly groups = new Map<
    string,
    { label: string; text: string; texts: Set<string>; collection?: Collection; indexes: number[] }
  >();

  get empty(): boolean {
    return this.groups.size === 0;
  }

  /**
   * Records one problem.
   * @param key problems with the same key are reported together
   * @param label where the problem is (a field name), or '' for none
   * @param text what is wrong (the first text of a group is shown)
   * @param at the collection and index of the offending element, when it is one
   */
  add(key: string, label: string, text: string, at?: { collection: Collection; index: number }): void {
    let group = this.groups.get(key);
    if (!group) {
      group = { label, text, texts: new Set(), indexes: [], ...(at ? { collection: at.collection } : {}) };
      this.groups.set(key, group);
    }
    group.texts.add(text);
    if (at) group.indexes.push(at.index);
  }

  describe(rowCount: number, resourceCount: number): string {
    const parts: string[] = [];
    for (const g of [...this.groups.values()].slice(0, MAX_LISTED_PROBLEMS)) {
      const text = `${g.label ? `${g.label}: ` : ''}${g.texts.size > 1 ? 'e.g. ' : ''}${g.text}`;
      if (!g.collection) {
        parts.push(text);
        continue;
      }
      const shown = g.indexes.slice(0, MAX_LISTED_INDEXES).join(', ');
      const more =
        g.indexes.length > MAX_LISTED_INDEXES ? ` and ${g.indexes.length - MAX_LISTED_INDEXES} more` : '';
      const total = g.collection === 'rows' ? rowCount : resourceCount;
      parts.push(
        `${text} (${g.indexes.length} of ${total} ${g.collection}: ${g.collection}[${shown}${more}])`,
      );
    }
    if (this.groups.size > MAX_LISTED_PROBLEMS)
      parts.push(`and ${this.groups.size - MAX_LISTED_PROBLEMS} more problems`);
    return parts.join('; ');
  }
}

function describeIssues(issues: z.core.$ZodIssue[], partial: Partial<PartialBatchInfo>): string {
  const problems = new ProblemList();
  for (const issue of issues) {
    const [head, index, ...rest] = issue.path;
    if ((head === 'rows' || head === 'resources') && typeof index === 'number') {
      const field = rest.length ? rest.map(String).join('.') : '(row)';
      // Group by field and issue kind: messages carry the bad value, which differs from row to row.
      problems.add(`${head}:${field}:${issue.code}`, field, issue.message, { collection: head, index });
    } else {
      const path = issue.path.length ? issue.path.map(String).join('.') : '(batch)';
      problems.add(`batch:${path}:${issue.code}:${issue.message}`, path, issue.message);
    }
  }
  return problems.describe(partial.rowCount ?? 0, partial.resourceCount ?? 0);
}
