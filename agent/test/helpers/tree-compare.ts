// Compares two directory trees entry by entry (lstat, never following symlinks) and reports every
// difference a faithful backup/restore must not introduce: missing or extra entries, type, mode
// (including set-id and sticky bits), owner, size, nanosecond mtime (symlinks and directories
// too), file content, symlink target, device number, extended attributes and hardlink groups.
// Not compared: atime, ctime, inode numbers, directory sizes. With mtimeSeconds, mtimes to the second.
// Names and symlink targets are compared as bytes (paths are strings made by fromBytes).
import type { BigIntStats } from 'node:fs';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fromBytes, toBytes } from '../../src/util/byte-names.js';
import { readXattrs } from '../../src/util/posix.js';

export type DiffKind =
  'missing' | 'extra' | 'type' | 'mode' | 'uid' | 'gid' | 'size' | 'mtime' | 'content' | 'symlink-target' | 'rdev' | 'xattr' | 'hardlink' | 'not-sparse';

export interface TreeDiff {
  /** Relative to the compared roots, '/'-separated; '.' is the root itself. */
  path: string;
  kind: DiffKind;
  expected: string;
  actual: string;
}

export interface CompareOptions {
  /** Relative paths whose mtime is not compared. */
  ignoreMtime?: string[];
  /** Compare mtimes to the second only (the portable volume profile keeps whole seconds, SPEC 6.1). */
  mtimeSeconds?: boolean;
  /** Relative paths that must be sparse in the actual tree: allocated bytes at most `sparseMaxFraction` of the size. */
  sparse?: string[];
  /** Default 1/16. */
  sparseMaxFraction?: number;
}

export type EntryType = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'chardev' | 'blockdev' | 'unknown';

export function entryType(st: BigIntStats): EntryType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'chardev';
  if (st.isBlockDevice()) return 'blockdev';
  return 'unknown';
}

const BLOCK = 1024 * 1024;

/** First offset at which two files of equal size differ, or -1 when the contents are equal. */
export async function firstContentDifference(a: string, b: string): Promise<number> {
  const fa = await open(toBytes(a), 'r');
  try {
    const fb = await open(toBytes(b), 'r');
    try {
      const size = Number((await fa.stat()).size);
      const ba = Buffer.allocUnsafe(Math.max(1, Math.min(BLOCK, size + 1)));
      const bb = Buffer.allocUnsafe(ba.length);
      let pos = 0;
      for (;;) {
        const [ra, rb] = await Promise.all([readFull(fa, ba, pos), readFull(fb, bb, pos)]);
        const n = Math.min(ra, rb);
        if (ba.subarray(0, n).compare(bb.subarray(0, n)) !== 0) {
          for (let i = 0; i < n; i++) if (ba[i] !== bb[i]) return pos + i;
        }
        if (ra !== rb) return pos + n;
        if (ra === 0) return -1;
        pos += ra;
      }
    } finally {
      await fb.close();
    }
  } finally {
    await fa.close();
  }
}

