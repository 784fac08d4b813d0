// Tree objects: one JSON blob per directory, nodes sorted by name. Loading validates every name so
// a damaged or hostile tree can never steer a restore outside its target.
//
// Names and symlink targets are bytes (util/byte-names.ts). One that is not valid UTF-8 is stored
// as `nameBytes` / `targetBytes` (base64) instead of `name` / `target`, in a version 2 tree; a tree
// without such names is written as version 1, byte for byte as before (its ID does not change).
// Both versions are read (SPEC 6).
import { fromBytes, hasEscapes, toBytes } from '../util/byte-names.js';
import { CorruptionError } from '../util/errors.js';
import { BlobType } from './blob.js';
import type { PackWindows } from './pack-windows.js';
import type { Repository } from './repository.js';
import { TREE_VERSION, TREE_VERSION_UTF8, type StoredTreeNode, type Tree, type TreeNode } from '../../../protocol/snapshot.js';

/** A node as stored: names and targets that are not valid UTF-8 as base64 bytes. */
function storedNode(n: TreeNode): StoredTreeNode {
  const nameBytes = hasEscapes(n.name);
  const targetBytes = n.target !== undefined && hasEscapes(n.target);
  if (!nameBytes && !targetBytes) return n as unknown as StoredTreeNode;
  const out: StoredTreeNode = {};
  for (const [k, v] of Object.entries(n)) {
    if (k === 'name' && nameBytes) out.nameBytes = toBytes(n.name).toString('base64');
    else if (k === 'target' && targetBytes) out.targetBytes = toBytes(n.target as string).toString('base64');
    else out[k] = v;
  }
  return out;
}

export function encodeTree(nodes: TreeNode[]): Buffer {
  const stored = nodes.map(storedNode);
  const bytes = stored.some((n) => n.nameBytes !== undefined || n.targetBytes !== undefined);
  const tree = { version: bytes ? TREE_VERSION : TREE_VERSION_UTF8, nodes: stored };
  return Buffer.from(JSON.stringify(tree));
}

export function isSafeName(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The bytes of a base64 field that must hold bytes that are not valid UTF-8 (the one encoding of such a name), else undefined. */
function escapedBytes(v: unknown): string | undefined {
  if (typeof v !== 'string' || v.length % 4 !== 0 || !BASE64.test(v)) return undefined;
  const s = fromBytes(Buffer.from(v, 'base64'));
  return hasEscapes(s) ? s : undefined;
}

/** A stored node as a TreeNode (names and targets as strings made by fromBytes), or a reason it is malformed. */
function decodeNode(raw: StoredTreeNode, version: number): TreeNode | string {
  const node = raw as unknown as Record<string, unknown>; // JSON.parse's own object, changed in place (the keys end in the same order as a copy's)
  if (version >= TREE_VERSION && raw.nameBytes !== undefined) {
    if (raw.name !== undefined) return 'both name and nameBytes';
    const name = escapedBytes(raw.nameBytes);
    if (name === undefined) return 'a nameBytes field that is not base64 of a name outside UTF-8';
    delete node.nameBytes;
    node.name = name;
  } else if (typeof raw.name !== 'string' || hasEscapes(raw.name)) return 'a name that is not a UTF-8 string';
  if (version >= TREE_VERSION && raw.targetBytes !== undefined) {
    if (raw.target !== undefined) return 'both target and targetBytes';
    const target = escapedBytes(raw.targetBytes);
    if (target === undefined) return 'a targetBytes field that is not base64 of a target outside UTF-8';
    delete node.targetBytes;
    node.target = target;
  } else if (raw.target !== undefined && (typeof raw.target !== 'string' || hasEscapes(raw.target))) return 'a target that is not a UTF-8 string';
  return node as unknown as TreeNode;
}

/** Equal as JSON.stringify writes them: the same keys in the same order, the same values (arrays and xattr maps one level deep). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i] as string;
    if (k !== kb[i] || (a as Record<string, unknown>)[k] !== (b as Record<string, unknown>)[k]) return false;
  }
  return true;
}

/**
 * True only when encodeTree would write `a` and `b` (both sorted by name) as the same bytes, so that
 * a tree already stored as `b` can be reused for `a` without encoding and hashing it again.
 */
export function sameNodes(a: readonly TreeNode[], b: readonly TreeNode[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as unknown as Record<string, unknown>;
    const y = b[i] as unknown as Record<string, unknown>;
    const kx = Object.keys(x);
    const ky = Object.keys(y);
    if (kx.length !== ky.length) return false;
    for (let j = 0; j < kx.length; j++) {
      const k = kx[j] as string;
      if (k !== ky[j] || !sameValue(x[k], y[k])) return false;
    }
  }
  return true;
}

export function sortNodes(nodes: TreeNode[]): TreeNode[] {
  return nodes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export async function saveTree(repo: Repository, nodes: TreeNode[]): Promise<{ id: string; addedBytes: number }> {
  return repo.saveBlob(BlobType.tree, encodeTree(sortNodes(nodes)));
}

/** A tree; `windows`: one pass's windows over the packs (Repository.loadBlob). */
export async function loadTree(repo: Repository, id: string, windows?: PackWindows): Promise<Tree> {
  return decodeTree(id, await repo.loadBlob(id, BlobType.tree, windows));
}

/** A tree from its verified plaintext (a blob read by whatever reader), every name checked. */
export function decodeTree(id: string, data: Buffer): Tree {
  let tree: Tree;
  try {
    tree = JSON.parse(data.toString('utf8')) as Tree;
  } catch {
    throw new CorruptionError(`tree ${id} is not valid JSON`);
  }
  if ((tree.version !== TREE_VERSION && tree.version !== TREE_VERSION_UTF8) || !Array.isArray(tree.nodes))
    throw new CorruptionError(`tree ${id} has an unknown version`);
  const nodes: TreeNode[] = [];
  for (const raw of tree.nodes as unknown as StoredTreeNode[]) {
    const n = typeof raw === 'object' && raw !== null ? decodeNode(raw, tree.version) : 'a node that is not an object';
    if (typeof n === 'string') throw new CorruptionError(`tree ${id} holds ${n}`);
    if (!isSafeName(n.name)) throw new CorruptionError(`tree ${id} holds an unsafe name ${JSON.stringify(n.name)}`);
    nodes.push(n);
  }
  return { version: tree.version, nodes };
}
