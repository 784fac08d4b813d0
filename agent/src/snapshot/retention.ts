// Retention: which snapshots a policy keeps, and why. A pure function with restic's `forget`
// semantics (internal/restic/snapshot_policy.go, restic 0.17+) plus Cairn's own rules: snapshots are
// grouped by source (ad-hoc ones by their exact path set), the latest of each group is always kept,
// and a pinned snapshot is never removed. Calendar buckets (hour, day, ISO week, month, year) are
// computed in one IANA time zone with Intl, so the result does not depend on the host's clock
// settings and is right across DST changes. See protocol/SPEC.md "Retention".
import type { RetentionPolicy } from '../../../protocol/config.js';
import { UsageError } from '../util/errors.js';

/** What the policy needs to know about a snapshot. */
export interface RetentionSnapshot {
  id: string;
  /** ISO 8601 instant (Cairn writes UTC, "…Z"; an explicit offset is honoured too). */
  time: string;
  tags: string[];
  source?: string;
  paths: string[];
  pinned: boolean;
}

/** The rules a snapshot can be kept by. `empty` = the policy sets nothing, so nothing is removed. */
export type RetentionRule = 'last' | 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly' | 'within' | 'tag' | 'latest' | 'pinned' | 'empty';

export interface KeepReason {
  rule: RetentionRule;
  /** Readable, like restic's: "daily 3 of 7", "within 2d", "tag release", "pinned", "latest". */
  text: string;
  /** A count bucket kept the group's oldest snapshot because it had counts left (restic 0.17+). */
  oldest?: boolean;
}

export interface RetentionDecision {
  snapshot: RetentionSnapshot;
  keep: boolean;
  /** Every rule that keeps it; empty when it is removed. */
  reasons: KeepReason[];
}

export interface RetentionGroup {
  /** "source:NAME" or "paths:[...]" (JSON of the sorted paths). */
  key: string;
  source?: string;
  /** For a group without a source: its path set. */
  paths?: string[];
  /** The policy applied ({} when none applies: everything is kept). */
  policy: RetentionPolicy;
  /** Newest first. */
  decisions: RetentionDecision[];
}

export interface RetentionOptions {
  /** IANA zone for calendar buckets; default: the process's local zone. */
  timeZone?: string;
  /** Now (ms since the epoch): keep-within is measured from the newest snapshot not after now. */
  nowMs: number;
}

/** -1 in a count means "unlimited" (restic's `--keep-daily unlimited`). */
export const UNLIMITED = -1;

const COUNT_RULES = [
  ['last', 'keepLast'],
  ['hourly', 'keepHourly'],
  ['daily', 'keepDaily'],
  ['weekly', 'keepWeekly'],
  ['monthly', 'keepMonthly'],
  ['yearly', 'keepYearly'],
] as const;

export function localTimeZone(): string {
  return new Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** Throws a UsageError when `zone` is not an IANA zone Intl knows. */
export function checkTimeZone(zone: string): string {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    throw new UsageError(`"${zone}" is not a time zone (use an IANA name such as Europe/Berlin or UTC)`, 'E_BAD_TIMEZONE');
  }
}

/** True when the policy sets no rule at all: such a policy keeps everything. */
export function isEmptyPolicy(p: RetentionPolicy): boolean {
  return COUNT_RULES.every(([, k]) => !p[k]) && !p.keepWithinMs && !(p.keepTags && p.keepTags.length > 0);
}

/** Checks counts (non-negative integers, or -1 = unlimited), the duration and the tags. */
export function validatePolicy(p: RetentionPolicy): void {
  for (const [rule, k] of COUNT_RULES) {
    const v = p[k];
    if (v !== undefined && (!Number.isSafeInteger(v) || v < UNLIMITED))
      throw new UsageError(`keep-${rule} must be a whole number of snapshots, or "unlimited" (got ${v})`, 'E_BAD_POLICY');
  }
  if (p.keepWithinMs !== undefined && (!Number.isSafeInteger(p.keepWithinMs) || p.keepWithinMs < 0))
    throw new UsageError(`keep-within must be a positive duration (got ${p.keepWithinMs} ms)`, 'E_BAD_POLICY');
  for (const t of p.keepTags ?? []) if (t === '') throw new UsageError('keep-tag needs a tag name', 'E_BAD_POLICY');
}

