// Proves the tree comparer used by the round-trip tests is not vacuous: two builds of the (scaled
// down) nasty tree compare equal, and each single kind of damage is reported, precisely.
import { appendFile, chmod, lchown, link, lstat, open, readFile, readlink, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getXattr, setTimesNs, setXattr } from '../../src/util/posix.js';
import { tempDir } from './cli.js';
import { buildNastyTree, type NastyTree, type NastyTreeOptions } from './nasty-tree.js';
import { compareTrees, diffSummary, formatDiffs, type TreeDiff } from './tree-compare.js';

const SMALL: NastyTreeOptions = {
  tinyFiles: 30,
  tinyDirs: 3,
  bigFileBytes: 256 * 1024,
  sparseFileBytes: 16 * 1024 * 1024,
  deepPathBytes: 700,
};

let work: string;
let expected: NastyTree;
let builds = 0;

/** A fresh copy of the tree (same seed, so same names, contents and metadata). */
async function freshCopy(): Promise<NastyTree> {
  return buildNastyTree(join(work, `copy-${builds++}`), SMALL);
}

/** Runs `fn`, then puts back the mtime of `path`'s parent directory, so only the intended change remains. */
async function keepParentTime(path: string, fn: () => Promise<void>): Promise<void> {
  const parent = dirname(path);
  const st = await lstat(parent, { bigint: true });
  await fn();
  setTimesNs(parent, st.atimeNs, st.mtimeNs);
}

async function keepTimes(path: string, fn: () => Promise<void>): Promise<void> {
  const st = await lstat(path, { bigint: true });
  await fn();
  setTimesNs(path, st.atimeNs, st.mtimeNs);
}

function only(diffs: TreeDiff[]): { path: string; kind: string }[] {
  return diffs.map((d) => ({ path: d.path, kind: d.kind }));
}

