// Docker volumes as trees in the portable volume profile (SPEC 6.1). A volume is read either through
// its mountpoint (mountpointEntries) or as a tar streamed by the engine from a helper container
// (sources/volume-helper.ts); both produce the same stream of VolumeEntry values, which
// VolumeTreeBuilder hands to the one tree builder (snapshot/tree-builder.ts) as source entries. Only what a Docker archive can carry is recorded:
// mtime in whole seconds, no atime/ctime, no xattrs, synthetic inode/dev/nlink numbers for hardlink
// groups. So both read paths give equal tree IDs, and dedup and parents work across them.
//
// Unchanged-file skipping on the mountpoint path cannot use the tree (it holds no ctime or real
// inode): a local cache (an UnchangedFileCache passed in, snapshot/file-cache.ts; the state keeps it in
// sublevel `volumeFiles`, SPEC 8) maps volume+path to the full stat and the content IDs. The helper path reads every byte again and relies on dedup.
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, lstatSync, openSync, readlinkSync, readSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import type { Repository } from '../repo/repository.js';
import { displayName, fromBytes } from '../util/byte-names.js';
import { CairnError } from '../util/errors.js';
import { at, openDirNoFollow, requireProcFd, sameFile, SwappedError } from '../util/fd-at.js';
import { readDirFd } from '../util/posix.js';
import type { UnchangedFileCache } from './file-cache.js';
import { FileSaver } from './file-saver.js';
import { nodeType } from './node-meta.js';
import type { ArchiveProgress } from './progress.js';
import type { SourceEntry } from './source-entry.js';
import { TreeBuilder, type ExcludeFn } from './tree-builder.js';
import { TreeSaver } from './tree-saver.js';
import type { NodeType, TreeNode } from '../../../protocol/snapshot.js';

/** One entry of a volume, in either read path. */
export interface VolumeEntry {
  /** Below the volume root, '/'-separated; '' is the root itself. */
  rel: string;
  /** 'link': a hardlink to the earlier entry `linkTo`. */
  type: NodeType | 'link';
  mode: number;
  uid: number;
  gid: number;
  /** Whole seconds since the epoch (floored). */
  mtimeSec: bigint;
  size: number;
  target?: string;
  linkTo?: string;
  rdev?: number;
  /** Files: the content, read at most once (not at all when the cache has it). */
  data?: () => AsyncIterable<Uint8Array>;
  /** Mountpoint path only: the full stat, for the local file cache. */
  local?: CachedStat;
  /** Mountpoint path only: the exact mtime (the tree keeps whole seconds). */
  mtimeNs?: bigint;
}

interface CachedStat {
  size: number;
  mtimeNs: string;
  ctimeNs: string;
  inode: string;
  dev: string;
}

const READ_BYTES = 1024 * 1024;

/** A directory node above volumes, the same for every read path: 0755 root:root, mtime 0. */
export function syntheticDirNode(name: string): TreeNode {
  return { name, type: 'dir', mode: 0o755, uid: 0, gid: 0, mtimeNs: '0', inode: '0', dev: '0', nlink: 1, size: 0 };
}

export type { ExcludeFn };

/**
 * The entries below a readable mountpoint, sorted like tree nodes, hardlinks as 'link' entries.
 * Every entry is reached relative to its directory's open fd, never through a symlink, and files
 * and directories must be the objects their lstat saw (as in the archiver; util/fd-at.ts). An entry
 * that changed into another file under us is not stored: warned, and `notStored` is called.
 */
