import { diffOp, lsOp } from '../../ops/browse.js';
import { displayName } from '../../util/byte-names.js';
import { runOp, type Context } from '../context.js';
import { printJson } from '../format.js';

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

export async function diffCommand(ctx: Context, from: string, to: string): Promise<void> {
  const r = await runOp(ctx, 'diff', { from, to }, (svc) => diffOp(svc, { from, to }));
  if (ctx.json) return printJson(r);
  for (const c of r.changes) process.stdout.write(`${c.kind} ${displayName(c.path)}${c.type === 'dir' ? '/' : ''}\n`);
}
