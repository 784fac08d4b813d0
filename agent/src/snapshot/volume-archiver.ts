// Docker volumes as trees in the portable volume profile (SPEC 6.1). A volume is read either through
// its mountpoint (mountpointEntries) or as a tar streamed by the engine from a helper container
// (sources/volume-helper.ts); both produce the same stream of VolumeEntry values, and
// VolumeTreeBuilder turns that stream into trees. Only what a Docker archive can carry is recorded:
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
import type { CachedFile, UnchangedFileCache } from './file-cache.js';
import { FileSaver } from './file-saver.js';
import { nodeType } from './node-meta.js';
import type { ArchiveProgress } from './progress.js';
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

export type ExcludeFn = (rel: string, name: string, isDir: boolean) => boolean;

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

interface Pending {
  node: TreeNode;
  /** Directories: names of the children. */
  children?: string[];
  linkTo?: string;
}

/**
 * Builds the trees of one volume from its entries and returns the node of the volume's root
 * directory (named `name`). Progress and added bytes go to the archiver's counters.
 */
export class VolumeTreeBuilder {
  /** Blob saves still running: the next file is read meanwhile (memory bounded by the saver's budget). */
  private readonly saves: Promise<void>[] = [];
  private readonly seen = new Map<string, Pending>();
  private readonly cacheOut: Array<[string, CachedFile]> = [];
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
    const dropped = new Set<string>();
    for await (const e of entries) {
      if (e.rel === '') {
        if (this.seen.size > 0) throw new CairnError('E_VOLUME_ARCHIVE', `${where}: the volume's root appears twice`);
        if (e.type !== 'dir') throw new CairnError('E_VOLUME_ARCHIVE', `${where}: the volume's root is not a directory`);
        this.seen.set('', { node: portableNode(name, e), children: [] });
        this.notePrecise(e);
        continue;
      }
      const slash = e.rel.lastIndexOf('/');
      const parentRel = slash < 0 ? '' : e.rel.slice(0, slash);
      const base = e.rel.slice(slash + 1);
      if (dropped.has(parentRel)) {
        dropped.add(e.rel);
        continue;
      }
      const parent = this.seen.get(parentRel);
      if (!parent?.children) throw new CairnError('E_VOLUME_ARCHIVE', `${where}: ${e.rel} comes before its directory`);
      if (this.seen.has(e.rel)) throw new CairnError('E_VOLUME_ARCHIVE', `${where}: ${e.rel} appears twice`);
      const isDir = e.type === 'dir';
      if (this.excluded?.(e.rel, base, isDir)) {
        dropped.add(e.rel);
        continue;
      }
      this.progress.currentPath = `${where}/${e.rel}`;
      const pending: Pending = { node: portableNode(base, e) };
      if (isDir) pending.children = [];
      if (e.type === 'link' && dropped.has(e.linkTo ?? '')) {
        // its first name vanished while we read it: this name goes too (said, not silent)
        this.warn(`${where}/${e.rel}: skipped: a hardlink of ${e.linkTo ?? '?'}, which vanished during backup`);
        dropped.add(e.rel);
        continue;
      }
      if (e.type === 'link') {
        const first = this.seen.get(e.linkTo ?? '');
        if (!first || first.node.type !== 'file' || first.linkTo !== undefined) {
          throw new CairnError(
            'E_VOLUME_ARCHIVE',
            `${where}: hardlink ${e.rel} points to ${e.linkTo ?? '?'}, which is not an earlier (not excluded) file of the volume`,
          );
        }
        pending.linkTo = e.linkTo as string;
        // A further name of a file already read: never read again, counted as reused.
        this.progress.filesReused += 1;
        this.progress.filesDone += 1;
        this.progress.bytesDone += first.node.size;
      } else if (e.type === 'file' && !(await this.file(pending.node, e, `${where}/${e.rel}`))) {
        dropped.add(e.rel);
        continue;
      }
      parent.children.push(base);
      this.seen.set(e.rel, pending);
      this.notePrecise(e);
    }
    await Promise.all(this.saves);
    this.saves.length = 0;
    if (!this.seen.has('')) throw new CairnError('E_VOLUME_ARCHIVE', `${where}: no entry for the volume's root`);
    this.resolveHardlinks(volumeDev(where));
    return this.save('');
  }

  private notePrecise(e: VolumeEntry): void {
    if (e.mtimeNs !== undefined && e.mtimeNs !== e.mtimeSec * 1_000_000_000n) this.preciseMtimes[e.rel] = e.mtimeNs.toString();
  }

  /** Writes the mountpoint path's file cache: call after the snapshot was committed. */
  async commitCache(): Promise<void> {
    if (!this.cache) return;
    await this.cache.files.replace(this.cache.volume, this.cacheOut);
  }

  /** Reads a file's content into `node`; false when the file vanished before it could be opened (warned). */
  private async file(node: TreeNode, e: VolumeEntry, path: string): Promise<boolean> {
    if (this.cache && e.local) {
      const c = await this.cache.files.get(this.cache.volume, e.rel);
      const l = e.local;
      if (
        c &&
        c.size === l.size &&
        c.mtimeNs === l.mtimeNs &&
        c.ctimeNs === l.ctimeNs &&
        c.inode === l.inode &&
        c.dev === l.dev &&
        c.content.every((id) => this.repo.index.has(id))
      ) {
        node.content = c.content;
        this.cacheOut.push([e.rel, c]);
        this.progress.filesReused += 1;
        this.progress.filesDone += 1;
        this.progress.bytesDone += node.size;
        return true;
      }
    }
    let read: { ids: string[]; total: number };
    try {
      read = await this.out.files.saveStream(e.data ? e.data() : emptyData(), this.saves);
    } catch (err) {
      if (err instanceof SwappedError) {
        this.warn(`${displayName(path)}: not stored: ${err.message}`);
        this.notStored();
        return false;
      }
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.warn(`${displayName(path)}: vanished during backup`);
      return false;
    }
    const { ids, total } = read;
    node.content = ids;
    if (total !== node.size) {
      node.changedDuringBackup = true;
      node.size = total;
      this.warn(`${path}: changed while it was read; the snapshot holds a possibly inconsistent copy`);
    } else if (this.cache && e.local) this.cacheOut.push([e.rel, { ...e.local, content: ids }]);
    this.progress.filesRead += 1;
    this.progress.filesDone += 1;
    return true;
  }

  /**
   * Hardlink groups get inode numbers 1, 2, ... in tree order (depth first, names sorted), nlink =
   * names in the volume, and `dev` (the volume's path number): groups of two volumes in one snapshot never meet.
   */
  private resolveHardlinks(dev: string): void {
    const groups = new Map<string, string[]>();
    for (const [rel, p] of this.seen) if (p.linkTo !== undefined) groups.set(p.linkTo, [...(groups.get(p.linkTo) ?? [p.linkTo]), rel]);
    if (groups.size === 0) return;
    const firstOf = new Map<string, string>();
    for (const [first, members] of groups) for (const m of members) firstOf.set(m, first);
    let next = 1;
    const visit = (rel: string): void => {
      const p = this.seen.get(rel) as Pending;
      for (const name of [...(p.children ?? [])].sort(byName)) {
        const r = rel ? `${rel}/${name}` : name;
        const first = firstOf.get(r);
        if (first !== undefined) {
          const node = (this.seen.get(first) as Pending).node;
          if (node.inode === '0') {
            node.inode = String(next++);
            node.dev = dev;
            node.nlink = (groups.get(first) as string[]).length;
          }
        }
        visit(r);
      }
    };
    visit('');
    // A link is the first name's node under its own name (one inode: the same metadata and content).
    for (const [rel, p] of this.seen) {
      if (p.linkTo === undefined) continue;
      p.node = { ...(this.seen.get(p.linkTo) as Pending).node, name: rel.slice(rel.lastIndexOf('/') + 1) };
    }
  }

  private async save(rel: string): Promise<TreeNode> {
    const p = this.seen.get(rel) as Pending;
    const nodes: TreeNode[] = [];
    for (const name of p.children ?? []) {
      const r = rel ? `${rel}/${name}` : name;
      const child = this.seen.get(r) as Pending;
      nodes.push(child.node.type === 'dir' ? await this.save(r) : child.node);
    }
    p.node.subtree = await this.out.trees.save(nodes);
    return p.node;
  }
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

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
