import { UsageError } from '../../util/errors.js';
import { findNode, normalizeIncludes, walkTree } from '../../snapshot/tree-walk.js';
import type { Context } from '../context.js';
import { withRepo } from '../context.js';
import { printJson } from '../format.js';

function modeString(type: string, mode: number): string {
  const t = { dir: 'd', symlink: 'l', fifo: 'p', chardev: 'c', blockdev: 'b', socket: 's' }[type] ?? '-';
  const rwx = (bits: number, special: boolean, ch: string) =>
    `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${special ? (bits & 1 ? ch : ch.toUpperCase()) : bits & 1 ? 'x' : '-'}`;
  return t + rwx(mode >> 6, (mode & 0o4000) !== 0, 's') + rwx(mode >> 3, (mode & 0o2000) !== 0, 's') + rwx(mode, (mode & 0o1000) !== 0, 't');
}

export async function lsCommand(ctx: Context, snap: string, path: string | undefined): Promise<void> {
  await withRepo(ctx, async (repo) => {
    const { snapshot } = await repo.resolveSnapshot(snap);
    const includes = path ? normalizeIncludes([path]) : [];
    if (path && !(await findNode(repo, snapshot.tree, includes[0] ?? ''))) throw new UsageError(`${path} is not in snapshot ${snap}`, 'E_NOT_FOUND');
    const rows = [];
    for await (const { rel, node } of walkTree(repo, snapshot.tree, includes)) {
      const mtime = new Date(Number(BigInt(node.mtimeNs) / 1_000_000n)).toISOString();
      rows.push({ path: `/${rel}`, type: node.type, mode: node.mode, uid: node.uid, gid: node.gid, size: node.size, mtime, mtimeNs: node.mtimeNs, ...(node.target !== undefined ? { target: node.target } : {}) });
    }
    if (ctx.json) return printJson(rows);
    for (const r of rows) {
      process.stdout.write(`${modeString(r.type, r.mode)} ${String(r.uid).padStart(5)} ${String(r.gid).padStart(5)} ${String(r.size).padStart(12)} ${r.mtime.slice(0, 19).replace('T', ' ')} ${r.path}${r.target !== undefined ? ` -> ${r.target}` : ''}\n`);
    }
  });
}
