// Tree objects: one JSON blob per directory, nodes sorted by name. Loading validates every name so
// a damaged or hostile tree can never steer a restore outside its target.
import { CorruptionError } from '../util/errors.js';
import { BlobType } from './blob.js';
import type { Repository } from './repository.js';
import { TREE_VERSION, type Tree, type TreeNode } from '../../../protocol/snapshot.js';

export function encodeTree(nodes: TreeNode[]): Buffer {
  const tree: Tree = { version: TREE_VERSION, nodes };
  return Buffer.from(JSON.stringify(tree));
}

export function isSafeName(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}

export async function saveTree(repo: Repository, nodes: TreeNode[]): Promise<{ id: string; addedBytes: number }> {
  nodes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return repo.saveBlob(BlobType.tree, encodeTree(nodes));
}

export async function loadTree(repo: Repository, id: string): Promise<Tree> {
  const data = await repo.loadBlob(id, BlobType.tree);
  let tree: Tree;
  try {
    tree = JSON.parse(data.toString('utf8')) as Tree;
  } catch {
    throw new CorruptionError(`tree ${id} is not valid JSON`);
  }
  if (tree.version !== TREE_VERSION || !Array.isArray(tree.nodes)) throw new CorruptionError(`tree ${id} has an unknown version`);
  for (const n of tree.nodes) {
    if (typeof n.name !== 'string' || !isSafeName(n.name)) throw new CorruptionError(`tree ${id} holds an unsafe name ${JSON.stringify(n.name)}`);
  }
  return tree;
}
