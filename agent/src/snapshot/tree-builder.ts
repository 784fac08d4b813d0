// The one tree builder: a source's entries (snapshot/source-entry.ts), parents before children, in,
// the source root's node out, every file's bytes through the file saver and every directory's tree
// through the tree saver (both shared by all the sources of a backup, with their memory budgets).
//
// Two ways to close directories. Streamed (directories, standard input): entries come depth first,
// each directory's entries together, so a directory's tree is saved as soon as the walk leaves it
// and memory holds only the directories on the way down. Whole (volumes): a hardlink group's
// portable inode number and link count are known only at the end (SPEC 6.1), so every tree is
// saved then; a tar's entries need not be in tree order either.
//
// Files read from an open fd run in the background, FILE_CONCURRENCY at once, while the walk goes
// on; a stream (a tar entry) is read before the next entry, its blobs sealed in the background.
import { closeSync, fstatSync } from 'node:fs';
import type { Repository } from '../repo/repository.js';
import { displayName } from '../util/byte-names.js';
import { CairnError, throwIfCancelled } from '../util/errors.js';
import { SwappedError } from '../util/fd-at.js';
import { Semaphore } from '../util/semaphore.js';
import type { CachedFile, UnchangedFileCache } from './file-cache.js';
import type { FileSaver } from './file-saver.js';
import type { ArchiveProgress } from './progress.js';
import type { SourceEntry } from './source-entry.js';
import type { TreeSaver } from './tree-saver.js';
import type { TreeNode } from '../../../protocol/snapshot.js';

/** Files read from an fd at once. */
const FILE_CONCURRENCY = 8;

/** Leaves an entry out (and, a directory, everything below it) by its path below the source root. */
export type ExcludeFn = (rel: string, name: string, isDir: boolean) => boolean;

export interface TreeBuilderOptions {
  repo: Repository;
  files: FileSaver;
  trees: TreeSaver;
  progress: ArchiveProgress;
  warn: (m: string) => void;
  /** An entry that could not be stored (already warned): the backup ends with exit 3. */
  notStored: () => void;
  /** Names the source in errors about its entries. */
  where: string;
  /** Whole: trees are saved at the end, hardlink groups numbered with this `dev` (volumes). Else streamed. */
  hardlinkDev?: string;
  /** The root must be a directory (volumes). */
  rootIsDir?: boolean;
  /** Drops entries a producer could not leave out (a tar's), with everything below them. */
  excluded?: ExcludeFn;
  /** An unchanged-file cache keyed by the entries' `local` stat (volume mountpoints), kept by the caller's state. */
  cache?: { volume: string; files: UnchangedFileCache };
  /** Checked before each entry: a cancelled backup throws its reason. */
  signal?: AbortSignal;
}

interface Pending {
  node: TreeNode;
  rel: string;
  /** Directories: the kept entries below. */
  children?: Pending[];
  parentTree?: { id: string; nodes: TreeNode[] } | null;
  linkTo?: string;
  /** Its content could not be read (warned): left out of its directory's tree. */
  dropped?: boolean;
  /** Files read in the background: a directory's, awaited before its tree is saved; a root file's own, awaited at the end. */
  jobs?: Promise<void>[];
}

