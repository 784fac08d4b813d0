// The restorer: writes a snapshot (or the selected part of it) below a target directory.
// A new file is created in place (O_EXCL) and gets its metadata through its own fd; a file that
// replaces an existing one is written to a temp name and renamed into place. Metadata goes last
// (owner, mode, xattrs, then nanosecond times; directories after their contents). All-zero 4 KiB blocks become holes, so sparse
// files come back sparse. Existing files that differ are refused unless `overwrite` is set; every
// conflict is found before anything is written. A file whose data fails verification is not
// created, the others are, and every failure is reported.
//
// The target may hold directories others can write to, and they may swap entries for symlinks
// while we work. So nothing is done by path below the target: every entry is reached relative to
// its directory's open fd (util/fd-at.ts), directories are opened with O_NOFOLLOW|O_DIRECTORY,
// files are created with O_EXCL, replaced by rename and removed by unlink (none follows a symlink),
// a directory in the way is emptied through fds, and metadata goes through calls that never follow
// a symlink (lchown, lsetxattr, utimensat AT_SYMLINK_NOFOLLOW; chmod on an O_PATH fd of the very
// object, checked to be of the expected type). SPEC 9.1.
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  ftruncateSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  renameSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
  writeSync,
  type BigIntStats,
} from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BlobType } from '../repo/blob.js';
import type { Repository } from '../repo/repository.js';
import { loadTree } from '../repo/trees.js';
import { displayName, fromBytes, toBytes } from '../util/byte-names.js';
import { CairnError, CancelledError, errorMessage, throwIfCancelled } from '../util/errors.js';
import { at, fdPath, O_PATH, openDirNoFollow, requireProcFd, SwappedError } from '../util/fd-at.js';
import { makeNode, setTimesNs, setTimesNsFd, setXattr, setXattrFd, type CPath } from '../util/posix.js';
import { mapLimit } from '../util/semaphore.js';
import { fetchAhead, type FetchAhead } from './restore-fetch.js';
import { selection } from './tree-walk.js';
import type { TreeNode } from '../../../protocol/snapshot.js';

const FILE_CONCURRENCY = 8;
const S_IFIFO = 0o010000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;

export interface RestoreOptions {
  target: string;
  includes: string[];
  overwrite: boolean;
  /**
   * Loads the exact mtime of a path (relative to the target) where the tree keeps only whole seconds
   * (volumes read through their mountpoint); called once the fetches are under way (the snapshot's
   * metadata may be in a pack at a friend), before anything is written.
   */
  exactMtimes?: () => Promise<(rel: string) => bigint | undefined>;
  /** Packs may be missing here: the restore fetches those it will read ahead of itself (snapshot/restore-fetch.ts). */
  fetchAhead?: FetchAhead;
  /** Entries left out, with everything below them (restore --exclude), by their path relative to the target. */
  exclude?: (rel: string, node: TreeNode) => boolean;
  /**
   * Cancels the restore: checked before each entry and each chunk written; a file cut short is
   * removed (as a file that fails verification), so no half-written file is left under its name,
   * and the restore throws the signal's reason.
   */
  signal?: AbortSignal;
}

export interface RestoreProgress {
  filesDone: number;
  bytesDone: number;
  currentPath: string;
}

/** Holes are made at this granularity (the usual filesystem block size). */
const HOLE_BLOCK_BYTES = 4096;
const ZERO_BLOCK = Buffer.alloc(HOLE_BLOCK_BYTES);

/** Runs [start, end) of `buf` that hold a non-zero byte, in HOLE_BLOCK_BYTES steps. */
function dataRuns(buf: Buffer): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  let start = -1;
  for (let off = 0; off < buf.length; off += HOLE_BLOCK_BYTES) {
    const end = Math.min(buf.length, off + HOLE_BLOCK_BYTES);
    const zero = buf.subarray(off, end).equals(end - off === HOLE_BLOCK_BYTES ? ZERO_BLOCK : ZERO_BLOCK.subarray(0, end - off));
    if (!zero && start < 0) start = off;
    if (zero && start >= 0) {
      runs.push([start, off]);
      start = -1;
    }
  }
  if (start >= 0) runs.push([start, buf.length]);
  return runs;
}

