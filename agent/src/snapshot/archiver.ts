// The archiver: walks source paths and turns them into tree and data blobs, then a snapshot.
// Files unchanged since the parent snapshot (same size, mtime, ctime, inode) are not read again.
// A file that changes while it is read is recorded with `changedDuringBackup` and a warning.
//
// Every entry is reached relative to its directory's open fd (util/fd-at.ts) and never through a
// symlink: a file is opened with O_NOFOLLOW and must be the object its lstat saw (device, inode,
// type), a directory likewise with O_DIRECTORY. Whoever can write into a backed-up tree can swap
// entries for symlinks while we read; they then get the symlink stored, never what it points to.
// An entry that changed under us is looked at once more; if it changes again it is not stored, and
// counted (`unreadable`: the backup ends with exit 3). Names are bytes (util/byte-names.ts).
import { closeSync, constants, fstatSync, lstatSync, openSync, readlinkSync, type BigIntStats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, parse, resolve, sep } from 'node:path';
import { BlobType } from '../repo/blob.js';
import type { Repository } from '../repo/repository.js';
import { loadTree } from '../repo/trees.js';
import type { Clock } from '../util/clock.js';
import { displayName, fromBytes } from '../util/byte-names.js';
import { throwIfCancelled, UsageError } from '../util/errors.js';
import { at, openDirNoFollow, requireProcFd, sameFile, SwappedError } from '../util/fd-at.js';
import { readDirFd } from '../util/posix.js';
import { mapLimit, Semaphore } from '../util/semaphore.js';
import { baseNode, nodeType, unchangedSince, xattrsOf } from './node-meta.js';
import type { UnchangedFileCache } from './file-cache.js';
import { FileSaver, type StoreBlob } from './file-saver.js';
import type { ArchiveProgress } from './progress.js';
import { TreeSaver } from './tree-saver.js';
import { syntheticDirNode, VolumeTreeBuilder, type ExcludeFn, type VolumeEntry } from './volume-archiver.js';
import { SNAPSHOT_VERSION, type Snapshot, type SnapshotMeta, type TreeNode } from '../../../protocol/snapshot.js';
import { excludedBy } from './path-glob.js';

/** Files read at once. */
const FILE_CONCURRENCY = 8;
/** Entries of one directory handled at once. */
const DIR_CONCURRENCY = 8;
/** Parent trees loaded ahead of the walk: this many subdirectories ahead, in each directory on the way down. */
const PARENT_PREFETCH = 8;

export type { ArchiveProgress } from './progress.js';

export interface ArchiveOptions {
  paths: string[];
  tags: string[];
  /** The configured source name, recorded in the snapshot. */
  source?: string;
  parent?: { id: string; snapshot: Snapshot };
  clock: Clock;
  /** Paths never backed up (the Cairn home itself). */
  skip?: string[];
  /**
   * Exclude patterns (globs): a pattern starting with "/" matches whole paths, one with a "/" inside
   * matches the end of paths ("logs/*.gz"), any other one matches names at any depth; a trailing "/"
   * matches directories only. An excluded directory is skipped whole.
   */
  exclude?: string[];
  /**
   * Docker volumes, recorded in the portable volume profile (SPEC 6.1) at `path` (their mountpoint,
   * whether or not it is readable here); directories above them that lead only to volumes are
   * synthetic (0755 root:root, mtime 0), so the read path never shows in the trees.
   */
  volumes?: VolumeSpec[];
  /** The unchanged-file cache of volumes read through their mountpoint (those with `cache`); without it every file is read. */
  fileCache?: UnchangedFileCache;
  /** Do not cross into other file systems below the source paths (restic's --one-file-system): a mountpoint is kept as an empty directory, anything else on another device is left out. */
  oneFileSystem?: boolean;
  /** Store nothing (restic's --dry-run): blobs are only hashed and counted; no pack, index entry or snapshot is written. */
  dryRun?: boolean;
  /** Stored with the snapshot as a metadata blob (JSON) referenced as `meta`; the volumes' exact mtimes are added to it. */
  meta?: SnapshotMeta;
  /**
   * Cancels the backup: checked before each entry, each chunk read and the commit, so a cancelled
   * backup throws its reason and commits no snapshot; the packs already written stay indexed, and
   * the next backup dedups against them.
   */
  signal?: AbortSignal;
}