const parentOf = (rel: string) => {
  const slash = rel.lastIndexOf('/');
  return slash < 0 ? '' : rel.slice(0, slash);
};
const within = (dir: string, rel: string) => dir === '' || rel === dir || rel.startsWith(`${dir}/`);
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class TreeBuilder {
  /** Blob saves of streamed files still running: the next entry is read meanwhile (memory bounded by the saver's budget). */
  private readonly saves: Promise<void>[] = [];
  /** Entries kept and not yet in a saved tree, by path below the root. */
  private readonly seen = new Map<string, Pending>();
  /** Entries left out whose names matter to later ones: directories (all below goes too), and (whole) files, for their hardlinks. */
  private readonly dropped = new Set<string>();
  /** Streamed: the open directories, root first. */
  private readonly open: Pending[] = [];
  private readonly slots = new Semaphore(FILE_CONCURRENCY);
  /** The background file reads under way, settled before an error leaves the builder (each is also kept by its directory, which awaits it). */
  private readonly running = new Set<Promise<void>>();
  private readonly cacheOut: Array<[string, CachedFile]> = [];
  /** The last entry whose open file a background read took (it closes it). */
  private took: SourceEntry | undefined;
  /** Exact mtimes of the entries kept whose node holds a rounded one, by path below the root. */
  readonly preciseMtimes: Record<string, string> = {};

  constructor(private readonly o: TreeBuilderOptions) {}

  private get whole(): boolean {
    return this.o.hardlinkDev !== undefined;
  }

  /** The root's node (a directory's with its subtree, a file's with its content), or undefined when the root was left out. */
  async build(entries: AsyncIterable<SourceEntry>): Promise<TreeNode | undefined> {
    try {
      for await (const e of entries) {
        try {
          throwIfCancelled(this.o.signal);
          await this.add(e);
        } finally {
          // an open file the builder did not take (left out, or cancelled) is closed here
          if (e.content?.kind === 'fd' && this.took !== e) closeSync(e.content.fd);
        }
      }
      while (this.open.length > 0) await this.close(this.open.pop() as Pending);
      const root = this.seen.get('');
      await Promise.all(root?.jobs ?? []); // a root that is a file read in the background
      await Promise.all(this.saves);
      this.saves.length = 0;
      if (!root) {
        if (this.dropped.has('') || !this.o.rootIsDir) return undefined;
        throw new CairnError('E_VOLUME_ARCHIVE', `${this.o.where}: no entry for the volume's root`);
      }
      if (!this.whole) return root.dropped ? undefined : root.node;
      for (const p of this.seen.values()) await Promise.all(p.jobs ?? []);
      this.resolveHardlinks(this.o.hardlinkDev as string);
      return await this.saveWhole(root);
    } catch (err) {
      // nothing of the backup is still being written when the error leaves
      await Promise.allSettled([...this.running, ...this.saves]);
      throw err;
    }
  }

  private async add(e: SourceEntry): Promise<void> {
    const where = this.o.where;
    const isDir = e.node.type === 'dir';
    if (e.rel === '') {
      if (this.seen.size > 0 || this.dropped.has('')) throw new CairnError('E_VOLUME_ARCHIVE', `${where}: the volume's root appears twice`);
      if (this.o.rootIsDir && !isDir) throw new CairnError('E_VOLUME_ARCHIVE', `${where}: the volume's root is not a directory`);
      const root: Pending = { node: e.node, rel: '', ...(isDir ? { children: [], parentTree: e.parentTree ?? null } : {}) };
      if (!isDir && !(await this.file(root, e))) {
        this.dropped.add('');
        return;
      }
      this.seen.set('', root);
      if (isDir && !this.whole) this.open.push(root);
      this.notePrecise(e);
      return;
    }
    const parentRel = parentOf(e.rel);
    const base = e.rel.slice(e.rel.lastIndexOf('/') + 1);
    // streamed: the directories the walk has left are complete
    while (!this.whole && this.open.length > 0 && !within((this.open.at(-1) as Pending).rel, parentRel)) await this.close(this.open.pop() as Pending);
    if (this.dropped.has(parentRel)) {
      this.drop(e.rel, isDir);
      return;
    }
    const parent = this.seen.get(parentRel);
    if (!parent?.children) throw new CairnError('E_VOLUME_ARCHIVE', `${where}: ${e.rel} comes before its directory`);
    if (this.seen.has(e.rel)) throw new CairnError('E_VOLUME_ARCHIVE', `${where}: ${e.rel} appears twice`);
    if (this.o.excluded?.(e.rel, base, isDir)) {
      this.drop(e.rel, isDir);
      return;
    }
    this.o.progress.currentPath = e.path;
    const pending: Pending = { node: e.node, rel: e.rel, ...(isDir ? { children: [], parentTree: e.parentTree ?? null } : {}) };
    if (e.linkTo !== undefined) {
      if (this.dropped.has(e.linkTo)) {
        // its first name vanished while we read it: this name goes too (said, not silent)
        this.o.warn(`${e.path}: skipped: a hardlink of ${e.linkTo}, which vanished during backup`);
        this.drop(e.rel, isDir);
        return;
      }
      const first = this.seen.get(e.linkTo);
      if (!this.whole || !first || first.node.type !== 'file' || first.linkTo !== undefined) {
        throw new CairnError(
          'E_VOLUME_ARCHIVE',
          `${where}: hardlink ${e.rel} points to ${e.linkTo}, which is not an earlier (not excluded) file of the volume`,
        );
      }
      pending.linkTo = e.linkTo;
      // A further name of a file already read: never read again, counted as reused.
      this.o.progress.filesReused += 1;
      this.o.progress.filesDone += 1;
      this.o.progress.bytesDone += first.node.size;
    } else if (e.node.type === 'file' && !(await this.file(pending, e, parent))) {
      this.drop(e.rel, isDir);
      return;
    }
    parent.children.push(pending);
    this.seen.set(e.rel, pending);
    if (isDir && !this.whole) this.open.push(pending);
    this.notePrecise(e);
  }

  /** Leaves an entry out: a directory's name is kept (all below goes too), a file's only when hardlinks may name it (whole). */
  private drop(rel: string, isDir: boolean): void {
    if (isDir || this.whole) this.dropped.add(rel);
  }

  private notePrecise(e: SourceEntry): void {
    if (e.exactMtimeNs !== undefined && e.exactMtimeNs.toString() !== e.node.mtimeNs) this.preciseMtimes[e.rel] = e.exactMtimeNs.toString();
  }

  /** Writes the unchanged-file cache: call after the snapshot was committed. */
  async commitCache(): Promise<void> {
    if (!this.o.cache) return;
    await this.o.cache.files.replace(this.o.cache.volume, this.cacheOut);
  }

  private reused(node: TreeNode, ids: string[]): true {
    node.content = ids;
    this.o.progress.filesReused += 1;
    this.o.progress.filesDone += 1;
    this.o.progress.bytesDone += node.size;
    return true;
  }

  /**
   * A file's content into its node: known, from the cache, read from a stream now, or read from an
   * fd in the background (its job kept on `dir`, the directory it is in). False when it could not
   * be read (warned).
   */
  private async file(p: Pending, e: SourceEntry, dir?: Pending): Promise<boolean> {
    const node = p.node;
    const content = e.content;
    if (content?.kind === 'known') return this.reused(node, content.ids);
    const cache = this.o.cache;
    if (cache && e.local) {
      const c = await cache.files.get(cache.volume, e.rel);
      const l = e.local;
      if (
        c &&
        c.size === l.size &&
        c.mtimeNs === l.mtimeNs &&
        c.ctimeNs === l.ctimeNs &&
        c.inode === l.inode &&
        c.dev === l.dev &&
        c.content.every((id) => this.o.repo.index.has(id))
      ) {
        this.cacheOut.push([e.rel, c]);
        return this.reused(node, c.content);
      }
    }
    if (content?.kind === 'fd') {
      const got = await this.slots.acquire(1);
      this.took = e;
      const job: Promise<void> = this.readFd(p, e, content.fd).finally(() => {
        this.slots.release(got);
        this.running.delete(job);
      });
      job.catch(() => undefined); // seen by whoever awaits it: the directory's close, or the build's end (a root file)
      this.running.add(job);
      ((dir ?? p).jobs ??= []).push(job);
      return true;
    }
    let read: { ids: string[]; total: number };
    try {
      read = await this.o.files.saveStream(content ? content.read() : emptyData(), this.saves);
    } catch (err) {
      if (this.unreadable(err, e.path)) return false;
      throw err;
    }
    node.content = read.ids;
    if (content?.kind === 'stream' && !content.sized) node.size = read.total;
    else if (read.total !== node.size) this.changed(node, read.total, e.path);
    else if (cache && e.local) this.cacheOut.push([e.rel, { ...e.local, content: read.ids }]);
    this.o.progress.filesRead += 1;
    this.o.progress.filesDone += 1;
    return true;
  }

  /** Reads an open file (closed after); the node must still match its fstat after the read, or it is marked changed. */
  private async readFd(p: Pending, e: SourceEntry, fd: number): Promise<void> {
    const node = p.node;
    try {
      const { ids, total } = await this.o.files.saveFd(fd, node.size);
      node.content = ids;
      const after = fstatSync(fd, { bigint: true });
      if (total !== node.size || after.size !== BigInt(node.size) || after.mtimeNs.toString() !== node.mtimeNs || after.ctimeNs.toString() !== node.ctimeNs)
        this.changed(node, total, e.path);
    } catch (err) {
      if (this.unreadable(err, e.path)) {
        p.dropped = true;
        return;
      }
      throw err;
    } finally {
      closeSync(fd);
    }
    this.o.progress.filesRead += 1;
    this.o.progress.filesDone += 1;
  }

  private changed(node: TreeNode, total: number, path: string): void {
    node.changedDuringBackup = true;
    node.size = total; // what the snapshot holds, so a restore is self-consistent
    this.o.warn(`${displayName(path)}: changed while it was read; the snapshot holds a possibly inconsistent copy`);
  }

  /** A file whose content could not be read: warned (and, unless it vanished, counted as not stored); false for any other error. */
  private unreadable(err: unknown, path: string): boolean {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (err instanceof SwappedError) {
      this.o.warn(`${displayName(path)}: not stored: ${err.message}`);
      this.o.notStored();
      return true;
    }
    if (code === 'ENOENT') {
      this.o.warn(`${displayName(path)}: vanished during backup`);
      return true;
    }
    if (code === 'EACCES' || code === 'EPERM' || code === 'EIO') {
      this.o.notStored();
      this.o.warn(`${displayName(path)}: cannot be read: ${(err as Error).message}`);
      return true;
    }
    return false;
  }

  /** Streamed: a directory the walk has left: its files are read, its tree saved, its entries forgotten. */
  private async close(dir: Pending): Promise<void> {
    await Promise.all(dir.jobs ?? []);
    dir.jobs = undefined;
    const kept = (dir.children ?? []).filter((c) => !c.dropped);
    for (const c of dir.children ?? []) this.seen.delete(c.rel);
    dir.node.subtree = await this.o.trees.save(
      kept.map((c) => c.node),
      dir.parentTree,
    );
    dir.children = [];
    // its node stays in its directory's list until that one closes; its parent tree is not needed any more
    dir.parentTree = undefined;
  }

  /**
   * Whole: hardlink groups get inode numbers 1, 2, ... in tree order (depth first, names sorted),
   * nlink = names in the source, and `dev`: groups of two volumes in one snapshot never meet.
   */
  private resolveHardlinks(dev: string): void {
    const groups = new Map<string, string[]>();
    for (const [rel, p] of this.seen) if (p.linkTo !== undefined) groups.set(p.linkTo, [...(groups.get(p.linkTo) ?? [p.linkTo]), rel]);
    if (groups.size === 0) return;
    const firstOf = new Map<string, string>();
    for (const [first, members] of groups) for (const m of members) firstOf.set(m, first);
    let next = 1;
    const visit = (p: Pending): void => {
      for (const child of [...(p.children ?? [])].sort((a, b) => byName(a.rel, b.rel))) {
        const first = firstOf.get(child.rel);
        if (first !== undefined) {
          const node = (this.seen.get(first) as Pending).node;
          if (node.inode === '0') {
            node.inode = String(next++);
            node.dev = dev;
            node.nlink = (groups.get(first) as string[]).length;
          }
        }
        visit(child);
      }
    };
    visit(this.seen.get('') as Pending);
    // A link is the first name's node under its own name (one inode: the same metadata and content).
    for (const p of this.seen.values()) {
      if (p.linkTo === undefined) continue;
      p.node = { ...(this.seen.get(p.linkTo) as Pending).node, name: p.node.name };
    }
  }

  private async saveWhole(p: Pending): Promise<TreeNode> {
    const nodes: TreeNode[] = [];
    for (const child of (p.children ?? []).filter((c) => !c.dropped)) nodes.push(child.node.type === 'dir' ? await this.saveWhole(child) : child.node);
    p.node.subtree = await this.o.trees.save(nodes);
    return p.node;
  }
}

async function* emptyData(): AsyncGenerator<Uint8Array> {
  // a file without data: nothing to yield
}
