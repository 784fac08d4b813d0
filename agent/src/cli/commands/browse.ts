import { plural } from '../../../../protocol/format.js';
import { diffOp, findOp, lsOp } from '../../ops/browse.js';
import { displayName } from '../../util/byte-names.js';
import { runOp, type Context } from '../context.js';
import { formatTime, printJson } from '../format.js';
import { filterOf, type FilterCliOptions } from '../snapshot-filter.js';

function modeString(type: string, mode: number): string {
  const t = { dir: 'd', symlink: 'l', fifo: 'p', chardev: 'c', blockdev: 'b', socket: 's' }[type] ?? '-';
  const rwx = (bits: number, special: boolean, ch: string) =>
    `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${special ? (bits & 1 ? ch : ch.toUpperCase()) : bits & 1 ? 'x' : '-'}`;
  return t + rwx(mode >> 6, (mode & 0o4000) !== 0, 's') + rwx(mode >> 3, (mode & 0o2000) !== 0, 's') + rwx(mode, (mode & 0o1000) !== 0, 't');
}

export async function lsCommand(ctx: Context, snapshot: string, path: string | undefined): Promise<void> {
  const args = { snapshot, ...(path ? { path } : {}) };
  const rows = await runOp(ctx, 'ls', args, (svc) => lsOp(svc, args));
  if (ctx.json) return printJson(rows);
  for (const r of rows) {
    process.stdout.write(
      `${modeString(r.type, r.mode)} ${String(r.uid).padStart(5)} ${String(r.gid).padStart(5)} ${String(r.size).padStart(12)} ${r.mtime.slice(0, 19).replace('T', ' ')} ${displayName(r.path)}${r.target !== undefined ? ` -> ${displayName(r.target)}` : ''}\n`,
    );
  }
}

/** `cairn find PATTERN...`: matching entries per snapshot, as restic lists them. */
export async function findCommand(ctx: Context, patterns: string[], opts: FilterCliOptions & { ignoreCase?: boolean }): Promise<void> {
  const filter = filterOf(opts);
  const args = { patterns, ...(opts.ignoreCase ? { ignoreCase: true } : {}), ...(filter ? { filter } : {}) };
  const r = await runOp(ctx, 'find', args, (svc) => findOp(svc, args));
  if (ctx.json) return printJson(r);
  for (const s of r.snapshots) {
    process.stdout.write(`found in snapshot ${s.shortId} from ${formatTime(s.time)}:\n`);
    for (const m of s.matches)
      process.stdout.write(`  ${modeString(m.type, m.mode)} ${String(m.size).padStart(12)} ${m.mtime.slice(0, 19).replace('T', ' ')} ${displayName(m.path)}\n`);
  }
  const n = r.snapshots.reduce((k, s) => k + s.matches.length, 0);
  process.stdout.write(
    `${n === 0 ? 'no match' : `${plural(n, 'match', 'matches')} in ${plural(r.snapshots.length, 'snapshot')}`} (${plural(r.searched, 'snapshot')} searched)` +
      `${r.truncated ? `; only the first ${n} are listed: narrow the pattern or the snapshots (--source, --path, --tag, --host)` : ''}\n`,
  );
}

export async function diffCommand(ctx: Context, from: string, to: string): Promise<void> {
  const r = await runOp(ctx, 'diff', { from, to }, (svc) => diffOp(svc, { from, to }));
  if (ctx.json) return printJson(r);
  for (const c of r.changes) process.stdout.write(`${c.kind} ${displayName(c.path)}${c.type === 'dir' ? '/' : ''}\n`);
}