export interface VolumeSpec {
  /** Docker volume name (keys the mountpoint path's file cache). */
  name: string;
  /** Absolute path of the volume's root in the snapshot. */
  path: string;
  /** The volume's entries; `excluded` tells which to leave out (the builder drops them too); `notStored`: an entry that could not be stored (warned). */
  entries(excluded: ExcludeFn, warn: (m: string) => void, notStored: () => void): AsyncIterable<VolumeEntry>;
  /** Use the local unchanged-file cache (mountpoint path only). */
  cache: boolean;
}

/** A directory's tree in the parent snapshot, loading (ahead of the walk) or loaded; null when it could not be read (warned). */
interface ParentTree {
  id: string;
  loaded: Promise<{ nodes: TreeNode[]; byName: Map<string, TreeNode> } | null>;
}

/** Same object as in the parent snapshot, unchanged in its metadata (ctime moves with any change to mode, owner, links or xattrs). */
function sameInode(parent: TreeNode | undefined, node: TreeNode): parent is TreeNode {
  return parent !== undefined && parent.type === node.type && parent.inode === node.inode && parent.ctimeNs !== undefined && parent.ctimeNs === node.ctimeNs;
}

interface TrieNode {
  children: Map<string, TrieNode>;
  leaf: boolean;
  volume?: VolumeSpec;
}

/** Only volumes below: the directory gets synthetic metadata. */
function onlyVolumes(node: TrieNode): boolean {
  if (node.leaf) return node.volume !== undefined;
  return [...node.children.values()].every(onlyVolumes);
}

