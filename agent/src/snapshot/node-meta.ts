// Turning lstat results into tree-node metadata, and xattrs into their stored form.
import type { BigIntStats } from 'node:fs';
import { readXattrs } from '../util/posix.js';
import type { NodeType, TreeNode } from '../../../protocol/snapshot.js';

export function nodeType(st: BigIntStats): NodeType | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'chardev';
  if (st.isBlockDevice()) return 'blockdev';
  if (st.isSocket()) return 'socket';
  return undefined;
}

export function baseNode(name: string, type: NodeType, st: BigIntStats): TreeNode {
  return {
    name,
    type,
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtimeNs: st.mtimeNs.toString(),
    atimeNs: st.atimeNs.toString(),
    ctimeNs: st.ctimeNs.toString(),
    inode: st.ino.toString(),
    dev: st.dev.toString(),
    nlink: Number(st.nlink),
    size: type === 'file' ? Number(st.size) : 0,
  };
}

/** Extended attributes as name -> base64, or undefined when there are none or they are unreadable. */
export function xattrsOf(path: string | Buffer, shown: string, warn: (msg: string) => void): Record<string, string> | undefined {
  let attrs: Map<string, Buffer>;
  try {
    attrs = readXattrs(path);
  } catch (err) {
    warn(`${shown}: cannot read extended attributes: ${(err as Error).message}`);
    return undefined;
  }
  if (attrs.size === 0) return undefined;
  const out: Record<string, string> = {};
  for (const name of [...attrs.keys()].sort()) out[name] = (attrs.get(name) as Buffer).toString('base64');
  return out;
}

/** Same file as in the parent snapshot: path (by position), size, mtime, ctime and inode all match. */
export function unchangedSince(parent: TreeNode | undefined, node: TreeNode): parent is TreeNode & { content: string[] } {
  return (
    parent !== undefined &&
    parent.type === 'file' &&
    Array.isArray(parent.content) &&
    !parent.changedDuringBackup &&
    parent.size === node.size &&
    parent.mtimeNs === node.mtimeNs &&
    parent.ctimeNs === node.ctimeNs &&
    parent.inode === node.inode
  );
}
