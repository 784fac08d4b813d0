// Walking a snapshot's trees by relative path, with include filters shared by ls, restore and export.
import type { Repository } from '../repo/repository.js';
import { loadTree } from '../repo/trees.js';
import { UsageError } from '../util/errors.js';
import type { TreeNode } from '../../../protocol/snapshot.js';

/** 'all': the path and everything below it; 'descend': only on the way to an included path. */
export type Selection = 'all' | 'descend' | 'none';

export function normalizeIncludes(includes: string[]): string[] {
  return includes.map((p) => {
    const parts = p.split('/').filter((s) => s.length > 0 && s !== '.');
    if (parts.includes('..')) throw new UsageError(`include path ${p} must not contain ".."`);
    return parts.join('/');
  });
}

export function selection(rel: string, includes: string[]): Selection {
  if (includes.length === 0) return 'all';
  let result: Selection = 'none';
  for (const inc of includes) {
    if (inc === '' || inc === rel || rel.startsWith(inc + '/')) return 'all';
    if (inc.startsWith(rel + '/')) result = 'descend';
  }
  return result;
}

export interface WalkEntry {
  rel: string;
  node: TreeNode;
}

/** Leaves out an entry (and all below it) by its path relative to the walk's root: restore's --exclude. */
export type WalkExclude = (rel: string, node: TreeNode) => boolean;

/** Depth-first, pre-order walk of the selected nodes below tree `treeId` (those `exclude` names left out, with all below them). */
export async function* walkTree(repo: Repository, treeId: string, includes: string[], prefix = '', exclude?: WalkExclude): AsyncGenerator<WalkEntry> {
  const tree = await loadTree(repo, treeId);
  for (const node of tree.nodes) {
    const rel = prefix ? `${prefix}/${node.name}` : node.name;
    const sel = selection(rel, includes);
    if (sel === 'none' || exclude?.(rel, node)) continue;
    if (sel === 'all') yield { rel, node };
    if (node.type === 'dir' && node.subtree) yield* walkTree(repo, node.subtree, sel === 'all' ? [] : includes, rel, exclude);
  }
}

/** The node at relative path `rel` (e.g. "tmp/x/src/file"), or undefined. */
export async function findNode(repo: Repository, rootTree: string, rel: string): Promise<TreeNode | undefined> {
  const parts =
    normalizeIncludes([rel])[0]
      ?.split('/')
      .filter((s) => s) ?? [];
  let treeId: string | undefined = rootTree;
  let found: TreeNode | undefined;
  for (const part of parts) {
    if (!treeId) return undefined;
    const tree = await loadTree(repo, treeId);
    found = tree.nodes.find((n) => n.name === part);
    if (!found) return undefined;
    treeId = found.type === 'dir' ? found.subtree : undefined;
  }
  return found;
}