export { parseKeepWithin } from '../util/keep-within.js';

/** The shortest readable form of a keep-within duration: "2d", "1d12h", "90m". */
export function formatWithin(ms: number): string {
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  if (rest > 0 || parts.length === 0) parts.push(`${rest}ms`);
  return parts.join('');
}

/** Local calendar fields of an instant in a zone. */
interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
}

function partsIn(fmt: Intl.DateTimeFormat, ms: number): LocalParts {
  const out: Record<string, number> = {};
  for (const p of fmt.formatToParts(ms)) if (p.type !== 'literal' && p.type !== 'era') out[p.type] = Number(p.value);
  return { year: out.year as number, month: out.month as number, day: out.day as number, hour: (out.hour as number) % 24 };
}

/** ISO 8601 week-numbering year and week of a calendar date (Go's time.ISOWeek). */
export function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const date = new Date(Date.UTC(year, month - 1, day));
  const weekday = (date.getUTCDay() + 6) % 7; // Monday = 0
  date.setUTCDate(date.getUTCDate() - weekday + 3); // the Thursday of this week decides the year
  const isoYear = date.getUTCFullYear();
  const jan1 = Date.UTC(isoYear, 0, 1);
  return { year: isoYear, week: Math.floor((date.getTime() - jan1) / (7 * 86_400_000)) + 1 };
}

/** Bucket keys as restic computes them: YYYYMMDDHH, YYYYMMDD, YYYYWW (ISO), YYYYMM, YYYY. */
function bucketKeys(p: LocalParts): Record<'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly', number> {
  const w = isoWeek(p.year, p.month, p.day);
  return {
    hourly: p.year * 1_000_000 + p.month * 10_000 + p.day * 100 + p.hour,
    daily: p.year * 10_000 + p.month * 100 + p.day,
    weekly: w.year * 100 + w.week,
    monthly: p.year * 100 + p.month,
    yearly: p.year,
  };
}

export function groupKey(s: Pick<RetentionSnapshot, 'source' | 'paths'>): string {
  return s.source !== undefined ? `source:${s.source}` : `paths:${JSON.stringify([...s.paths].sort())}`;
}

function parseTime(s: RetentionSnapshot): number {
  const ms = Date.parse(s.time);
  if (Number.isNaN(ms)) throw new UsageError(`snapshot ${s.id.slice(0, 8)} has an unreadable time "${s.time}"`, 'E_BAD_SNAPSHOT');
  return ms;
}

/** Newest first; equal times by ID (descending), so the order never depends on the input order. */
function newestFirst(a: { ms: number; s: RetentionSnapshot }, b: { ms: number; s: RetentionSnapshot }): number {
  return b.ms - a.ms || (a.s.id < b.s.id ? 1 : a.s.id > b.s.id ? -1 : 0);
}