async function readFull(fh: Awaited<ReturnType<typeof open>>, buf: Buffer, pos: number): Promise<number> {
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, pos + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

function fmtMode(m: bigint): string {
  return `0${(m & 0o7777n).toString(8).padStart(4, '0')}`;
}

function fmtNs(ns: bigint): string {
  return ns.toString();
}

function fmtXattr(v: Buffer | undefined): string {
  if (v === undefined) return '(absent)';
  return `hex:${v.toString('hex')}`;
}

interface Side {
  /** inode key -> relative paths (non-directories only) */
  byInode: Map<string, string[]>;
  inodeOf: Map<string, string>;
}

function newSide(): Side {
  return { byInode: new Map(), inodeOf: new Map() };
}

function note(side: Side, rel: string, st: BigIntStats): void {
  const key = `${st.dev}:${st.ino}`;
  side.inodeOf.set(rel, key);
  const list = side.byInode.get(key);
  if (list) list.push(rel);
  else side.byInode.set(key, [rel]);
}

function joinRel(parent: string, name: string): string {
  return parent === '.' ? name : `${parent}/${name}`;
}

/** Every difference between the tree at `expectedRoot` and the one at `actualRoot`. */
export async function compareTrees(expectedRoot: string, actualRoot: string, opts: CompareOptions = {}): Promise<TreeDiff[]> {
  const diffs: TreeDiff[] = [];
  const ignoreMtime = new Set(opts.ignoreMtime ?? []);
  const sparse = new Set(opts.sparse ?? []);
  const sparseMaxFraction = opts.sparseMaxFraction ?? 1 / 16;
  const exp = newSide();
  const act = newSide();
  const add = (path: string, kind: DiffKind, expected: string, actual: string): void => {
    diffs.push({ path, kind, expected, actual });
  };

  const visit = async (rel: string, ePath: string, aPath: string): Promise<void> => {
    const [es, as] = await Promise.all([lstatOrUndefined(ePath), lstatOrUndefined(aPath)]);
    if (!es && !as) throw new Error(`compareTrees: neither ${ePath} nor ${aPath} exists`);
    if (!es) return add(rel, 'extra', '(absent)', entryType(as as BigIntStats));
    if (!as) return add(rel, 'missing', entryType(es), '(absent)');
    const et = entryType(es);
    const at = entryType(as);
    if (et !== at) return add(rel, 'type', et, at);

    if (et !== 'dir') {
      note(exp, rel, es);
      note(act, rel, as);
    }
    if ((es.mode & 0o7777n) !== (as.mode & 0o7777n)) add(rel, 'mode', fmtMode(es.mode), fmtMode(as.mode));
    if (es.uid !== as.uid) add(rel, 'uid', String(es.uid), String(as.uid));
    if (es.gid !== as.gid) add(rel, 'gid', String(es.gid), String(as.gid));
    const sec = (ns: bigint) => (opts.mtimeSeconds ? ns / 1_000_000_000n : ns);
    if (!ignoreMtime.has(rel) && sec(es.mtimeNs) !== sec(as.mtimeNs)) add(rel, 'mtime', fmtNs(es.mtimeNs), fmtNs(as.mtimeNs));
    if ((et === 'chardev' || et === 'blockdev') && es.rdev !== as.rdev) add(rel, 'rdev', String(es.rdev), String(as.rdev));

    const [ex, ax] = [readXattrs(toBytes(ePath)), readXattrs(toBytes(aPath))];
    for (const name of [...new Set([...ex.keys(), ...ax.keys()])].sort()) {
      const ev = ex.get(name);
      const av = ax.get(name);
      if (ev === undefined || av === undefined || !ev.equals(av)) add(rel, 'xattr', `${name}=${fmtXattr(ev)}`, `${name}=${fmtXattr(av)}`);
    }

    if (et === 'symlink') {
      const [etg, atg] = await Promise.all([readlink(toBytes(ePath), { encoding: 'buffer' }), readlink(toBytes(aPath), { encoding: 'buffer' })]);
      if (!etg.equals(atg)) add(rel, 'symlink-target', JSON.stringify(fromBytes(etg)), JSON.stringify(fromBytes(atg)));
    } else if (et === 'file') {
      if (es.size !== as.size) add(rel, 'size', String(es.size), String(as.size));
      else {
        const off = await firstContentDifference(ePath, aPath);
        if (off >= 0) add(rel, 'content', `same bytes as the source`, `first difference at byte ${off}`);
      }
      if (sparse.has(rel)) {
        const allocated = as.blocks * 512n;
        if (Number(allocated) > Number(as.size) * sparseMaxFraction) {
          add(rel, 'not-sparse', `at most ${Math.floor(Number(as.size) * sparseMaxFraction)} bytes allocated`, `${allocated} bytes allocated for ${as.size}`);
        }
      }
    } else if (et === 'dir') {
      const [en, an] = await Promise.all([readdir(toBytes(ePath), { encoding: 'buffer' }), readdir(toBytes(aPath), { encoding: 'buffer' })]);
      const names = [...new Set([...en, ...an].map(fromBytes))].sort();
      for (const name of names) await visit(joinRel(rel, name), join(ePath, name), join(aPath, name));
    }
  };

  await visit('.', expectedRoot, actualRoot);

  // Hardlink groups: each path must share its inode with exactly the same set of (common) paths.
  const common = new Set([...exp.inodeOf.keys()].filter((p) => act.inodeOf.has(p)));
  const group = (side: Side, rel: string): string[] => (side.byInode.get(side.inodeOf.get(rel) as string) ?? []).filter((p) => common.has(p)).sort();
  for (const rel of [...common].sort()) {
    const eg = group(exp, rel);
    const ag = group(act, rel);
    if (eg.join('\0') !== ag.join('\0')) add(rel, 'hardlink', JSON.stringify(eg), JSON.stringify(ag));
  }
  return diffs;
}

async function lstatOrUndefined(p: string): Promise<BigIntStats | undefined> {
  try {
    return await lstat(toBytes(p), { bigint: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** A readable report: one line per difference, at most `limit` lines. */
export function formatDiffs(diffs: TreeDiff[], limit = 200): string {
  const lines = diffs.slice(0, limit).map((d) => `${d.kind} ${JSON.stringify(d.path)}: expected ${d.expected}, actual ${d.actual}`);
  if (diffs.length > limit) lines.push(`... and ${diffs.length - limit} more`);
  return lines.join('\n');
}

/** Counts of differences by kind, e.g. { mtime: 3, xattr: 1 }. */
export function diffSummary(diffs: TreeDiff[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of diffs) out[d.kind] = (out[d.kind] ?? 0) + 1;
  return out;
}
