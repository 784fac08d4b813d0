// The directory walk as a producer of source entries (snapshot/source-entry.ts) for the one tree
// builder: depth first, a directory's files and other entries before its subdirectories, each with
// its full stat. A file unchanged since the parent snapshot (same size, mtime, ctime, inode) comes
// with its content IDs and is not opened; any other comes open, for the builder to read.
//
// Every entry is reached relative to its directory's open fd (util/fd-at.ts) and never through a
// symlink: a file is opened with O_NOFOLLOW and must be the object its lstat saw (device, inode,
// type), a directory likewise with O_DIRECTORY. Whoever can write into a backed-up tree can swap
// entries for symlinks while we read; they then get the symlink stored, never what it points to.
// An entry that changed under us is looked at once more; if it changes again it is not stored, and
// counted (`notStored`: the backup ends with exit 3). Names are bytes (util/byte-names.ts).
import { closeSync, constants, fstatSync, lstatSync, readlinkSync, type BigIntStats } from 'node:fs';
import { join, normalize } from 'node:path';
import type { PackWindows } from '../repo/pack-windows.js';
import type { Repository } from '../repo/repository.js';
import { loadTree } from '../repo/trees.js';
import { displayName, fromBytes, hasEscapes, toBytes } from '../util/byte-names.js';
import { at, openDirNoFollow, openNoAtime, sameFile, SwappedError, type NameAt } from '../util/fd-at.js';
import { lstatAt, readDirFd, type EntryStat, type XattrTarget } from '../util/posix.js';
import { baseNode, nodeType, unchangedSince, xattrsOf } from './node-meta.js';
import type { SourceEntry } from './source-entry.js';
import type { TreeNode } from '../../../protocol/snapshot.js';

/** Parent trees loaded ahead of the walk: this many subdirectories ahead, in each directory on the way down. */
const PARENT_PREFETCH = 8;
/** Times an entry is looked at when it keeps changing type under us (then it is not stored). */
const SWAP_ATTEMPTS = 2;

/** A directory's tree in the parent snapshot, loading (ahead of the walk) or loaded; null when it could not be read (warned). */
export interface ParentTree {
  id: string;
  loaded: Promise<{ nodes: TreeNode[]; byName: Map<string, TreeNode> } | null>;
}

export interface DirectoryWalkOptions {
  /** Leaves an entry out (an excluded directory whole), by its absolute path. */
  excluded: (path: string, name: string, isDir: boolean) => boolean;
  /** Paths never backed up (the Cairn home). */
  skip: Set<string>;
  /** Do not cross into other file systems: a mountpoint is kept as an empty directory. */
  oneFileSystem: boolean;
  warn: (m: string) => void;
  /** An entry that could not be stored (already warned). */
  notStored: () => void;
}

