// Reading snapshots without restoring: ls and diff.
import { diffTrees } from '../snapshot/diff.js';
import { findNode, normalizeIncludes, walkTree } from '../snapshot/tree-walk.js';
import { UsageError } from '../util/errors.js';
import type { DiffArgs, DiffResult, LsArgs, LsResult } from '../../../protocol/api.js';
import type { Services } from './services.js';

export async function lsOp(svc: Services, args: LsArgs): Promise<LsResult> {
  const { snapshot } = await svc.repo.resolveSnapshot(args.snapshot);
  const includes = args.path ? normalizeIncludes([args.path]) : [];
  if (args.path && !(await findNode(svc.repo, snapshot.tree, includes[0] ?? '')))
    throw new UsageError(`${args.path} is not in snapshot ${args.snapshot}`, 'E_NOT_FOUND');
  const rows: LsResult = [];
  for await (const { rel, node } of walkTree(svc.repo, snapshot.tree, includes)) {
    const mtime = new Date(Number(BigInt(node.mtimeNs) / 1_000_000n)).toISOString();
    rows.push({
      path: `/${rel}`,
      type: node.type,
      mode: node.mode,
      uid: node.uid,
      gid: node.gid,
      size: node.size,
      mtime,
      mtimeNs: node.mtimeNs,
      ...(node.target !== undefined ? { target: node.target } : {}),
    });
  }
  return rows;
}

export async function diffOp(svc: Services, args: DiffArgs): Promise<DiffResult> {
  const left = await svc.repo.resolveSnapshot(args.from);
  const right = await svc.repo.resolveSnapshot(args.to);
  const changes: DiffResult['changes'] = [];
  for await (const c of diffTrees(svc.repo, left.snapshot.tree, right.snapshot.tree)) changes.push(c);
  return { from: left.id, to: right.id, changes };
}
