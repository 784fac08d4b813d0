// Differences between two snapshots, walking both tree sets together and skipping identical subtrees.
import type { Repository } from '../repo/repository.js';
import { loadTree } from '../repo/trees.js';
import type { TreeNode } from '../../../protocol/snapshot.js';

/** added, removed, modified content, type changed, metadata only. */
export type ChangeKind = '+' | '-' | 'M' | 'T' | 'm';

export interface Change {
  kind: ChangeKind;
  path: string;
  type: string;
}

function sameContent(a: TreeNode, b: TreeNode): boolean {
  if (a.type === 'file') return a.size === b.size && JSON.stringify(a.content) === JSON.stringify(b.content);
  if (a.type === 'symlink') return a.target === b.target;
  return a.rdev === b.rdev;
}

function sameMeta(a: TreeNode, b: TreeNode): boolean {
  return (
    a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.mtimeNs === b.mtimeNs && JSON.stringify(a.xattrs ?? {}) === JSON.stringify(b.xattrs ?? {})
  );
}

async function* allBelow(repo: Repository, node: TreeNode, path: string, kind: '+' | '-'): AsyncGenerator<Change> {
  yield { kind, path, type: node.type };
  if (node.type === 'dir' && node.subtree) {
    for (const child of (await loadTree(repo, node.subtree)).nodes) yield* allBelow(repo, child, `${path}/${child.name}`, kind);
  }
}

export async function* diffTrees(repo: Repository, a: string | undefined, b: string | undefined, prefix = ''): AsyncGenerator<Change> {
  if (a === b) return;
  const left = new Map((a ? (await loadTree(repo, a)).nodes : []).map((n) => [n.name, n]));
  const right = new Map((b ? (await loadTree(repo, b)).nodes : []).map((n) => [n.name, n]));
  const names = [...new Set([...left.keys(), ...right.keys()])].sort();
  for (const name of names) {
    const path = `${prefix}/${name}`;
    const l = left.get(name);
    const r = right.get(name);
    if (!l && r) yield* allBelow(repo, r, path, '+');
    else if (l && !r) yield* allBelow(repo, l, path, '-');
    else if (l && r) {
      if (l.type !== r.type) {
        yield { kind: 'T', path, type: r.type };
        continue;
      }
      if (l.type === 'dir') {
        if (!sameMeta(l, r)) yield { kind: 'm', path, type: 'dir' };
        yield* diffTrees(repo, l.subtree, r.subtree, path);
      } else if (!sameContent(l, r)) yield { kind: 'M', path, type: r.type };
      else if (!sameMeta(l, r)) yield { kind: 'm', path, type: r.type };
    }
  }
}
