// The restorer: writes a snapshot (or the selected part of it) below a target directory.
// Files are written to a temp name and renamed into place; metadata goes last (owner, mode, xattrs,
// then nanosecond times; directories after their contents). All-zero 4 KiB blocks become holes, so sparse
// files come back sparse. Existing files that differ are refused unless `overwrite` is set; every
// conflict is found before anything is written. A file whose data fails verification is not
// created, the others are, and every failure is reported.
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, ftruncateSync, lchownSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { link, lstat, mkdir, open, readlink, rm, symlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { BlobType } from '../repo/blob.js';
import type { Repository } from '../repo/repository.js';
import { loadTree } from '../repo/trees.js';
import { CairnError, errorMessage } from '../util/errors.js';
import { makeNode, setTimesNs, setXattr } from '../util/posix.js';
import { mapLimit } from '../util/semaphore.js';
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
  /** The exact mtime of a path (relative to the target) when the tree keeps only whole seconds (volumes read through their mountpoint). */
  exactMtimeNs?: (rel: string) => bigint | undefined;
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

async function lstatOrUndefined(path: string) {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export class Restorer {
  readonly progress: RestoreProgress = { filesDone: 0, bytesDone: 0, currentPath: '' };
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  private readonly repo: Repository;
  private readonly opts: RestoreOptions;
  /** Chunk IDs known to be all zeros: skipped without reading. */
  private readonly zeroChunks = new Set<string>();
  /** dev:inode -> path of the first restored name, for hardlinks. */
  private readonly linkTargets = new Map<string, Promise<string | undefined>>();
  /** Paths whose content already matches (found by the conflict check). */
  private readonly identical = new Set<string>();

  constructor(repo: Repository, opts: RestoreOptions) {
    this.repo = repo;
    this.opts = opts;
  }

  async run(rootTree: string): Promise<void> {
    await mkdir(this.opts.target, { recursive: true });
    const conflicts = await this.findConflicts(rootTree, '', this.opts.includes);
    if (conflicts.length > 0 && !this.opts.overwrite) {
      const more = conflicts.length > 1 ? ` (and ${conflicts.length - 1} more)` : '';
      throw new CairnError('E_RESTORE_CONFLICT', `refusing to overwrite ${conflicts[0]}${more}: it exists and differs from the snapshot (use --overwrite)`);
    }
    await this.restoreDir(rootTree, '', this.opts.includes);
  }

  /** Restores the contents of one directory of the snapshot straight into the target (a volume). */
  async runInto(dir: TreeNode): Promise<void> {
    if (dir.type !== 'dir' || !dir.subtree) throw new CairnError('E_NOT_A_DIRECTORY', `${dir.name} is not a directory in the snapshot`);
    await this.run(dir.subtree);
    await this.applyMeta(this.opts.target, dir);
  }

  private targetPath(rel: string): string {
    return join(this.opts.target, rel);
  }

  /** Existing paths in the target that differ from the snapshot. */
  private async findConflicts(treeId: string, prefix: string, includes: string[]): Promise<string[]> {
    const out: string[] = [];
    const tree = await loadTree(this.repo, treeId);
    for (const node of tree.nodes) {
      const rel = prefix ? `${prefix}/${node.name}` : node.name;
      const sel = selection(rel, includes);
      if (sel === 'none') continue;
      const path = this.targetPath(rel);
      const st = await lstatOrUndefined(path);
      if (st && sel === 'all') {
        if (node.type === 'dir' ? !st.isDirectory() : node.type === 'file' ? !st.isFile() : node.type === 'symlink' ? !st.isSymbolicLink() : true) {
          out.push(path);
          continue;
        }
        if (node.type === 'file') {
          if (await this.sameContent(path, node)) this.identical.add(path);
          else out.push(path);
        } else if (node.type === 'symlink' && (await readlink(path)) !== node.target) {
          out.push(path);
        }
      } else if (st && !st.isDirectory()) {
        out.push(path);
        continue;
      }
      if (st && node.type === 'dir' && node.subtree) out.push(...(await this.findConflicts(node.subtree, rel, sel === 'all' ? [] : includes)));
    }
    return out;
  }

  private async sameContent(path: string, node: TreeNode): Promise<boolean> {
    const st = await lstat(path);
    if (st.size !== node.size) return false;
    const fh = await open(path, 'r');
    try {
      let pos = 0;
      for (const id of node.content ?? []) {
        const entry = this.repo.index.get(id);
        if (!entry) return false;
        const buf = Buffer.allocUnsafe(entry.rawLength);
        const { bytesRead } = await fh.read(buf, 0, entry.rawLength, pos);
        if (bytesRead !== entry.rawLength || this.repo.blobIdOf(buf) !== id) return false;
        pos += entry.rawLength;
      }
      return pos === node.size;
    } finally {
      await fh.close();
    }
  }

  private async restoreDir(treeId: string, prefix: string, includes: string[]): Promise<void> {
    const tree = await loadTree(this.repo, treeId);
    const selected = tree.nodes
      .map((node) => ({ node, rel: prefix ? `${prefix}/${node.name}` : node.name }))
      .map((e) => ({ ...e, sel: selection(e.rel, includes) }))
      .filter((e) => e.sel !== 'none');
    // Directories one after another (depth first), the other entries of this directory concurrently.
    await mapLimit(
      selected.filter((e) => e.node.type !== 'dir'),
      FILE_CONCURRENCY,
      async ({ node, rel }) => {
        try {
          await this.restoreEntry(node, rel);
        } catch (err) {
          this.errors.push(`${this.targetPath(rel)}: ${errorMessage(err)}`);
        }
      },
    );
    for (const { node, rel, sel } of selected.filter((e) => e.node.type === 'dir')) {
      const path = this.targetPath(rel);
      try {
        const st = await lstatOrUndefined(path);
        if (st && !st.isDirectory()) await rm(path, { recursive: true, force: true });
        if (!st || !st.isDirectory()) await mkdir(path, { mode: 0o700 });
        if (node.subtree) await this.restoreDir(node.subtree, rel, sel === 'all' ? [] : includes);
        if (sel === 'all') await this.applyMeta(path, node);
      } catch (err) {
        this.errors.push(`${path}: ${errorMessage(err)}`);
      }
    }
  }

  private async restoreEntry(node: TreeNode, rel: string): Promise<void> {
    const path = this.targetPath(rel);
    this.progress.currentPath = path;
    switch (node.type) {
      case 'file':
        await this.restoreFile(node, path);
        this.progress.filesDone += 1;
        return;
      case 'symlink': {
        const st = await lstatOrUndefined(path);
        if (st) {
          if (st.isSymbolicLink() && (await readlink(path)) === node.target) break;
          await rm(path, { recursive: true, force: true });
        }
        await symlink(node.target ?? '', path);
        break;
      }
      case 'fifo':
      case 'chardev':
      case 'blockdev': {
        const typeBits = node.type === 'fifo' ? S_IFIFO : node.type === 'chardev' ? S_IFCHR : S_IFBLK;
        await rm(path, { force: true });
        makeNode(path, typeBits | (node.mode & 0o777), node.rdev ?? 0);
        break;
      }
      case 'socket':
        this.warnings.push(`${path}: sockets are not restored`);
        return;
      default:
        return;
    }
    await this.applyMeta(path, node);
  }

  private async restoreFile(node: TreeNode, path: string): Promise<void> {
    const linkKey = node.nlink > 1 ? `${node.dev}:${node.inode}` : undefined;
    if (linkKey) {
      const first = this.linkTargets.get(linkKey);
      if (first) {
        const firstPath = await first;
        if (firstPath) {
          await rm(path, { force: true });
          await link(firstPath, path);
          return;
        }
      }
    }
    let done: (p: string | undefined) => void = () => undefined;
    if (linkKey && !this.linkTargets.has(linkKey)) this.linkTargets.set(linkKey, new Promise((r) => (done = r)));
    try {
      if (!this.identical.has(path)) await this.writeContent(node, path);
      await this.applyMeta(path, node);
      done(path);
    } catch (err) {
      done(undefined);
      throw err;
    }
  }

  /** Writes a file's content under a temp name and renames it into place. File I/O is synchronous:
   * restores write into the page cache, where a promise round trip costs more than the call. */
  private async writeContent(node: TreeNode, path: string): Promise<void> {
    const content = node.content ?? [];
    const fresh = content.length <= 1 && !existsSync(path);
    if (fresh) {
      // One chunk and no file there yet: verify the chunk first, then create the file in place
      // (no temp name, half the directory operations); a chunk that fails verification still
      // creates nothing. An existing file (maybe hardlinked elsewhere) is replaced by rename below.
      const data = content.length === 1 ? await this.repo.loadBlob(content[0] as string, BlobType.data) : Buffer.alloc(0);
      if (data.length !== node.size) throw new CairnError('E_CORRUPT', `content adds up to ${data.length} bytes, the snapshot says ${node.size}`);
      const fd = openSync(path, 'wx', 0o600);
      try {
        for (const [start, end] of dataRuns(data)) {
          let off = start;
          while (off < end) off += writeSync(fd, data, off, end - off, off);
        }
        ftruncateSync(fd, data.length);
      } finally {
        closeSync(fd);
      }
      this.progress.bytesDone += data.length;
      return;
    }
    const tmp = join(path, '..', `.cairn-restore-${randomBytes(6).toString('hex')}`);
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      let pos = 0;
      for (const id of content) {
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
        }
        pos += data.length;
        this.progress.bytesDone += data.length;
      }
      if (pos !== node.size) throw new CairnError('E_CORRUPT', `content adds up to ${pos} bytes, the snapshot says ${node.size}`);
      ftruncateSync(fd, pos);
      closeSync(fd);
    } catch (err) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
      rmSync(tmp, { force: true });
      throw err;
    }
    renameSync(tmp, path);
  }

  /** Owner, mode, xattrs, then times (last, since the others change ctime and may touch mtime). */
  private async applyMeta(path: string, node: TreeNode): Promise<void> {
    try {
      lchownSync(path, node.uid, node.gid);
    } catch (err) {
      this.warnings.push(`${path}: cannot set owner ${node.uid}:${node.gid}: ${errorMessage(err)}`);
    }
    if (node.type !== 'symlink') chmodSync(path, node.mode);
    for (const [name, value] of Object.entries(node.xattrs ?? {})) {
      try {
        setXattr(path, name, Buffer.from(value, 'base64'));
      } catch (err) {
        this.warnings.push(`${path}: cannot set extended attribute ${name}: ${errorMessage(err)}`);
      }
    }
    // Portable volume nodes carry no atime (SPEC 6.1): atime is set to mtime; the exact mtime, when
    // the snapshot's metadata has it, replaces the tree's whole second.
    const mtime = this.opts.exactMtimeNs?.(relative(this.opts.target, path)) ?? BigInt(node.mtimeNs);
    setTimesNs(path, node.atimeNs !== undefined ? BigInt(node.atimeNs) : mtime, mtime);
  }
}
