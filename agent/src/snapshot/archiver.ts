// The archiver: one backup of source paths and volumes, then its snapshot. Each source path is a
// directory walk (snapshot/directory-entries.ts) and each volume a stream of volume entries
// (snapshot/volume-archiver.ts); both are producers of source entries for the one tree builder
// (snapshot/tree-builder.ts), which stores every file through the one file saver and every tree
// through the one tree saver below. Directories above the source paths are recorded here, with only
// the named children. Files unchanged since the parent snapshot (same size, mtime, ctime, inode)
// are not read again; a file that changes while it is read is recorded with `changedDuringBackup`
// and a warning; an entry that could not be stored is counted (`unreadable`: the backup ends with exit 3).
import { closeSync, constants, openSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, parse, resolve, sep } from 'node:path';
import { BlobType } from '../repo/blob.js';
import type { Repository } from '../repo/repository.js';
import type { Clock } from '../util/clock.js';
import { throwIfCancelled, UsageError } from '../util/errors.js';
import { openDirNoFollow, requireProcFd } from '../util/fd-at.js';
import { DirectoryWalk } from './directory-entries.js';
import { baseNode } from './node-meta.js';
import type { UnchangedFileCache } from './file-cache.js';
import { FileSaver, type StoreBlob } from './file-saver.js';
import type { ArchiveProgress } from './progress.js';
import { TreeBuilder } from './tree-builder.js';
import { TreeSaver } from './tree-saver.js';
import { syntheticDirNode, VolumeTreeBuilder, type ExcludeFn, type VolumeEntry } from './volume-archiver.js';
import { SNAPSHOT_VERSION, type Snapshot, type SnapshotMeta, type TreeNode } from '../../../protocol/snapshot.js';
import { excludedBy } from './path-glob.js';

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

export class Archiver {
  readonly progress: ArchiveProgress = { filesDone: 0, bytesDone: 0, filesRead: 0, filesReused: 0, dirs: 0, addedBytes: 0, currentPath: '' };
  readonly warnings: string[] = [];
  /** Entries skipped because they could not be read (permissions, I/O errors). */
  unreadable = 0;
  private readonly repo: Repository;
  private readonly opts: ArchiveOptions;
  /** The directories' producer of source entries. */
  private readonly walk: DirectoryWalk;
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
    this.walk = new DirectoryWalk(repo, {
      excluded: (path, name, isDir) => this.excluded(path, name, isDir),
      skip: new Set((opts.skip ?? []).map((p) => resolve(p))),
      oneFileSystem: opts.oneFileSystem === true,
      warn: (m) => this.warn(m),
      notStored: () => (this.unreadable += 1),
    });
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
      treeId = trie.leaf
        ? ((await this.builder(root).build(this.walk.directory(rootFd, root, this.walk.parentTree(parentRoot))))?.subtree as string)
        : await this.archiveVirtual(root, rootFd, trie, parentRoot);
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

  /**
   * A directory above the source paths: only the named children, with the directory's own metadata.
   * These directories are the ones the configuration names: symlinks on the way are followed (the
   * source paths are read as the administrator wrote them); everything below is fd-relative.
   */
  private async archiveVirtual(dir: string, dirFd: number, trie: TrieNode, parentTreeId: string | undefined): Promise<string> {
    const parents = (await this.walk.parentTree(parentTreeId)?.loaded)?.byName ?? new Map<string, TreeNode>();
    const nodes: TreeNode[] = [];
    for (const [name, child] of [...trie.children].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const path = join(dir, name);
      const parent = parents.get(name);
      if (child.volume) {
        nodes.push(await this.archiveVolume(child.volume, name));
        continue;
      }
      if (child.leaf) {
        const node = await this.builder(path).build(this.walk.entry(dirFd, dir, name, parent));
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

  /** The one tree builder over a source path's entries (a directory walk's, streamed). */
  private builder(where: string): TreeBuilder {
    return new TreeBuilder({
      repo: this.repo,
      files: this.saver,
      trees: this.trees,
      progress: this.progress,
      warn: (m) => this.warn(m),
      notStored: () => (this.unreadable += 1),
      where,
      ...(this.opts.signal ? { signal: this.opts.signal } : {}),
    });
  }
}

/** `entries`, stopped with the signal's reason before the next entry once it fires. */
async function* untilCancelled<T>(entries: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  for await (const e of entries) {
    throwIfCancelled(signal);
    yield e;
  }
}

export { openNoFollow } from './directory-entries.js';