/** Applies `policy` to one group of snapshots (restic's ApplyPolicy plus "latest" and "pinned"). */
export function applyPolicyToGroup(snapshots: RetentionSnapshot[], policy: RetentionPolicy, opts: RetentionOptions): RetentionDecision[] {
  validatePolicy(policy);
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone: checkTimeZone(opts.timeZone ?? localTimeZone()),
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    hourCycle: 'h23',
  });
  const list = snapshots.map((s) => ({ s, ms: parseTime(s) })).sort(newestFirst);
  const finish = (reasons: KeepReason[], s: RetentionSnapshot, nr: number): RetentionDecision => {
    if (nr === 0) reasons.push({ rule: 'latest', text: 'latest' });
    if (s.pinned) reasons.push({ rule: 'pinned', text: 'pinned' });
    return { snapshot: s, keep: reasons.length > 0, reasons };
  };

  if (isEmptyPolicy(policy)) return list.map(({ s }, nr) => finish([{ rule: 'empty', text: 'policy is empty: nothing is removed' }], s, nr));

  // keep-within counts from the newest snapshot that is not in the future (restic's findLatestTimestamp)
  let latestMs = Number.NEGATIVE_INFINITY;
  for (const { ms } of list) if (ms > latestMs && ms < opts.nowMs) latestMs = ms;

  const buckets = COUNT_RULES.map(([rule, k]) => ({ rule, total: policy[k] ?? 0, left: policy[k] ?? 0, last: undefined as number | undefined }));
  const tags = policy.keepTags ?? [];
  const out: RetentionDecision[] = [];
  list.forEach(({ s, ms }, nr) => {
    const reasons: KeepReason[] = [];
    for (const tag of tags) if (s.tags.includes(tag)) reasons.push({ rule: 'tag', text: `tag ${tag}` });
    if (policy.keepWithinMs && ms > latestMs - policy.keepWithinMs) reasons.push({ rule: 'within', text: `within ${formatWithin(policy.keepWithinMs)}` });
    const keys = bucketKeys(partsIn(fmt, ms));
    const isOldest = nr === list.length - 1;
    for (const b of buckets) {
      if (b.left === 0) continue; // not set, or its counts are used up
      const val = b.rule === 'last' ? nr : keys[b.rule];
      // restic 0.17+: the oldest snapshot is kept too while the bucket has counts left (longest history)
      if (val === b.last && !isOldest) continue;
      const oldest = val === b.last;
      b.last = val;
      if (b.left > 0) b.left -= 1;
      const n = b.total === UNLIMITED ? null : b.total - b.left;
      const text = `${oldest ? 'oldest ' : ''}${b.rule} ${n === null ? '(unlimited)' : `${n} of ${b.total}`}`;
      reasons.push({ rule: b.rule, text, ...(oldest ? { oldest: true } : {}) });
    }
    out.push(finish(reasons, s, nr));
  });
  return out;
}

/**
 * Groups snapshots (by source, else by exact path set) and applies the group's policy. `policyFor`
 * returns the policy of a group, or undefined when none applies (then everything in it is kept).
 */
export function applyRetention(
  snapshots: RetentionSnapshot[],
  policyFor: RetentionPolicy | ((group: { source?: string; paths: string[] }) => RetentionPolicy | undefined),
  opts: RetentionOptions,
): RetentionGroup[] {
  const groups = new Map<string, RetentionSnapshot[]>();
  for (const s of snapshots) {
    const key = groupKey(s);
    const list = groups.get(key) ?? [];
    list.push(s);
    groups.set(key, list);
  }
  const out: RetentionGroup[] = [];
  for (const [key, list] of [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const first = list[0] as RetentionSnapshot;
    const ident = first.source !== undefined ? { source: first.source } : { paths: [...first.paths].sort() };
    const policy = typeof policyFor === 'function' ? policyFor({ ...ident, paths: [...first.paths].sort() }) : policyFor;
    out.push({ key, ...ident, policy: policy ?? {}, decisions: applyPolicyToGroup(list, policy ?? {}, opts) });
  }
  return out;
}

/** "keep last 3, daily 7, all within 2d of the newest, tags release" (for output). */
export function describePolicy(p: RetentionPolicy): string {
  if (isEmptyPolicy(p)) return 'empty policy (keeps everything)';
  const parts: string[] = [];
  for (const [rule, k] of COUNT_RULES) {
    const v = p[k];
    if (v === UNLIMITED) parts.push(`all ${rule}`);
    else if (v) parts.push(`${rule} ${v}`);
  }
  if (p.keepWithinMs) parts.push(`all within ${formatWithin(p.keepWithinMs)} of the newest`);
  if (p.keepTags && p.keepTags.length > 0) parts.push(`tags ${p.keepTags.join(', ')}`);
  return `keep ${parts.join(', ')}`;
}