beforeAll(async () => {
  work = await tempDir('cairn-cmp-');
  expected = await buildNastyTree(join(work, 'expected'), SMALL);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('buildNastyTree', () => {
  it('is deterministic: a second build compares equal to the first, sparse file included', async () => {
    const b = await freshCopy();
    const diffs = await compareTrees(expected.root, b.root, { sparse: [b.sparseFile] });
    expect(formatDiffs(diffs)).toBe('');
    expect(expected.entries).toBeGreaterThan(100);
  });

  it('builds what it promises', async () => {
    const r = expected.root;
    const deep = join(r, expected.deepFile);
    expect(Buffer.byteLength(expected.deepFile)).toBe(SMALL.deepPathBytes);
    expect((await lstat(deep)).isFile()).toBe(true);
    const ino = await Promise.all(expected.hardlinks.map(async (p) => (await lstat(join(r, p))).ino));
    expect(new Set(ino).size).toBe(1);
    expect((await lstat(join(r, expected.hardlinks[0] as string))).nlink).toBe(3);
    expect((await lstat(join(r, expected.fifo))).isFIFO()).toBe(true);
    expect(getXattr(join(r, expected.xattrFile), 'user.binary')?.includes(0)).toBe(true);
    expect(getXattr(join(r, expected.xattrDir), 'user.dir')?.toString()).toBe('directory attr');
    const suid = await lstat(join(r, 'owners/suid-1234'), { bigint: true });
    expect([suid.mode & 0o7777n, suid.uid, suid.gid]).toEqual([0o6755n, 1234n, 5678n]);
    const x = await lstat(join(r, 'xattrs/setuid-with-attr'), { bigint: true });
    expect(x.mode & 0o7777n).toBe(0o4750n);
    const d0 = await lstat(join(r, 'modes/d0000'), { bigint: true });
    expect(d0.mode & 0o7777n).toBe(0n);
    const sp = await lstat(join(r, expected.sparseFile), { bigint: true });
    expect(sp.size).toBe(BigInt(SMALL.sparseFileBytes as number));
    expect(sp.blocks * 512n < sp.size / 16n).toBe(true);
    expect((await lstat(join(r, 'times/pre-epoch'), { bigint: true })).mtimeNs).toBe(-1_234_567_890_000_000_000n + 123_456_789n);
    // Directory mtimes were set after their children: not "now"-ish, but the seeded values.
    const rootSt = await lstat(r, { bigint: true });
    expect(rootSt.mtimeNs % 1000n).not.toBe(0n);
    expect(rootSt.mtimeNs).toBeLessThan(1_893_456_000n * 1_000_000_000n);
  });

  it('makes the full-size deep path close to 4,000 bytes without exceeding PATH_MAX', async () => {
    const root = join(work, 'deep-only');
    const t = await buildNastyTree(root, { ...SMALL, deepPathBytes: 4000 - root.length - 1 });
    expect(Buffer.byteLength(join(root, t.deepFile))).toBe(4000);
  });
});

describe('compareTrees detects', () => {
  it('content: one flipped byte in a same-size file with the same mtime', async () => {
    const b = await freshCopy();
    const p = join(b.root, 'files/random.bin');
    await keepTimes(p, async () => {
      const fh = await open(p, 'r+');
      const one = Buffer.alloc(1);
      await fh.read(one, 0, 1, 50_000);
      one[0] = (one[0] as number) ^ 1;
      await fh.write(one, 0, 1, 50_000);
      await fh.close();
    });
    const diffs = await compareTrees(expected.root, b.root);
    expect(only(diffs)).toEqual([{ path: 'files/random.bin', kind: 'content' }]);
    expect(diffs[0]?.actual).toContain('50000');
  });

  it('content deep in the 1 GiB-style sparse file (a byte in a hole)', async () => {
    const b = await freshCopy();
    const p = join(b.root, b.sparseFile);
    await keepTimes(p, async () => {
      const fh = await open(p, 'r+');
      await fh.write(Buffer.from([7]), 0, 1, 12 * 1024 * 1024 + 5);
      await fh.close();
    });
    expect(only(await compareTrees(expected.root, b.root))).toEqual([{ path: b.sparseFile, kind: 'content' }]);
  });

  it('size', async () => {
    const b = await freshCopy();
    const p = join(b.root, 'files/hello.txt');
    await keepTimes(p, () => appendFile(p, 'x'));
    expect(only(await compareTrees(expected.root, b.root))).toEqual([{ path: 'files/hello.txt', kind: 'size' }]);
  });

  it('mode, including a lost set-id bit', async () => {
    const b = await freshCopy();
    await chmod(join(b.root, 'modes/f4755'), 0o755);
    await chmod(join(b.root, 'modes/d1777'), 0o777);
    expect(only(await compareTrees(expected.root, b.root))).toEqual([
      { path: 'modes/d1777', kind: 'mode' },
      { path: 'modes/f4755', kind: 'mode' },
    ]);
  });

  it('uid', async () => {
    const b = await freshCopy();
    await lchown(join(b.root, 'owners/u1234-g5678.txt'), 1235, 5678);
    const diffs = await compareTrees(expected.root, b.root);
    expect(only(diffs)).toEqual([{ path: 'owners/u1234-g5678.txt', kind: 'uid' }]);
    expect([diffs[0]?.expected, diffs[0]?.actual]).toEqual(['1234', '1235']);
  });

  it('gid (on a symlink, not followed)', async () => {
    const b = await freshCopy();
    await lchown(join(b.root, 'links/owned'), 4321, 8766);
    expect(only(await compareTrees(expected.root, b.root))).toEqual([{ path: 'links/owned', kind: 'gid' }]);
  });

  it('mtime off by one nanosecond, on a file, a directory and a symlink', async () => {
    const b = await freshCopy();
    for (const rel of ['files/hello.txt', 'empty/empty-dir', 'times/link-2001']) {
      const p = join(b.root, rel);
      const st = await lstat(p, { bigint: true });
      setTimesNs(p, st.atimeNs, st.mtimeNs + 1n);
    }
    const diffs = await compareTrees(expected.root, b.root);
    expect(only(diffs)).toEqual([
      { path: 'empty/empty-dir', kind: 'mtime' },
      { path: 'files/hello.txt', kind: 'mtime' },
      { path: 'times/link-2001', kind: 'mtime' },
    ]);
    // ...unless told to ignore it.
    expect(await compareTrees(expected.root, b.root, { ignoreMtime: ['empty/empty-dir', 'files/hello.txt', 'times/link-2001'] })).toEqual([]);
  });

  it('symlink target (same length, same metadata)', async () => {
    const b = await freshCopy();
    const p = join(b.root, 'links/dangling');
    const st = await lstat(p, { bigint: true });
    const old = await readlink(p);
    await keepParentTime(p, async () => {
      await unlink(p);
      await symlink(old.replace('file', 'fila'), p);
    });
    setTimesNs(p, st.atimeNs, st.mtimeNs);
    expect(only(await compareTrees(expected.root, b.root))).toEqual([{ path: 'links/dangling', kind: 'symlink-target' }]);
  });

  it('a missing entry and an extra entry', async () => {
    const b = await freshCopy();
    await keepParentTime(join(b.root, 'names/UPPER'), () => unlink(join(b.root, 'names/UPPER')));
    await keepParentTime(join(b.root, 'names/new'), () => writeFile(join(b.root, 'names/new'), ''));
    await keepParentTime(join(b.root, 'modes/d0000/sub'), () => rm(join(b.root, 'modes/d0000/sub'), { recursive: true }));
    expect(only(await compareTrees(expected.root, b.root))).toEqual([
      { path: 'modes/d0000/sub', kind: 'missing' },
      { path: 'names/UPPER', kind: 'missing' },
      { path: 'names/new', kind: 'extra' },
    ]);
  });

  it('a missing hardlink name without reporting the remaining names as broken', async () => {
    const b = await freshCopy();
    const p = join(b.root, b.hardlinks[2] as string);
    await keepParentTime(p, () => unlink(p));
    expect(only(await compareTrees(expected.root, b.root))).toEqual([{ path: b.hardlinks[2] as string, kind: 'missing' }]);
  });

  it('a broken hardlink: one name replaced by an identical copy', async () => {
    const b = await freshCopy();
    const third = b.hardlinks[2] as string;
    const p = join(b.root, third);
    const st = await lstat(p, { bigint: true });
    const data = await readFile(p);
    await keepParentTime(p, async () => {
      await unlink(p);
      await writeFile(p, data);
    });
    await lchown(p, Number(st.uid), Number(st.gid));
    await chmod(p, Number(st.mode & 0o7777n));
    setTimesNs(p, st.atimeNs, st.mtimeNs);
    const diffs = await compareTrees(expected.root, b.root);
    expect(diffSummary(diffs)).toEqual({ hardlink: 3 });
    expect(diffs.map((d) => d.path).sort()).toEqual([...b.hardlinks].sort());
    expect(diffs.find((d) => d.path === third)?.actual).toBe(JSON.stringify([third]));
  });

  it('hardlinks that should not exist', async () => {
    const b = await freshCopy();
    const a1 = join(b.root, 'owners/nobody.txt');
    // names/UPPER becomes a second name of owners/nobody.txt (content, owner etc. differ too).
    await keepParentTime(join(b.root, 'names/UPPER'), async () => {
      await unlink(join(b.root, 'names/UPPER'));
      await link(a1, join(b.root, 'names/UPPER'));
    });
    const diffs = await compareTrees(expected.root, b.root);
    expect(diffs.filter((d) => d.kind === 'hardlink').map((d) => d.path)).toEqual(['names/UPPER', 'owners/nobody.txt']);
  });

  it('xattrs: changed value, removed attribute, added attribute (file and directory)', async () => {
    const b = await freshCopy();
    const f = join(b.root, b.xattrFile);
    const bin = getXattr(f, 'user.binary') as Buffer;
    const changed = Buffer.from(bin);
    changed[changed.length - 1] = 1; // a trailing NUL becomes 1: a C-string comparison would miss it
    setXattr(f, 'user.binary', changed);
    const { removeXattrForTest } = await xattrRemover();
    removeXattrForTest(f, 'user.empty');
    setXattr(join(b.root, b.xattrDir), 'user.added', Buffer.from('new'));
    const diffs = await compareTrees(expected.root, b.root);
    expect(only(diffs)).toEqual([
      { path: b.xattrDir, kind: 'xattr' },
      { path: b.xattrFile, kind: 'xattr' },
      { path: b.xattrFile, kind: 'xattr' },
    ]);
    expect(formatDiffs(diffs)).toContain('user.empty=(absent)');
  });

  it('type: a FIFO restored as an empty regular file with the same metadata', async () => {
    const b = await freshCopy();
    const p = join(b.root, b.fifo);
    const st = await lstat(p, { bigint: true });
    await keepParentTime(p, async () => {
      await unlink(p);
      await writeFile(p, '');
    });
    await lchown(p, Number(st.uid), Number(st.gid));
    await chmod(p, Number(st.mode & 0o7777n));
    setTimesNs(p, st.atimeNs, st.mtimeNs);
    expect(only(await compareTrees(expected.root, b.root))).toEqual([{ path: b.fifo, kind: 'type' }]);
  });

  it('a sparse file restored dense (only when sparseness is asked for)', async () => {
    const b = await freshCopy();
    const p = join(b.root, b.sparseFile);
    const st = await lstat(p, { bigint: true });
    const data = await readFile(p);
    await writeFile(p, data); // rewrite every byte, zeros included: fully allocated
    setTimesNs(p, st.atimeNs, st.mtimeNs);
    expect(await compareTrees(expected.root, b.root)).toEqual([]);
    expect(only(await compareTrees(expected.root, b.root, { sparse: [b.sparseFile] }))).toEqual([{ path: b.sparseFile, kind: 'not-sparse' }]);
  });

  it('differences at the end of the ~4,000-byte path', async () => {
    const b = await freshCopy();
    await chmod(join(b.root, b.deepFile), 0o641);
    expect(only(await compareTrees(expected.root, b.root))).toEqual([{ path: b.deepFile, kind: 'mode' }]);
  });

  it('NFC and NFD names as distinct entries', async () => {
    const b = await freshCopy();
    const nfd = join(b.root, 'names/cafe\u0301.txt');
    await keepParentTime(nfd, () => rename(nfd, join(b.root, 'names/caf\u00e9.txt.tmp')));
    const diffs = only(await compareTrees(expected.root, b.root));
    expect(diffs).toContainEqual({ path: 'names/cafe\u0301.txt', kind: 'missing' });
    expect(diffs).toContainEqual({ path: 'names/caf\u00e9.txt.tmp', kind: 'extra' });
  });
});

/** lremovexattr through koffi, for the test only (posix.ts has no remove). */
async function xattrRemover(): Promise<{ removeXattrForTest: (path: string, name: string) => void }> {
  const koffi = (await import('koffi')).default;
  const libc = koffi.load('libc.so.6');
  const lremovexattr = libc.func('int lremovexattr(const char *path, const char *name)');
  return {
    removeXattrForTest(path: string, name: string) {
      if ((lremovexattr(path, name) as number) !== 0) throw new Error(`lremovexattr ${path} ${name}: errno ${koffi.errno()}`);
    },
  };
}