function isErrno(err: unknown, ...codes: string[]): boolean {
  return codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

/** Signs that an entry became another file between its lstat and its open/readlink (a race). */
function swapped(err: unknown): boolean {
  return err instanceof SwappedError || isErrno(err, 'ELOOP', 'ENOTDIR', 'EINVAL', 'ENXIO', 'EWOULDBLOCK', 'EAGAIN');
}

/** Same object as in the parent snapshot, unchanged in its metadata (ctime moves with any change to mode, owner, links or xattrs). */
function sameInode(parent: TreeNode | undefined, node: TreeNode): parent is TreeNode {
  return parent !== undefined && parent.type === node.type && parent.inode === node.inode && parent.ctimeNs !== undefined && parent.ctimeNs === node.ctimeNs;
}

/** Whether `name` in the directory open as dirFd is a directory, where the filesystem gives no d_type (false when it cannot tell: it is lstat'ed again when archived). */
function isDirAt(dirFd: number, name: string): boolean {
  try {
    return lstatSync(at(dirFd, name)).isDirectory();
  } catch {
    return false;
  }
}

/** A directory opened and listed: its fd (closed by the walk), its entries sorted, its parent tree loaded. */
interface OpenDir {
  fd: number;
  names: Array<{ name: string; isDir: boolean }>;
  parent: { id: string; nodes: TreeNode[]; byName: Map<string, TreeNode> } | null;
}

/** A directory being walked: its entries in walk order, the next one, its subdirectories' parent trees loading ahead. */
interface Frame {
  fd: number;
  /** The walk opened the fd (and closes it); else it is the caller's. */
  owned: boolean;
  dir: string;
  /** `dir` and a slash when `dir` is normal: an entry's path is the prefix and its name. */
  prefix: string | undefined;
  rel: string;
  names: string[];
  /** Index of the first subdirectory in `names`. */
  firstDir: number;
  next: number;
  ahead: Array<ParentTree | undefined>;
  parents: Map<string, TreeNode>;
  dev: bigint | undefined;
}

/** An entry looked at: its source entry, and for a directory the directory opened and listed. */
interface Look {
  entry: SourceEntry;
  dir?: OpenDir;
}

/**
 * What an entry's path is its name appended to: `dir` and a slash when `dir` is an absolute path that
 * path.normalize leaves alone (its entries' paths then need no path.join, which normalizes again);
 * else undefined (join is used).
 */
function childPrefix(dir: string): string | undefined {
  if (dir === '/') return '/';
  return dir.startsWith('/') && !dir.endsWith('/') && normalize(dir) === dir ? `${dir}/` : undefined;
}

export class DirectoryWalk {
  /** The parent trees are read through windows over their packs: they lie close together, in walk order. */
  private readonly windows: PackWindows;

  constructor(
    private readonly repo: Repository,
    private readonly o: DirectoryWalkOptions,
  ) {
    this.windows = repo.packWindows();
  }

  /** Starts loading a parent tree (it never rejects: an unreadable one is warned about and reads as null). */
  parentTree(treeId: string | undefined): ParentTree | undefined {
    if (!treeId) return undefined;
    const loaded = loadTree(this.repo, treeId, this.windows).then(
      (tree) => ({ nodes: tree.nodes, byName: new Map(tree.nodes.map((n) => [n.name, n])) }),
      (err: unknown) => {
        this.o.warn(`parent tree ${treeId} unreadable, reading files again: ${(err as Error).message}`);
        return null;
      },
    );
    return { id: treeId, loaded };
  }

  /**
   * The directory open as `dirFd` (logical path `dir`, the caller's fd) as a root entry (its node a
   * stand-in: only its subtree counts) and everything below it.
   */
  async *directory(dirFd: number, dir: string, parentTree: ParentTree | undefined): AsyncGenerator<SourceEntry> {
    const open = await this.list(dirFd, dir, parentTree);
    const node: TreeNode = { name: '', type: 'dir', mode: 0, uid: 0, gid: 0, mtimeNs: '0', inode: '0', dev: '0', nlink: 1, size: 0 };
    yield { rel: '', path: dir, node, parentTree: open.parent };
    yield* this.below(this.frame(open, dir, '', false));
  }

  /** Entry `name` of the directory open as `dirFd` as a root entry, and (a directory) everything below it; nothing when it is left out. */
  async *entry(dirFd: number, dir: string, name: string, parent: TreeNode | undefined): AsyncGenerator<SourceEntry> {
    const look = await this.look(dirFd, join(dir, name), name, '', parent, undefined, undefined);
    if (!look) return;
    if (!look.dir) {
      yield look.entry;
      return;
    }
    const frame = this.frame(look.dir, look.entry.path, '', true);
    let handed = false;
    try {
      yield look.entry;
      handed = true;
    } finally {
      if (!handed) closeSync(frame.fd); // the builder stopped here: below() never runs to close it
    }
    yield* this.below(frame);
  }

  /** Opens nothing: lists the directory open as `dirFd` and waits for its parent tree. */
  private async list(dirFd: number, dir: string, parentTree: ParentTree | undefined): Promise<OpenDir> {
    // read through our own fd (opened O_NOATIME); the entry types (d_type) only decide the order of
    // work, each entry is lstat'ed on its own
    const names = readDirFd(dirFd, displayName(dir))
      .map((d) => {
        const name = fromBytes(d.name);
        return { name, isDir: d.isDir ?? isDirAt(dirFd, name) };
      })
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const loaded = parentTree ? await parentTree.loaded : null;
    return { fd: dirFd, names, parent: parentTree && loaded ? { id: parentTree.id, ...loaded } : null };
  }

  /** A listed directory to walk: its other entries first, then its subdirectories one after another. */
  private frame(open: OpenDir, dir: string, rel: string, owned: boolean): Frame {
    const others = open.names.filter((e) => !e.isDir).map((e) => e.name);
    const dirs = open.names.filter((e) => e.isDir).map((e) => e.name);
    const frame: Frame = {
      fd: open.fd,
      owned,
      dir,
      prefix: childPrefix(dir),
      rel,
      names: [...others, ...dirs],
      firstDir: others.length,
      next: 0,
      ahead: [],
      parents: open.parent?.byName ?? new Map<string, TreeNode>(),
      // --one-file-system: the entries must be on this directory's device
      dev: this.o.oneFileSystem ? fstatSync(open.fd, { bigint: true }).dev : undefined,
    };
    this.prefetch(frame, PARENT_PREFETCH);
    return frame;
  }

  /**
   * Everything below `top`, depth first, without recursion (one yield per entry whatever the depth):
   * open fds are the directories on the way down plus the files the builder is reading.
   */
  private async *below(top: Frame): AsyncGenerator<SourceEntry> {
    const stack: Frame[] = [top];
    try {
      while (stack.length > 0) {
        const f = stack.at(-1) as Frame;
        if (f.next >= f.names.length) {
          stack.pop();
          if (f.owned) closeSync(f.fd);
          continue;
        }
        const i = f.next++;
        const name = f.names[i] as string;
        const rel = f.rel ? `${f.rel}/${name}` : name;
        let pt: ParentTree | null | undefined;
        if (i >= f.firstDir) {
          // the subdirectories' parent trees load ahead of the walk, a bounded window at a time
          const d = i - f.firstDir;
          this.prefetch(f, d + PARENT_PREFETCH);
          pt = f.ahead[d] ?? null;
          f.ahead[d] = undefined;
        }
        // a listed name is one component, never "." or "..": join() adds nothing to the prefix's path
        const path = f.prefix !== undefined ? f.prefix + name : join(f.dir, name);
        const look = await this.look(f.fd, path, name, rel, f.parents.get(name), f.dev, pt);
        if (!look) continue;
        if (look.dir) stack.push(this.frame(look.dir, path, rel, true));
        yield look.entry;
      }
    } finally {
      for (const f of stack) if (f.owned) closeSync(f.fd);
    }
  }

  /** Starts loading the parent trees of a directory's subdirectories up to the `upTo`th. */
  private prefetch(f: Frame, upTo: number): void {
    const dirs = f.names.length - f.firstDir;
    for (let j = f.ahead.length; j < Math.min(dirs, upTo); j++) {
      const p = f.parents.get(f.names[f.firstDir + j] as string);
      f.ahead.push(this.parentTree(p?.type === 'dir' ? p.subtree : undefined));
    }
  }

  /** One entry looked at (`path`: its directory's path joined with `name`); an entry that changes type under us gets a second look, then is not stored (undefined, as for one left out). */
  private async look(
    dirFd: number,
    path: string,
    name: string,
    rel: string,
    parent: TreeNode | undefined,
    dev: bigint | undefined,
    parentTree: ParentTree | null | undefined,
  ): Promise<Look | undefined> {
    if (this.o.skip.has(path)) {
      this.o.warn(`${displayName(path)}: skipped (it is the Cairn home)`);
      return undefined;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.lookOnce(dirFd, path, name, rel, parent, dev, parentTree);
      } catch (err) {
        if (!swapped(err)) throw err;
        if (attempt >= SWAP_ATTEMPTS) {
          this.o.notStored();
          this.o.warn(`${displayName(path)}: not stored: it kept changing into another file while it was read (${(err as Error).message})`);
          return undefined;
        }
      }
    }
  }

  private async lookOnce(
    dirFd: number,
    path: string,
    name: string,
    rel: string,
    parent: TreeNode | undefined,
    dev: bigint | undefined,
    parentTree: ParentTree | null | undefined,
  ): Promise<Look | undefined> {
    // the entry's path through /proc, made only when needed: an unchanged file never needs it
    let fsPathMade: Buffer | undefined;
    const fsPath = (): Buffer => (fsPathMade ??= at(dirFd, name));
    // the name for libc calls relative to dirFd: its exact bytes where it holds escapes
    const cName = hasEscapes(name) ? toBytes(name) : name;
    let st: EntryStat;
    try {
      // synchronous: on a warm cache a promise round trip costs far more than the stat itself;
      // statx relative to the fd where it can (lstatAt), the /proc path where it cannot
      st = lstatAt(dirFd, cName, path) ?? lstatSync(fsPath(), { bigint: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT')) {
        this.o.warn(`${displayName(path)}: vanished during backup`);
        return undefined;
      }
      throw err;
    }
    const type = nodeType(st);
    if (this.o.excluded(path, name, type === 'dir')) return undefined;
    if (!type) {
      this.o.warn(`${displayName(path)}: skipped: unknown file type`);
      return undefined;
    }
    const node = baseNode(name, type, st);
    const entry: SourceEntry = { rel, path, node };
    if (dev !== undefined && st.dev !== dev) {
      // another file system (restic's --one-file-system): its mountpoint stays, as an empty directory
      if (type !== 'dir') return undefined;
      entry.parentTree = null;
      return { entry };
    }
    // setting or removing an xattr changes the ctime: an entry whose ctime did not move keeps its parent's;
    // a directory or a file that is opened anyway has them read through its fd (no path to resolve)
    const unchanged = sameInode(parent, node);
    const readXattrsOf = (target: () => XattrTarget) => {
      const xattrs = unchanged ? parent.xattrs : xattrsOf(target(), displayName(path), (m) => this.o.warn(m));
      if (xattrs) node.xattrs = xattrs;
    };
    // opened relative to the directory's fd (openat)
    const here = { dirFd, name: cName };
    let opened: OpenDir | undefined;
    try {
      switch (type) {
        case 'dir': {
          const { fd } = openDirNoFollow(here, path, st);
          try {
            readXattrsOf(() => ({ fd, shown: displayName(path) }));
            const pt = parentTree === undefined ? this.parentTree(parent?.type === 'dir' ? parent.subtree : undefined) : (parentTree ?? undefined);
            opened = await this.list(fd, path, pt);
          } catch (err) {
            closeSync(fd);
            throw err;
          }
          entry.parentTree = opened.parent;
          break;
        }
        case 'file':
          if (unchangedSince(parent, node) && parent.content.every((id) => this.repo.index.has(id))) {
            entry.content = { kind: 'known', ids: parent.content };
            readXattrsOf(fsPath); // unchanged: its parent's (unchangedSince implies the same ctime), no path made
          } else {
            const fd = openNoFollow(here, path, st);
            entry.content = { kind: 'fd', fd };
            readXattrsOf(() => ({ fd, shown: displayName(path) }));
          }
          break;
        case 'symlink': {
          readXattrsOf(fsPath);
          // a symlink's target never changes (a new one is a new inode): an unchanged one is not read again
          if (unchanged && parent.target !== undefined) {
            node.target = parent.target;
            break;
          }
          // readlink fails with EINVAL if it is no longer a symlink; a symlink swapped for another is still one of this tree
          node.target = fromBytes(readlinkSync(fsPath(), { encoding: 'buffer' }));
          // readlink updates the symlink's atime: record the atime after it, which the next backup sees too
          const after = lstatSync(fsPath(), { bigint: true });
          if (!sameFile(after, st)) throw new SwappedError(displayName(path));
          node.atimeNs = after.atimeNs.toString();
          break;
        }
        case 'chardev':
        case 'blockdev':
          readXattrsOf(fsPath);
          node.rdev = Number(st.rdev);
          break;
        default:
          readXattrsOf(fsPath);
          break;
      }
    } catch (err) {
      if (isErrno(err, 'ENOENT')) {
        this.o.warn(`${displayName(path)}: vanished during backup`);
        return undefined;
      }
      if (isErrno(err, 'EACCES', 'EPERM', 'EIO')) {
        this.o.notStored();
        this.o.warn(`${displayName(path)}: cannot be read: ${(err as Error).message}`);
        return undefined;
      }
      throw err;
    }
    return opened ? { entry, dir: opened } : { entry };
  }
}

/** The flags a file of a backed-up tree is opened with: never through a symlink, never blocking on a FIFO swapped in. */
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * Opens a regular file that lstat saw as `expect`, without following a symlink, and checks it is
 * that very file (device, inode, type); otherwise SwappedError. O_NOATIME where allowed.
 */
export function openNoFollow(where: Buffer | NameAt, shown: string, expect: Pick<BigIntStats, 'dev' | 'ino' | 'mode'>): number {
  const fd = openNoAtime(where, READ_FLAGS, shown);
  try {
    if (!sameFile(fstatSync(fd, { bigint: true }), expect)) throw new SwappedError(shown);
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}
