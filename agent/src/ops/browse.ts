// Reading snapshots without restoring: ls, one folder a page at a time (the console's browser),
// find and diff.
import { diffTrees } from '../snapshot/diff.js';
import { pathGlobMatches } from '../snapshot/path-glob.js';
import { findNode, normalizeIncludes, walkTree } from '../snapshot/tree-walk.js';
import { UsageError } from '../util/errors.js';
import {
  BROWSE_PAGE_DEFAULT_ENTRIES,
  BROWSE_PAGE_MAX_ENTRIES,
  FIND_MAX_MATCHES,
  type BrowseArgs,
  type BrowseResult,
  type DiffArgs,
  type DiffResult,
  type FindArgs,
  type FindResult,
  type LsArgs,
  type LsEntry,
  type LsResult,
} from '../../../protocol/api.js';
import type { TreeNode } from '../../../protocol/snapshot.js';
import { matchesFilter } from '../repo/snapshot-filter.js';
import { loadTree } from '../repo/trees.js';
import type { RepoDeps } from './services.js';
import { listingOf } from './snapshots.js';

export async function lsOp(svc: RepoDeps, args: LsArgs): Promise<LsResult> {
  const { snapshot } = await svc.repo.resolveSnapshot(args.snapshot);
  const includes = args.path ? normalizeIncludes([args.path]) : [];
  if (args.path && !(await findNode(svc.repo, snapshot.tree, includes[0] ?? '')))
    throw new UsageError(`${args.path} is not in snapshot ${args.snapshot}`, 'E_NOT_FOUND');
  const rows: LsResult = [];
  for await (const { rel, node } of walkTree(svc.repo, snapshot.tree, includes)) rows.push(lsEntry(rel, node));
  return rows;
}

/**
 * One folder's own entries, from `offset`, at most `limit` (bounded by BROWSE_PAGE_MAX_ENTRIES
 * whatever the caller asks). The path is looked up in the snapshot's trees only (".." refused), so
 * no spelling of it reaches anything outside the snapshot.
 */
export async function browseOp(svc: RepoDeps, args: BrowseArgs): Promise<BrowseResult> {
  const { id, snapshot } = await svc.repo.resolveSnapshot(args.snapshot);
  const rel = normalizeIncludes([args.path ?? '/'])[0] ?? '';
  let treeId: string | undefined = snapshot.tree;
  if (rel !== '') {
    const node = await findNode(svc.repo, snapshot.tree, rel);
    if (!node) throw new UsageError(`/${rel} is not in snapshot ${args.snapshot}`, 'E_NOT_FOUND');
    if (node.type !== 'dir') throw new UsageError(`/${rel} is a ${node.type} in snapshot ${args.snapshot}, not a folder`);
    treeId = node.subtree;
  }
  const nodes = treeId ? (await loadTree(svc.repo, treeId)).nodes : [];
  const offset = args.offset ?? 0;
  const limit = Math.min(args.limit ?? BROWSE_PAGE_DEFAULT_ENTRIES, BROWSE_PAGE_MAX_ENTRIES);
  const pins = await svc.repo.pins();
  return {
    snapshot: listingOf(id, snapshot, pins.has(id)),
    path: `/${rel}`,
    total: nodes.length,
    offset,
    entries: nodes.slice(offset, offset + limit).map((n) => lsEntry(rel ? `${rel}/${n.name}` : n.name, n)),
  };
}

function lsEntry(rel: string, node: TreeNode): LsEntry {
  return {
    path: `/${rel}`,
    type: node.type,
    mode: node.mode,
    uid: node.uid,
    gid: node.gid,
    size: node.size,
    mtime: new Date(Number(BigInt(node.mtimeNs) / 1_000_000n)).toISOString(),
    mtimeNs: node.mtimeNs,
    ...(node.target !== undefined ? { target: node.target } : {}),
  };
}

/** `find PATTERN...`: every entry of every (filtered) snapshot that any pattern matches, at most FIND_MAX_MATCHES. */
export async function findOp(svc: RepoDeps, args: FindArgs): Promise<FindResult> {
  const fold = (t: string) => (args.ignoreCase ? t.toLowerCase() : t);
  const patterns = args.patterns.map(fold);
  const list = (await svc.repo.listSnapshots()).filter((s) => matchesFilter(s.snapshot, args.filter));
  const out: FindResult = { snapshots: [], searched: 0, truncated: false };
  let total = 0;
  for (const { id, snapshot } of list) {
    if (out.truncated) break;
    out.searched++;
    const matches: LsEntry[] = [];
    for await (const { rel, node } of walkTree(svc.repo, snapshot.tree, [])) {
      const path = fold(`/${rel}`);
      const name = fold(node.name);
      if (!patterns.some((p) => pathGlobMatches(p, path, name))) continue;
      if (total >= FIND_MAX_MATCHES) {
        out.truncated = true;
        break;
      }
      total++;
      matches.push(lsEntry(rel, node));
    }
    if (matches.length > 0) out.snapshots.push({ id, shortId: id.slice(0, 8), time: snapshot.time, matches });
  }
  return out;
}

export async function diffOp(svc: RepoDeps, args: DiffArgs): Promise<DiffResult> {
  const left = await svc.repo.resolveSnapshot(args.from);
  const right = await svc.repo.resolveSnapshot(args.to);
  const changes: DiffResult['changes'] = [];
  for await (const c of diffTrees(svc.repo, left.snapshot.tree, right.snapshot.tree)) changes.push(c);
  return { from: left.id, to: right.id, changes };
}