export async function* mountpointEntries(
  root: string,
  opts: { excluded?: ExcludeFn; skip?: Set<string>; warn: (m: string) => void; notStored?: () => void },
): AsyncGenerator<VolumeEntry> {
  requireProcFd();
  const firstOf = new Map<string, string>();
  const entryOf = (
    rel: string,
    fsPath: string | Buffer,
    path: string,
    dirFd: number | undefined,
    name: string,
  ): { e: VolumeEntry; st: BigIntStats } | undefined => {
    const st = lstatSync(fsPath, { bigint: true });
    const type = nodeType(st);
    if (rel !== '' && opts.excluded?.(rel, rel.slice(rel.lastIndexOf('/') + 1), type === 'dir')) return undefined;
    if (!type || type === 'socket') {
      opts.warn(`${displayName(path)}: skipped: ${type ?? 'unknown file type'} (a Docker archive cannot carry it)`);
      return undefined;
    }
    const e: VolumeEntry = {
      rel,
      type,
      mode: Number(st.mode & 0o7777n),
      uid: Number(st.uid),
      gid: Number(st.gid),
      mtimeSec: floorDiv(st.mtimeNs, 1_000_000_000n),
      mtimeNs: st.mtimeNs,
      size: type === 'file' ? Number(st.size) : 0,
    };
    if (type === 'chardev' || type === 'blockdev') e.rdev = Number(st.rdev);
    if (type === 'file') {
      if (st.nlink > 1n) {
        const key = `${st.dev}:${st.ino}`;
        const first = firstOf.get(key);
        if (first !== undefined) return { e: { ...e, type: 'link', linkTo: first, size: 0 }, st };
        firstOf.set(key, rel);
      }
      e.local = { size: e.size, mtimeNs: st.mtimeNs.toString(), ctimeNs: st.ctimeNs.toString(), inode: st.ino.toString(), dev: st.dev.toString() };
      // read while the walk waits at this entry: its directory fd is still open
      if (dirFd !== undefined) e.data = () => readFileChunks(at(dirFd, name), path, st, e.size);
    }
    return { e, st };
  };
  const rootLook = entryOf('', root, root, undefined, '');
  if (!rootLook || rootLook.e.type !== 'dir') throw new CairnError('E_SOURCE', `${root} is not a directory`);
  // the mountpoint itself is named by Docker; everything below it is fd-relative
  const rootFd = openDirNoFollow(root, root, rootLook.st).fd;
  async function* walk(dirFd: number, dir: string, rel: string): AsyncGenerator<VolumeEntry> {
    let names: string[];
    try {
      // through our own fd (opened O_NOATIME): reading it leaves the directory's atime alone
      names = readDirFd(dirFd, displayName(dir))
        .map((d) => fromBytes(d.name))
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    } catch (err) {
      // a live database removes directories while we walk: the directory stays, empty, with a warning
      if (rel === '' || (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      opts.warn(`${displayName(dir)}: vanished during backup (kept as an empty directory)`);
      return;
    }
    if (rel !== '' && fstatSync(dirFd, { bigint: true }).nlink === 0n) {
      // removed after we opened it: what it held is gone
      opts.warn(`${displayName(dir)}: vanished during backup (kept as an empty directory)`);
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      if (opts.skip?.has(path)) {
        opts.warn(`${displayName(path)}: skipped (it is the Cairn home)`);
        continue;
      }
      let look: { e: VolumeEntry; st: BigIntStats } | undefined;
      let childFd: number | undefined;
      try {
        look = entryOf(r, at(dirFd, name), path, dirFd, name);
        if (look?.e.type === 'symlink') look.e.target = fromBytes(readlinkSync(at(dirFd, name), { encoding: 'buffer' }));
        if (look?.e.type === 'dir') childFd = openDirNoFollow(at(dirFd, name), path, look.st).fd;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          opts.warn(`${displayName(path)}: vanished during backup`);
          continue;
        }
        if (err instanceof SwappedError || ['ELOOP', 'ENOTDIR', 'EINVAL'].includes((err as NodeJS.ErrnoException).code ?? '')) {
          opts.warn(`${displayName(path)}: not stored: it changed into another file while it was read (${(err as Error).message})`);
          opts.notStored?.();
          continue;
        }
        throw err;
      }
      if (!look) continue;
      try {
        yield look.e;
        if (childFd !== undefined) yield* walk(childFd, path, r);
      } finally {
        if (childFd !== undefined) closeSync(childFd);
      }
    }
  }
  try {
    yield rootLook.e;
    yield* walk(rootFd, root, '');
  } finally {
    closeSync(rootFd);
  }
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

/** A file's content, opened without following a symlink and checked to be the file lstat saw. */
async function* readFileChunks(fsPath: Buffer, path: string, expect: BigIntStats, size: number): AsyncGenerator<Uint8Array> {
  // Small files: a buffer of their size (+1 to see growth), not a whole READ_BYTES.
  const bytes = Math.min(READ_BYTES, Math.max(size + 1, 4096));
  const flags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  let fd: number;
  try {
    fd = openSync(fsPath, flags | constants.O_NOATIME);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP' || (err as NodeJS.ErrnoException).code === 'ENXIO') throw new SwappedError(path);
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    fd = openSync(fsPath, flags);
  }
  try {
    if (!sameFile(fstatSync(fd, { bigint: true }), expect)) throw new SwappedError(path);
    for (;;) {
      const buf = Buffer.allocUnsafe(bytes);
      const n = readSync(fd, buf, 0, bytes, null);
      if (n === 0) return;
      yield buf.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Builds the trees of one volume from its entries and returns the node of the volume's root
 * directory (named `name`): the volume entries as source entries (portable nodes) into the one tree
 * builder, whole (hardlink groups numbered at the end). Progress and added bytes go to the
 * archiver's counters.
 */
export class VolumeTreeBuilder {
  private builder: TreeBuilder | undefined;
  /** Exact mtimes of the entries kept whose mtime is not a whole second (mountpoint path), by path below the volume. */
  readonly preciseMtimes: Record<string, string> = {};

  constructor(
    private readonly repo: Repository,
    private readonly progress: ArchiveProgress,
    private readonly warn: (m: string) => void,
    /** An entry that could not be stored (already warned): the backup ends with exit 3. */
    private readonly notStored: () => void,
    /** Volume name and its mountpoint path's unchanged-file cache (kept by the caller's state). */
    private readonly cache?: { volume: string; files: UnchangedFileCache },
    /** Drops entries (and what is below excluded directories), the same for both read paths. */
    private readonly excluded?: ExcludeFn,
    /** Where file contents and trees go: the archiver's savers (shared with its directories), else savers of its own. */
    private readonly out: { files: FileSaver; trees: TreeSaver } = { files: new FileSaver(repo, progress), trees: new TreeSaver(repo, progress) },
  ) {}

  async build(name: string, entries: AsyncIterable<VolumeEntry>, where: string): Promise<TreeNode> {
    if (this.builder) throw new CairnError('E_INTERNAL', `${where}: a volume tree builder builds one volume`);
    const builder = new TreeBuilder({
      repo: this.repo,
      files: this.out.files,
      trees: this.out.trees,
      progress: this.progress,
      warn: this.warn,
      notStored: this.notStored,
      where,
      hardlinkDev: volumeDev(where),
      rootIsDir: true,
      ...(this.excluded ? { excluded: this.excluded } : {}),
      ...(this.cache ? { cache: this.cache } : {}),
    });
    this.builder = builder;
    try {
      return (await builder.build(sourceEntries(entries, name, where))) as TreeNode;
    } finally {
      Object.assign(this.preciseMtimes, builder.preciseMtimes);
    }
  }

  /** Writes the mountpoint path's file cache: call after the snapshot was committed. */
  async commitCache(): Promise<void> {
    await this.builder?.commitCache();
  }
}

/** Volume entries as source entries: the portable node (the root named `name`), the content as a stream of the announced size. */
async function* sourceEntries(entries: AsyncIterable<VolumeEntry>, name: string, where: string): AsyncGenerator<SourceEntry> {
  for await (const e of entries) {
    const node = portableNode(e.rel === '' ? name : e.rel.slice(e.rel.lastIndexOf('/') + 1), e);
    const out: SourceEntry = { rel: e.rel, path: `${where}/${e.rel}`, node };
    if (e.type === 'link') out.linkTo = e.linkTo ?? '';
    else if (e.type === 'file') out.content = { kind: 'stream', read: e.data ?? emptyData, sized: true };
    if (e.mtimeNs !== undefined) out.exactMtimeNs = e.mtimeNs;
    if (e.local) out.local = e.local;
    yield out;
  }
}

/** The `dev` of a volume's hardlink groups: the first 48 bits of SHA-256 of its path in the snapshot, decimal. */
export function volumeDev(path: string): string {
  return BigInt(`0x${createHash('sha256').update(path).digest('hex').slice(0, 12)}`).toString();
}

async function* emptyData(): AsyncGenerator<Uint8Array> {
  // a file without data: nothing to yield
}

/** The portable node of an entry: field order fixed so equal entries encode to equal bytes. */
function portableNode(name: string, e: VolumeEntry): TreeNode {
  const type: NodeType = e.type === 'link' ? 'file' : e.type;
  const node: TreeNode = {
    name,
    type,
    mode: e.mode & 0o7777,
    uid: e.uid,
    gid: e.gid,
    mtimeNs: (e.mtimeSec * 1_000_000_000n).toString(),
    inode: '0',
    dev: '0',
    nlink: 1,
    size: type === 'file' ? e.size : 0,
  };
  if (type === 'symlink') node.target = e.target ?? '';
  if (type === 'chardev' || type === 'blockdev') node.rdev = e.rdev ?? 0;
  return node;
}