function lstatOrUndefined(path: CPath): BigIntStats | undefined {
  try {
    return lstatSync(path, { bigint: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

const S_IFMT = 0o170000n;
const TYPE_BITS: Record<string, bigint> = {
  file: 0o100000n,
  dir: 0o040000n,
  symlink: 0o120000n,
  fifo: 0o010000n,
  chardev: 0o020000n,
  blockdev: 0o060000n,
  socket: 0o140000n,
};

/** Whether a stat is of the node's type. */
function isType(st: BigIntStats, type: string): boolean {
  return (st.mode & S_IFMT) === TYPE_BITS[type];
}

/** Removes the entry `name` of the directory open as dirFd, a directory with all it holds, never following a symlink. Absent: nothing. */
export function removeEntry(dirFd: number, name: string, shown: string): void {
  const p = at(dirFd, name);
  const st = lstatOrUndefined(p);
  if (!st) return;
  if (!st.isDirectory()) {
    unlinkSync(p);
    return;
  }
  const { fd } = openDirNoFollow(p, shown, st);
  try {
    for (const child of readdirSync(fdPath(fd), { encoding: 'buffer' })) {
      const c = fromBytes(child);
      removeEntry(fd, c, `${shown}/${c}`);
    }
  } finally {
    closeSync(fd);
  }
  rmdirSync(p);
}

export class Restorer {
  readonly progress: RestoreProgress = { filesDone: 0, bytesDone: 0, currentPath: '' };
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  /** The packs fetching ahead could not get (the reads that needed them then failed or fetched them themselves). */
  readonly fetchErrors: string[] = [];
  private readonly repo: Repository;
  private exactMtimeNs: ((rel: string) => bigint | undefined) | undefined;
  private readonly opts: RestoreOptions;
  /** Chunk IDs known to be all zeros: skipped without reading. */
  private readonly zeroChunks = new Set<string>();
  /** dev:inode (in the snapshot) -> the first restored name (relative) and its inode, for hardlinks. */
  private readonly linkTargets = new Map<string, Promise<{ rel: string; ino: bigint } | undefined>>();
  /** Relative paths whose content already matches (found by the conflict check). */
  private readonly identical = new Set<string>();
  /** The target directory, open while a restore runs. */
  private targetFd = -1;

  constructor(repo: Repository, opts: RestoreOptions) {
    this.repo = repo;
    this.opts = opts;
  }

  async run(rootTree: string): Promise<void> {
    const ahead = this.opts.fetchAhead ? fetchAhead(this.repo, this.opts.fetchAhead, rootTree, this.opts.includes, this.opts.exclude) : undefined;
    try {
      if (this.opts.exactMtimes) this.exactMtimeNs = await this.opts.exactMtimes();
      await this.write(rootTree);
    } catch (err) {
      ahead?.stop(); // the restore failed: no more packs (those in flight finish)
      throw err;
    } finally {
      // never leave fetches running behind a finished (or failed) restore
      if (ahead) this.fetchErrors.push(...(await ahead.done));
    }
  }

  private async write(rootTree: string): Promise<void> {
    requireProcFd();
    // the target is named by the user: it is the one path followed as given
    await mkdir(this.opts.target, { recursive: true });
    this.targetFd = openSync(this.opts.target, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      const conflicts = this.findConflicts(await loadTree(this.repo, rootTree), '', this.opts.includes, this.targetFd);
      const all = await conflicts;
      if (all.length > 0 && !this.opts.overwrite) {
        const more = all.length > 1 ? ` (and ${all.length - 1} more)` : '';
        throw new CairnError('E_RESTORE_CONFLICT', `refusing to overwrite ${all[0]}${more}: it exists and differs from the snapshot (use --overwrite)`);
      }
      await this.restoreDir(rootTree, '', this.opts.includes, this.targetFd);
    } finally {
      closeSync(this.targetFd);
      this.targetFd = -1;
    }
  }

  /** Restores the contents of one directory of the snapshot straight into the target (a volume). */
  async runInto(dir: TreeNode): Promise<void> {
    if (dir.type !== 'dir' || !dir.subtree) throw new CairnError('E_NOT_A_DIRECTORY', `${dir.name} is not a directory in the snapshot`);
    await this.run(dir.subtree);
    this.applyMetaAt(this.opts.target, this.opts.target, '', dir);
  }

  /** For messages: the path below the target, escaped for people. */
  private shown(rel: string): string {
    return displayName(join(this.opts.target, rel));
  }

  /** Existing entries in the target that differ from the snapshot (read through fds, never through a symlink). */
  private async findConflicts(tree: { nodes: TreeNode[] }, prefix: string, includes: string[], dirFd: number): Promise<string[]> {
    const out: string[] = [];
    for (const node of tree.nodes) {
      const rel = prefix ? `${prefix}/${node.name}` : node.name;
      const sel = selection(rel, includes);
      if (sel === 'none' || this.opts.exclude?.(rel, node)) continue;
      const p = at(dirFd, node.name);
      const st = lstatOrUndefined(p);
      if (st && sel === 'all') {
        if (!isType(st, node.type === 'dir' || node.type === 'file' || node.type === 'symlink' ? node.type : 'none')) {
          out.push(this.shown(rel));
          continue;
        }
        if (node.type === 'file') {
          if (await this.sameContent(p, st, node)) this.identical.add(rel);
          else out.push(this.shown(rel));
        } else if (node.type === 'symlink' && !readlinkSync(p, { encoding: 'buffer' }).equals(toBytes(node.target ?? ''))) {
          out.push(this.shown(rel));
        }
      } else if (st && !st.isDirectory()) {
        out.push(this.shown(rel));
        continue;
      }
      if (st && node.type === 'dir' && node.subtree) {
        let fd: number;
        try {
          fd = openDirNoFollow(p, this.shown(rel), st).fd;
        } catch (err) {
          if (err instanceof SwappedError || ['ELOOP', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) {
            out.push(this.shown(rel));
            continue;
          }
          throw err;
        }
        try {
          out.push(...(await this.findConflicts(await loadTree(this.repo, node.subtree), rel, sel === 'all' ? [] : includes, fd)));
        } finally {
          closeSync(fd);
        }
      }
    }
    return out;
  }

  private async sameContent(p: Buffer, st: BigIntStats, node: TreeNode): Promise<boolean> {
    if (st.size !== BigInt(node.size)) return false;
    const fd = openSync(p, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      if (!fstatSync(fd).isFile()) return false;
      let pos = 0;
      for (const id of node.content ?? []) {
        const entry = this.repo.index.get(id);
        if (!entry) return false;
        const buf = Buffer.allocUnsafe(entry.rawLength);
        const bytesRead = readSync(fd, buf, 0, entry.rawLength, pos);
        if (bytesRead !== entry.rawLength || this.repo.blobIdOf(buf) !== id) return false;
        pos += entry.rawLength;
      }
      return pos === node.size;
    } finally {
      closeSync(fd);
    }
  }

  private async restoreDir(treeId: string, prefix: string, includes: string[], dirFd: number): Promise<void> {
    throwIfCancelled(this.opts.signal);
    const tree = await loadTree(this.repo, treeId);
    const selected = tree.nodes
      .map((node) => ({ node, rel: prefix ? `${prefix}/${node.name}` : node.name }))
      .map((e) => ({ ...e, sel: selection(e.rel, includes) }))
      .filter((e) => e.sel !== 'none' && !this.opts.exclude?.(e.rel, e.node));
    // Directories one after another (depth first), the other entries of this directory concurrently.
    await mapLimit(
      selected.filter((e) => e.node.type !== 'dir'),
      FILE_CONCURRENCY,
      async ({ node, rel }) => {
        try {
          throwIfCancelled(this.opts.signal);
          await this.restoreEntry(node, rel, dirFd);
        } catch (err) {
          if (err instanceof CancelledError) throw err; // not one file's failure: the whole restore stops
          this.errors.push(`${this.shown(rel)}: ${errorMessage(err)}`);
        }
      },
    );
    for (const { node, rel, sel } of selected.filter((e) => e.node.type === 'dir')) {
      const p = at(dirFd, node.name);
      try {
        const st = lstatOrUndefined(p);
        if (st && !st.isDirectory()) removeEntry(dirFd, node.name, this.shown(rel));
        if (!st || !st.isDirectory()) mkdirSync(p, { mode: 0o700 });
        // O_NOFOLLOW: a symlink swapped in since is refused (ELOOP), never entered
        const { fd } = openDirNoFollow(p, this.shown(rel));
        try {
          if (node.subtree) await this.restoreDir(node.subtree, rel, sel === 'all' ? [] : includes, fd);
          if (sel === 'all') this.applyMeta(dirFd, rel, node);
        } finally {
          closeSync(fd);
        }
      } catch (err) {
        if (err instanceof CancelledError) throw err;
        this.errors.push(`${this.shown(rel)}: ${errorMessage(err)}`);
      }
    }
  }

  private async restoreEntry(node: TreeNode, rel: string, dirFd: number): Promise<void> {
    const p = at(dirFd, node.name);
    this.progress.currentPath = this.shown(rel);
    switch (node.type) {
      case 'file':
        await this.restoreFile(node, rel, dirFd);
        this.progress.filesDone += 1;
        return;
      case 'symlink': {
        const target = toBytes(node.target ?? '');
        const st = lstatOrUndefined(p);
        if (st) {
          if (st.isSymbolicLink() && readlinkSync(p, { encoding: 'buffer' }).equals(target)) break;
          removeEntry(dirFd, node.name, this.shown(rel));
        }
        symlinkSync(target, p);
        break;
      }
      case 'fifo':
      case 'chardev':
      case 'blockdev': {
        const typeBits = node.type === 'fifo' ? S_IFIFO : node.type === 'chardev' ? S_IFCHR : S_IFBLK;
        removeEntry(dirFd, node.name, this.shown(rel));
        makeNode(p, typeBits | (node.mode & 0o777), node.rdev ?? 0);
        break;
      }
      case 'socket':
        this.warnings.push(`${this.shown(rel)}: sockets are not restored`);
        return;
      default:
        return;
    }
    this.applyMeta(dirFd, rel, node);
  }

  /** The directory (below the target) holding `rel`, opened component by component with O_NOFOLLOW. */
  private openParentOf(rel: string): number {
    const parts = rel.split('/').slice(0, -1);
    let fd = this.targetFd;
    for (let i = 0; i < parts.length; i++) {
      const next = openDirNoFollow(at(fd, parts[i] as string), this.shown(parts.slice(0, i + 1).join('/'))).fd;
      if (fd !== this.targetFd) closeSync(fd);
      fd = next;
    }
    return fd === this.targetFd ? openSync(fdPath(fd), constants.O_RDONLY | constants.O_DIRECTORY) : fd;
  }

  private async restoreFile(node: TreeNode, rel: string, dirFd: number): Promise<void> {
    const linkKey = node.nlink > 1 ? `${node.dev}:${node.inode}` : undefined;
    const p = at(dirFd, node.name);
    if (linkKey) {
      const first = this.linkTargets.get(linkKey);
      if (first) {
        const firstOne = await first;
        if (firstOne) {
          removeEntry(dirFd, node.name, this.shown(rel));
          const parentFd = this.openParentOf(firstOne.rel);
          try {
            linkSync(at(parentFd, firstOne.rel.slice(firstOne.rel.lastIndexOf('/') + 1)), p);
          } finally {
            closeSync(parentFd);
          }
          // link(2) does not follow symlinks; the new name must be the inode restored first
          if (lstatSync(p, { bigint: true }).ino !== firstOne.ino) {
            unlinkSync(p);
            throw new SwappedError(this.shown(firstOne.rel));
          }
          return;
        }
      }
    }
    let done: (v: { rel: string; ino: bigint } | undefined) => void = () => undefined;
    if (linkKey && !this.linkTargets.has(linkKey)) this.linkTargets.set(linkKey, new Promise((r) => (done = r)));
    try {
      const ino = this.identical.has(rel) ? this.applyMeta(dirFd, rel, node) : await this.writeFile(node, rel, dirFd, linkKey !== undefined);
      done({ rel, ino });
    } catch (err) {
      done(undefined);
      throw err;
    }
  }

  /**
   * Writes a file and its metadata; returns its inode (0 unless `wantIno`). Where nothing is in the
   * way the file is created in place (O_EXCL: it never follows a symlink, it fails if anything is
   * there) and gets its metadata through its fd; a file whose data fails verification is removed
   * again. Otherwise it is written under a temp name and renamed over what is there. File I/O is
   * synchronous: restores write into the page cache, where a promise round trip costs more than the call.
   */
  private async writeFile(node: TreeNode, rel: string, dirFd: number, wantIno: boolean): Promise<bigint> {
    const p = at(dirFd, node.name);
    let fd: number;
    try {
      fd = openSync(p, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      await this.replaceContent(node, dirFd);
      return this.applyMeta(dirFd, rel, node);
    }
    try {
      await this.writeContent(fd, node);
      return this.applyMetaFd(fd, this.shown(rel), rel, node, wantIno);
    } catch (err) {
      // ours to remove only while the name is still the file we created
      try {
        if (lstatSync(p, { bigint: true }).ino === fstatSync(fd, { bigint: true }).ino) unlinkSync(p);
      } catch {
        // gone already
      }
      throw err;
    } finally {
      closeSync(fd);
    }
  }

  /** Writes a file's content under a temp name and renames it over the entry that is in the way. */
  private async replaceContent(node: TreeNode, dirFd: number): Promise<void> {
    const p = at(dirFd, node.name);
    const tmp = at(dirFd, `.cairn-restore-${randomBytes(6).toString('hex')}`);
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      await this.writeContent(fd, node);
      closeSync(fd);
    } catch (err) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
      try {
        unlinkSync(tmp);
      } catch {
        // gone already
      }
      throw err;
    }
    // rename(2) replaces the name itself, whatever it is (a symlink is replaced, not followed)
    renameSync(tmp, p);
  }

  /** Writes a node's chunks, verified, into the empty file open as `fd`; all-zero blocks stay holes. */
  private async writeContent(fd: number, node: TreeNode): Promise<void> {
    let pos = 0;
    let written = 0;
    for (const id of node.content ?? []) {
      throwIfCancelled(this.opts.signal);
      if (this.zeroChunks.has(id)) {
        pos += this.repo.index.get(id)?.rawLength ?? 0;
        continue;
      }
      const data = await this.repo.loadBlob(id, BlobType.data);
      const runs = dataRuns(data);
      if (runs.length === 0) this.zeroChunks.add(id);
      for (const [start, end] of runs) {
        let off = start;
        while (off < end) off += writeSync(fd, data, off, end - off, pos + off);
        written = pos + end;
      }
      pos += data.length;
      this.progress.bytesDone += data.length;
    }
    if (pos !== node.size) throw new CairnError('E_CORRUPT', `content adds up to ${pos} bytes, the snapshot says ${node.size}`);
    // a file that ends in a hole gets its length here
    if (written < pos) ftruncateSync(fd, pos);
  }

  /** Metadata of the entry `node.name` of the directory open as dirFd; returns its inode. */
  private applyMeta(dirFd: number, rel: string, node: TreeNode): bigint {
    return this.applyMetaAt(at(dirFd, node.name), this.shown(rel), rel, node);
  }

  /**
   * applyMetaAt's work through the fd of a file we created and still hold open: owner, mode (after
   * the owner: chown clears setuid and setgid), xattrs, then times. Returns its inode when asked.
   */
  private applyMetaFd(fd: number, shown: string, rel: string, node: TreeNode, wantIno: boolean): bigint {
    try {
      fchownSync(fd, node.uid, node.gid);
    } catch (err) {
      this.warnings.push(`${shown}: cannot set owner ${node.uid}:${node.gid}: ${errorMessage(err)}`);
    }
    fchmodSync(fd, node.mode);
    for (const [name, value] of Object.entries(node.xattrs ?? {})) {
      try {
        setXattrFd(fd, name, Buffer.from(value, 'base64'), shown);
      } catch (err) {
        this.warnings.push(`${shown}: cannot set extended attribute ${name}: ${errorMessage(err)}`);
      }
    }
    const mtime = this.exactMtimeNs?.(rel) ?? BigInt(node.mtimeNs);
    setTimesNsFd(fd, node.atimeNs !== undefined ? BigInt(node.atimeNs) : mtime, mtime, shown);
    return wantIno ? fstatSync(fd, { bigint: true }).ino : 0n;
  }

  /**
   * Owner, mode, xattrs, then times (last, since the others change ctime and may touch mtime),
   * at `p`, a path whose last component is never followed: lchown, lsetxattr and utimensat with
   * AT_SYMLINK_NOFOLLOW act on the entry itself; the mode is set through an O_PATH fd of the entry,
   * checked to be of the node's type (chmod on a path would follow a symlink swapped in).
   */
  private applyMetaAt(p: CPath, shown: string, rel: string, node: TreeNode): bigint {
    try {
      lchownSync(p, node.uid, node.gid);
    } catch (err) {
      this.warnings.push(`${shown}: cannot set owner ${node.uid}:${node.gid}: ${errorMessage(err)}`);
    }
    const pfd = openSync(p, O_PATH | constants.O_NOFOLLOW);
    let ino: bigint;
    try {
      const st = fstatSync(pfd, { bigint: true });
      if (!isType(st, node.type)) throw new SwappedError(shown);
      ino = st.ino;
      if (node.type !== 'symlink') chmodSync(fdPath(pfd), node.mode);
    } finally {
      closeSync(pfd);
    }
    for (const [name, value] of Object.entries(node.xattrs ?? {})) {
      try {
        setXattr(p, name, Buffer.from(value, 'base64'));
      } catch (err) {
        this.warnings.push(`${shown}: cannot set extended attribute ${name}: ${errorMessage(err)}`);
      }
    }
    // Portable volume nodes carry no atime (SPEC 6.1): atime is set to mtime; the exact mtime, when
    // the snapshot's metadata has it, replaces the tree's whole second.
    const mtime = this.exactMtimeNs?.(rel) ?? BigInt(node.mtimeNs);
    setTimesNs(p, node.atimeNs !== undefined ? BigInt(node.atimeNs) : mtime, mtime);
    return ino;
  }
}