function isErrno(err: unknown, ...codes: string[]): boolean {
  return codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

/** Signs that an entry became another file between its lstat and its open/readlink (a race). */
function swapped(err: unknown): boolean {
  return err instanceof SwappedError || isErrno(err, 'ELOOP', 'ENOTDIR', 'EINVAL', 'ENXIO', 'EWOULDBLOCK', 'EAGAIN');
}

/** Whether `name` in the directory open as dirFd is a directory, where the filesystem gives no d_type (false when it cannot tell: it is lstat'ed again when archived). */
function isDirAt(dirFd: number, name: string): boolean {
  try {
    return lstatSync(at(dirFd, name)).isDirectory();
  } catch {
    return false;
  }
}

/** Times an entry is looked at when it keeps changing type under us (then it is not stored). */
const SWAP_ATTEMPTS = 2;

export class Archiver {
  readonly progress: ArchiveProgress = { filesDone: 0, bytesDone: 0, filesRead: 0, filesReused: 0, dirs: 0, addedBytes: 0, currentPath: '' };
  readonly warnings: string[] = [];
  /** Entries skipped because they could not be read (permissions, I/O errors). */
  unreadable = 0;
  private readonly repo: Repository;
  private readonly opts: ArchiveOptions;
  private readonly files = new Semaphore(FILE_CONCURRENCY);
  private readonly skip: Set<string>;
  /** Every file's bytes, of directories and volumes alike, go through this one saver (and its memory budgets). */
  private readonly saver: FileSaver;
  /** Every directory's tree, of directories and volumes alike, is stored through this one saver. */
  private readonly trees: TreeSaver;
  private readonly volumeBuilders: Array<{ path: string; builder: VolumeTreeBuilder }> = [];
  /** Dry run: the blobs this backup would add (each counted once). */
  private readonly wouldAdd = new Set<string>();

  constructor(repo: Repository, opts: ArchiveOptions) {
    this.repo = repo;
    this.opts = opts;
    this.skip = new Set((opts.skip ?? []).map((p) => resolve(p)));
    const store: StoreBlob = (type, data, knownId) => this.store(type, data, knownId);
    this.saver = new FileSaver(repo, this.progress, store, opts.signal);
    this.trees = new TreeSaver(repo, this.progress, store);
  }

  /** Stores a blob, or in a dry run only says whether it would be added (its raw size: nothing is compressed or sealed). */
  private async store(type: BlobType, data: Buffer, knownId?: string): Promise<{ id: string; addedBytes: number }> {
    if (!this.opts.dryRun) return this.repo.saveBlob(type, data, knownId);
    const id = knownId ?? this.repo.blobIdOf(data);
    if (this.repo.known(id) || this.wouldAdd.has(id)) return { id, addedBytes: 0 };
    this.wouldAdd.add(id);
    return { id, addedBytes: data.length };
  }

  private excluded(path: string, name: string, isDir: boolean): boolean {
    return excludedBy(this.opts.exclude ?? [], path, name, isDir);
  }

  /** The source paths as given (absolute). */
  get sourcePaths(): string[] {
    return this.opts.paths.map((p) => resolve(p));
  }

  private warn(msg: string): void {
    this.warnings.push(msg);
  }

  private notStored(path: string, why: string): undefined {
    this.unreadable += 1;
    this.warn(`${displayName(path)}: not stored: ${why}`);
    return undefined;
  }

  async run(): Promise<{ id: string; snapshot: Snapshot }> {
    const started = this.opts.clock.now();
    const volumes = new Map((this.opts.volumes ?? []).map((v) => [resolve(v.path), v]));
    const paths = [...new Set([...this.opts.paths.map((p) => resolve(p)), ...volumes.keys()])].sort();
    if (paths.length === 0) throw new UsageError('nothing to back up: give at least one path');
    if (this.opts.dryRun && volumes.size > 0) throw new UsageError('--dry-run applies to directories, not to volume:NAME');
    for (const p of paths) {
      if (volumes.has(p)) continue;
      try {
        await lstat(p);
      } catch (err) {
        throw new UsageError(`cannot back up ${p}: ${isErrno(err, 'ENOENT') ? 'no such file or directory' : (err as Error).message}`, 'E_SOURCE');
      }
    }
    const trie: TrieNode = { children: new Map(), leaf: false };
    for (const p of paths) {
      let node = trie;
      for (const part of p.split(sep).filter((s) => s.length > 0)) {
        if (node.leaf) break; // already covered by an enclosing path
        let child = node.children.get(part);
        if (!child) node.children.set(part, (child = { children: new Map(), leaf: false }));
        node = child;
      }
      node.leaf = true;
      node.children.clear();
      const volume = volumes.get(p);
      if (volume) node.volume = volume;
    }
    requireProcFd();
    const parentRoot = this.opts.parent?.snapshot.tree;
    const root = parse(paths[0] as string).root;
    const rootFd = openDirNoFollow(root, root).fd;
    let treeId: string;
    try {
      treeId = trie.leaf ? await this.archiveDir(root, rootFd, this.parentTree(parentRoot)) : await this.archiveVirtual(root, rootFd, trie, parentRoot);
    } finally {
      closeSync(rootFd);
    }
    const p = this.progress;
    const snapshot: Snapshot = {
      version: SNAPSHOT_VERSION,
      time: new Date(this.opts.clock.now()).toISOString(),
      hostname: hostname(),
      paths,
      tags: [...this.opts.tags].sort(),
      ...(this.opts.source !== undefined ? { source: this.opts.source } : {}),
      tree: treeId,
      ...(this.opts.parent ? { parent: this.opts.parent.id } : {}),
      ...(this.opts.meta ? { meta: await this.saveMeta(this.opts.meta) } : {}),
      summary: {
        files: p.filesDone,
        dirs: p.dirs,
        sizeBytes: p.bytesDone,
        addedBytes: p.addedBytes,
        filesRead: p.filesRead,
        filesReused: p.filesReused,
        warnings: this.warnings,
        durationMs: this.opts.clock.now() - started,
      },
    };
    if (this.opts.dryRun) return { id: '', snapshot };
    throwIfCancelled(this.opts.signal); // the last point before the snapshot exists
    await this.repo.flush();
    const id = await this.repo.commitSnapshot(snapshot);
    for (const { builder } of this.volumeBuilders) await builder.commitCache();
    return { id, snapshot };
  }

  private async saveMeta(meta: SnapshotMeta): Promise<string> {
    const exact = new Map(this.volumeBuilders.map(({ path, builder }) => [path, builder.preciseMtimes]));
    const volumes = meta.volumes?.map((v) => {
      const m = exact.get(resolve(v.path));
      return m && Object.keys(m).length > 0 ? { ...v, mtimesNs: m } : v;
    });
    const data = Buffer.from(JSON.stringify({ ...meta, ...(volumes ? { volumes } : {}) }));
    const { id, addedBytes } = await this.store(BlobType.data, data);
    this.progress.addedBytes += addedBytes;
    return id;
  }

  private async archiveVolume(v: VolumeSpec, name: string): Promise<TreeNode> {
    const root = resolve(v.path);
    const excluded: ExcludeFn = (rel, base, isDir) => this.excluded(join(root, rel), base, isDir);
    const builder = new VolumeTreeBuilder(
      this.repo,
      this.progress,
      (m) => this.warn(m),
      () => (this.unreadable += 1),
      v.cache && this.opts.fileCache ? { volume: v.name, files: this.opts.fileCache } : undefined,
      excluded,
      { files: this.saver, trees: this.trees },
    );
    this.volumeBuilders.push({ path: root, builder });
    const entries = v.entries(
      excluded,
      (m) => this.warn(m),
      () => (this.unreadable += 1),
    );
    const signal = this.opts.signal;
    return builder.build(name, signal ? untilCancelled(entries, signal) : entries, root);
  }

  /** Starts loading a parent tree (it never rejects: an unreadable one is warned about and reads as null). */
  private parentTree(treeId: string | undefined): ParentTree | undefined {
    if (!treeId) return undefined;
    const loaded = loadTree(this.repo, treeId).then(
      (tree) => ({ nodes: tree.nodes, byName: new Map(tree.nodes.map((n) => [n.name, n])) }),
      (err: unknown) => {
        this.warn(`parent tree ${treeId} unreadable, reading files again: ${(err as Error).message}`);
        return null;
      },
    );
    return { id: treeId, loaded };
  }

  /**
   * A directory above the source paths: only the named children, with the directory's own metadata.
   * These directories are the ones the configuration names: symlinks on the way are followed (the
   * source paths are read as the administrator wrote them); everything below is fd-relative.
   */
  private async archiveVirtual(dir: string, dirFd: number, trie: TrieNode, parentTreeId: string | undefined): Promise<string> {
    const parents = (await this.parentTree(parentTreeId)?.loaded)?.byName ?? new Map<string, TreeNode>();
    const nodes: TreeNode[] = [];
    for (const [name, child] of [...trie.children].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const path = join(dir, name);
      const parent = parents.get(name);
      if (child.volume) {
        nodes.push(await this.archiveVolume(child.volume, name));
        continue;
      }
      if (child.leaf) {
        const node = await this.archiveEntry(dirFd, dir, name, parent);
        if (node) nodes.push(node);
        continue;
      }
      const node = onlyVolumes(child) ? syntheticDirNode(name) : baseNode(name, 'dir', await lstat(path, { bigint: true }));
      const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
      try {
        node.subtree = await this.archiveVirtual(path, fd, child, parent?.type === 'dir' ? parent.subtree : undefined);
      } finally {
        closeSync(fd);
      }
      nodes.push(node);
    }
    return this.trees.save(nodes);
  }

  /**
   * The directory open as `dirFd` (logical path `dir`). Its other entries are read concurrently,
   * its subdirectories one after another: open directory fds stay at the depth plus the files read.
   */
  private async archiveDir(dir: string, dirFd: number, parentTree: ParentTree | undefined): Promise<string> {
    // read through our own fd (opened O_NOATIME); the entry types (d_type) only decide the order of
    // work, each entry is lstat'ed on its own
    const entries = readDirFd(dirFd, displayName(dir))
      .map((d) => {
        const name = fromBytes(d.name);
        return { name, isDir: d.isDir ?? isDirAt(dirFd, name) };
      })
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const parent = parentTree ? await parentTree.loaded : null;
    const parents = parent?.byName ?? new Map<string, TreeNode>();
    const dirNames = entries.filter((e) => e.isDir).map((e) => e.name);
    // the subdirectories' parent trees load ahead of the walk, a bounded window at a time
    const ahead: Array<ParentTree | undefined> = [];
    const prefetch = (upTo: number) => {
      for (let j = ahead.length; j < Math.min(dirNames.length, upTo); j++) {
        const p = parents.get(dirNames[j] as string);
        ahead.push(this.parentTree(p?.type === 'dir' ? p.subtree : undefined));
      }
    };
    prefetch(PARENT_PREFETCH);
    // --one-file-system: the entries must be on this directory's device
    const dev = this.opts.oneFileSystem ? fstatSync(dirFd, { bigint: true }).dev : undefined;
    const nodes = await mapLimit(
      entries.filter((e) => !e.isDir).map((e) => e.name),
      DIR_CONCURRENCY,
      (name) => this.archiveEntry(dirFd, dir, name, parents.get(name), dev),
    );
    for (let i = 0; i < dirNames.length; i++) {
      prefetch(i + PARENT_PREFETCH);
      const name = dirNames[i] as string;
      nodes.push(await this.archiveEntry(dirFd, dir, name, parents.get(name), dev, ahead[i] ?? null));
      ahead[i] = undefined;
    }
    return this.trees.save(
      nodes.filter((n): n is TreeNode => n !== undefined),
      parentTree && parent ? { id: parentTree.id, nodes: parent.nodes } : null,
    );
  }

  /**
   * One entry of the directory open as `dirFd`; an entry that changes type under us gets a second
   * look, then is not stored. `dev`: with --one-file-system, the device entries must be on.
   * `parentTree`: the subtree of a directory entry, already loading (null: none); undefined: loaded
   * here when needed.
   */
  private async archiveEntry(
    dirFd: number,
    dir: string,
    name: string,
    parent: TreeNode | undefined,
    dev?: bigint,
    parentTree?: ParentTree | null,
  ): Promise<TreeNode | undefined> {
    throwIfCancelled(this.opts.signal);
    const path = join(dir, name);
    if (this.skip.has(path)) {
      this.warn(`${displayName(path)}: skipped (it is the Cairn home)`);
      return undefined;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.archiveEntryOnce(dirFd, path, name, parent, dev, parentTree);
      } catch (err) {
        if (!swapped(err)) throw err;
        if (attempt >= SWAP_ATTEMPTS) return this.notStored(path, `it kept changing into another file while it was read (${(err as Error).message})`);
      }
    }
  }

  private async archiveEntryOnce(
    dirFd: number,
    path: string,
    name: string,
    parent: TreeNode | undefined,
    dev: bigint | undefined,
    parentTree: ParentTree | null | undefined,
  ): Promise<TreeNode | undefined> {
    const fsPath = at(dirFd, name);
    let st;
    try {
      // synchronous: on a warm cache a promise round trip costs far more than the stat itself
      st = lstatSync(fsPath, { bigint: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT')) {
        this.warn(`${displayName(path)}: vanished during backup`);
        return undefined;
      }
      throw err;
    }
    const type = nodeType(st);
    if (this.excluded(path, name, type === 'dir')) return undefined;
    if (!type) {
      this.warn(`${displayName(path)}: skipped: unknown file type`);
      return undefined;
    }
    const node = baseNode(name, type, st);
    if (dev !== undefined && st.dev !== dev) {
      // another file system (restic's --one-file-system): its mountpoint stays, as an empty directory
      if (type !== 'dir') return undefined;
      node.subtree = await this.trees.save([]);
      return node;
    }
    // setting or removing an xattr changes the ctime: an entry whose ctime did not move keeps its parent's
    const unchanged = sameInode(parent, node);
    const xattrs = unchanged ? parent.xattrs : xattrsOf(fsPath, displayName(path), (m) => this.warn(m));
    if (xattrs) node.xattrs = xattrs;
    this.progress.currentPath = path;
    try {
      switch (type) {
        case 'dir': {
          const { fd } = openDirNoFollow(fsPath, path, st);
          try {
            node.subtree = await this.archiveDir(
              path,
              fd,
              parentTree === undefined ? this.parentTree(parent?.type === 'dir' ? parent.subtree : undefined) : (parentTree ?? undefined),
            );
          } finally {
            closeSync(fd);
          }
          break;
        }
        case 'file':
          await this.archiveFile(fsPath, st, path, node, parent);
          break;
        case 'symlink': {
          // a symlink's target never changes (a new one is a new inode): an unchanged one is not read again
          if (unchanged && parent.target !== undefined) {
            node.target = parent.target;
            break;
          }
          // readlink fails with EINVAL if it is no longer a symlink; a symlink swapped for another is still one of this tree
          node.target = fromBytes(readlinkSync(fsPath, { encoding: 'buffer' }));
          // readlink updates the symlink's atime: record the atime after it, which the next backup sees too
          const after = lstatSync(fsPath, { bigint: true });
          if (!sameFile(after, st)) throw new SwappedError(displayName(path));
          node.atimeNs = after.atimeNs.toString();
          break;
        }
        case 'chardev':
        case 'blockdev':
          node.rdev = Number(st.rdev);
          break;
        default:
          break;
      }
    } catch (err) {
      if (isErrno(err, 'ENOENT')) {
        this.warn(`${displayName(path)}: vanished during backup`);
        return undefined;
      }
      if (isErrno(err, 'EACCES', 'EPERM', 'EIO')) {
        this.unreadable += 1;
        this.warn(`${displayName(path)}: cannot be read: ${(err as Error).message}`);
        return undefined;
      }
      throw err;
    }
    return node;
  }

  private async archiveFile(fsPath: Buffer, st: BigIntStats, path: string, node: TreeNode, parent: TreeNode | undefined): Promise<void> {
    if (unchangedSince(parent, node) && parent.content.every((id) => this.repo.index.has(id))) {
      node.content = parent.content;
      this.progress.filesReused += 1;
      this.progress.filesDone += 1;
      this.progress.bytesDone += node.size;
      return;
    }
    await this.files.with(1, async () => {
      const fd = openNoFollow(fsPath, path, st);
      try {
        const { ids, total } = await this.saver.saveFd(fd, node.size);
        node.content = ids;
        const after = fstatSync(fd, { bigint: true });
        if (total !== node.size || after.size !== BigInt(node.size) || after.mtimeNs.toString() !== node.mtimeNs || after.ctimeNs.toString() !== node.ctimeNs) {
          node.changedDuringBackup = true;
          node.size = total; // what the snapshot holds, so a restore is self-consistent
          this.warn(`${displayName(path)}: changed while it was read; the snapshot holds a possibly inconsistent copy`);
        }
      } finally {
        closeSync(fd);
      }
    });
    this.progress.filesRead += 1;
    this.progress.filesDone += 1;
  }
}

/** `entries`, stopped with the signal's reason before the next entry once it fires. */
async function* untilCancelled<T>(entries: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  for await (const e of entries) {
    throwIfCancelled(signal);
    yield e;
  }
}

/** The flags a file of a backed-up tree is opened with: never through a symlink, never blocking on a FIFO swapped in. */
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * Opens a regular file that lstat saw as `expect`, without following a symlink, and checks it is
 * that very file (device, inode, type); otherwise SwappedError. O_NOATIME where allowed.
 */
export function openNoFollow(fsPath: Buffer, shown: string, expect: BigIntStats): number {
  let fd: number;
  try {
    fd = openSync(fsPath, READ_FLAGS | constants.O_NOATIME);
  } catch (err) {
    if (!isErrno(err, 'EPERM')) throw err;
    fd = openSync(fsPath, READ_FLAGS);
  }
  try {
    if (!sameFile(fstatSync(fd, { bigint: true }), expect)) throw new SwappedError(shown);
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}
