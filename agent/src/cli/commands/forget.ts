import type { ForgetArgs, ForgetResult } from '../../../../protocol/api.js';
import type { RetentionPolicy } from '../../../../protocol/config.js';
import { checkTimeZone, forgetOp, UNLIMITED } from '../../ops/forget.js';
import { parseKeepWithin } from '../../util/keep-within.js';
import { UsageError } from '../../util/errors.js';
import { runOp, type Context } from '../context.js';
import { printJson, table } from '../format.js';

export interface ForgetCliOptions {
  keepLast?: string;
  keepHourly?: string;
  keepDaily?: string;
  keepWeekly?: string;
  keepMonthly?: string;
  keepYearly?: string;
  keepWithin?: string;
  keepTag?: string[];
  source?: string;
  dryRun?: boolean;
  timeZone?: string;
}

const COUNTS = [
  ['keepLast', 'last'],
  ['keepHourly', 'hourly'],
  ['keepDaily', 'daily'],
  ['keepWeekly', 'weekly'],
  ['keepMonthly', 'monthly'],
  ['keepYearly', 'yearly'],
] as const;

/** "7", "0", "unlimited" or "-1" (restic's spellings of "keep every such snapshot"). */
function parseCount(v: string, flag: string): number {
  const t = v.trim();
  if (t === 'unlimited' || t === '-1') return UNLIMITED;
  if (!/^\d+$/.test(t) || !Number.isSafeInteger(Number(t)))
    throw new UsageError(`--keep-${flag}: "${v}" is not a number of snapshots (a whole number, or "unlimited")`, 'E_BAD_POLICY');
  return Number(t);
}

/** The policy the flags give, or undefined when no policy flag was given. */
export function policyFromFlags(o: ForgetCliOptions): RetentionPolicy | undefined {
  const p: RetentionPolicy = {};
  let any = false;
  for (const [key, flag] of COUNTS) {
    const v = o[key];
    if (v === undefined) continue;
    p[key] = parseCount(v, flag);
    any = true;
  }
  if (o.keepWithin !== undefined) {
    p.keepWithinMs = parseKeepWithin(o.keepWithin);
    any = true;
  }
  if (o.keepTag !== undefined) {
    for (const t of o.keepTag) if (t.trim() === '') throw new UsageError('--keep-tag needs a tag name', 'E_BAD_POLICY');
    p.keepTags = o.keepTag;
    any = true;
  }
  return any ? p : undefined;
}

/** An instant as wall-clock time in `zone`: "2024-03-31 03:30:00". */
function wallClock(iso: string, zone: string): string {
  return new Intl.DateTimeFormat('sv-SE', {
    timeZone: zone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).format(new Date(iso));
}

export async function forgetCommand(ctx: Context, o: ForgetCliOptions): Promise<void> {
  // no policy flags: the op uses each source's configured retention, or refuses (exit 2)
  const policy = policyFromFlags(o);
  const args: ForgetArgs = {
    ...(policy !== undefined ? { policy } : {}),
    dryRun: o.dryRun === true,
    ...(o.source !== undefined ? { source: o.source } : {}),
    ...(o.timeZone !== undefined ? { timeZone: checkTimeZone(o.timeZone) } : {}),
  };
  const r = await runOp(ctx, 'forget', args, (svc) => forgetOp(svc, args));
  if (ctx.json) return printJson(r);
  process.stdout.write(formatForget(r, o.source));
}

export function formatForget(r: ForgetResult, source?: string): string {
  if (r.groups.length === 0) return `no snapshots${source !== undefined ? ` of source ${source}` : ''}: nothing to forget\n`;
  let out = '';
  for (const g of r.groups) {
    out += `${g.source !== undefined ? `source ${g.source}` : `paths ${(g.paths ?? []).join(' ')}`}: ${g.policy}\n`;
    const lines = [['ID', `Time (${r.timeZone})`, 'Decision', 'Reasons']];
    for (const s of g.snapshots)
      lines.push([s.shortId, wallClock(s.time, r.timeZone), s.keep ? 'keep' : r.dryRun ? 'would remove' : 'removed', s.reasons.join(', ')]);
    out += table(lines).replace(/^/gm, '  ') + '\n\n';
  }
  const n = (k: number) => `${k} snapshot${k === 1 ? '' : 's'}`;
  if (r.dryRun) out += `dry run: would remove ${n(r.removed)}, keep ${n(r.kept)}; nothing was changed\n`;
  else if (r.removed === 0) out += `nothing to remove: ${n(r.kept)} kept\n`;
  else out += `removed ${n(r.removed)}, kept ${n(r.kept)}; their data stays in the repository (and at friends) until "cairn prune" gives the space back\n`;
  return out;
}
