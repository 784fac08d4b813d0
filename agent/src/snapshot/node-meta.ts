// Turning lstat results into tree-node metadata, and xattrs into their stored form.
import { constants } from 'node:fs';
import { readXattrs, type EntryStat, type XattrTarget } from '../util/posix.js';
import type { NodeType, TreeNode } from '../../../protocol/snapshot.js';

const S_IFMT = BigInt(constants.S_IFMT);
const S_IFREG = BigInt(constants.S_IFREG);
const S_IFDIR = BigInt(constants.S_IFDIR);
const S_IFLNK = BigInt(constants.S_IFLNK);
const S_IFIFO = BigInt(constants.S_IFIFO);
const S_IFCHR = BigInt(constants.S_IFCHR);
const S_IFBLK = BigInt(constants.S_IFBLK);
const S_IFSOCK = BigInt(constants.S_IFSOCK);

/** The type of an entry by its stat's mode (as BigIntStats' isFile() and the others test it). */
export function nodeType(st: Pick<EntryStat, 'mode'>): NodeType | undefined {
  switch (st.mode & S_IFMT) {
    case S_IFREG:
      return 'file';
    case S_IFDIR:
      return 'dir';
    case S_IFLNK:
      return 'symlink';
    case S_IFIFO:
      return 'fifo';
    case S_IFCHR:
      return 'chardev';
    case S_IFBLK:
      return 'blockdev';
    case S_IFSOCK:
      return 'socket';
    default:
      return undefined;
  }
}

export function baseNode(name: string, type: NodeType, st: EntryStat): TreeNode {
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
export function xattrsOf(path: XattrTarget, shown: string, warn: (msg: string) => void): Record<string, string> | undefined {
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
