// Round trip of a deliberately nasty tree through the real `cairn` CLI: backup, then `restore` and
// `export | tar -x`, and compare every entry with the source (type, mode incl. set-id/sticky bits,
// owner, size, nanosecond mtimes, content, symlink targets, xattrs, hardlink groups, FIFOs,
// sparseness for restore). Runs as root (chown, set-id bits, foreign owners).
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, lchown, lstat, mkdir, readdir, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cairn, cairnJson, initHome, spawnCairn, tempDir } from '../helpers/cli.js';
import { setTimesNs, setXattr } from '../../src/util/posix.js';
import { buildNastyTree, type NastyTree } from '../helpers/nasty-tree.js';
import { fromBytes, toBytes } from '../../src/util/byte-names.js';
import { compareTrees, diffSummary, formatDiffs } from '../helpers/tree-compare.js';

const PATH_MAX = 4096; // including the terminating NUL
const SLOW = 600_000;

let work: string;
let home: string;
let src: string;
let tree: NastyTree;
let snapshotId: string;

/** Where `restore --target dir` (and `export | tar -C dir`) puts the backed-up root: dir + the absolute source path. */
function underTarget(dir: string, absPath: string): string {
  return join(dir, absPath);
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
}

/**
 * GNU tar extraction keeping everything: xattrs of every namespace (binary values included), modes
 * with set-id bits (-p), numeric owners. `--warning=no-timestamp` only silences the warnings about
 * the tree's deliberately future / pre-1970 mtimes (tar restores them all the same), so that any
 * other warning about the stream fails the test.
 */
const TAR_EXTRACT = ['-x', '--warning=no-timestamp', '--xattrs', '--xattrs-include=*', '-p', '--same-owner', '--numeric-owner'];

/** `producer | tar -x ... -C dest`, with both exit statuses checked; returns tar's stderr. */
async function pipeIntoTar(producer: ChildProcess, what: string, dest: string): Promise<string> {
  const tar = spawn('tar', [...TAR_EXTRACT, '-C', dest], { stdio: ['pipe', 'ignore', 'pipe'] });
  const producerErr: Buffer[] = [];
  const tarErr: Buffer[] = [];
  producer.stderr?.on('data', (b: Buffer) => producerErr.push(b));
  tar.stderr?.on('data', (b: Buffer) => tarErr.push(b));
  tar.stdin?.on('error', () => undefined); // EPIPE when tar dies early: its exit status says why
  producer.stdout?.pipe(tar.stdin as NodeJS.WritableStream);
  const [e, t] = await Promise.all([exited(producer), exited(tar)]);
  const eStderr = Buffer.concat(producerErr).toString('utf8');
  const tStderr = Buffer.concat(tarErr).toString('utf8');
  if (e.code !== 0 || t.code !== 0) {
    throw new Error(`${what} exited ${e.code ?? e.signal} (${eStderr.trim()}); tar -x exited ${t.code ?? t.signal} (${tStderr.trim()})`);
  }
  return tStderr;
}

/** `cairn restore ... --json`, reduced to its errors and warnings. */
async function restoreJson(args: string[]): Promise<{ errors: string[]; warnings: string[] }> {
  const r = await cairnJson<{ errors: string[]; warnings: string[] }>(args, { home });
  return { errors: r.errors, warnings: r.warnings };
}

/** Only the included paths, what is below them, and the directories leading to them exist under `target`. */
async function expectOnly(target: string, includes: string[]): Promise<string[]> {
  const included = includes.map((p) => underTarget(target, p).slice(target.length + 1));
  const allowed = (rel: string) => included.some((inc) => rel === inc || rel.startsWith(`${inc}/`) || inc.startsWith(`${rel}/`));
  const all = await listAll(target);
  expect(all.filter((r) => !allowed(r))).toEqual([]);
  return all;
}

/** Every path below `dir` (relative, '/'-separated), directories included, symlinks not followed. */
async function listAll(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const ent of await readdir(toBytes(join(dir, rel)), { withFileTypes: true, encoding: 'buffer' })) {
    const name = fromBytes(ent.name);
    const r = rel === '' ? name : `${rel}/${name}`;
    out.push(r);
    if (ent.isDirectory()) out.push(...(await listAll(dir, r)));
  }
  return out;
}

beforeAll(async () => {
  work = await tempDir('cairn-rt-');
  src = join(work, 'src');
  // The deepest source path is ~4,000 bytes; restored under work/r (or work/t, work/i) it gets the
  // target plus the absolute source path in front, which must still fit in PATH_MAX.
  const longestTarget = join(work, 'r').length;
  const rel = Math.min(4000 - (src.length + 1), PATH_MAX - 1 - (longestTarget + src.length + 1) - 8);
  expect(rel).toBeGreaterThan(3500);
  tree = await buildNastyTree(src, { deepPathBytes: rel });
  home = await initHome();
  const backup = await cairnJson<{ id: string; warnings: string[] }>(['backup', src], { home });
  expect(backup.id).toMatch(/^[0-9a-f]+$/);
  expect(backup.warnings).toEqual([]);
  snapshotId = backup.id;
}, SLOW);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
  if (home) await rm(dirname(home), { recursive: true, force: true });
});

describe('round trip of a nasty tree', () => {
  it('records the backed-up path as given', async () => {
    const list = await cairnJson<{ id: string; paths: string[] }[]>(['snapshots'], { home });
    const snap = list.find((s) => s.id === snapshotId);
    expect(snap?.paths).toEqual([src]);
  });

  it(
    'restore reproduces every entry and its metadata, the sparse file sparse',
    async () => {
      const target = join(work, 'r');
      expect(await restoreJson(['restore', snapshotId, '--target', target])).toEqual({ errors: [], warnings: [] });
      // Only the absolute source path sits under the target (the prefix directories above it are not compared).
      expect(await readdir(target)).toEqual([src.split(sep)[1]]);
      const diffs = await compareTrees(src, underTarget(target, src), { sparse: [tree.sparseFile] });
      expect(diffSummary(diffs)).toEqual({});
      expect(formatDiffs(diffs)).toBe('');
      await rm(target, { recursive: true });
    },
    SLOW,
  );

  it(
    "control: GNU tar itself carries the whole tree (so an export failure below is Cairn's)",
    async () => {
      const dest = join(work, 'c');
      await mkdir(dest);
      const create = spawn('tar', ['-c', '--format=pax', '--xattrs', '--xattrs-include=*', '-C', '/', src.slice(1)], { stdio: ['ignore', 'pipe', 'pipe'] });
      expect(await pipeIntoTar(create, 'tar -c', dest)).toBe('');
      const diffs = await compareTrees(src, underTarget(dest, src));
      expect(formatDiffs(diffs)).toBe('');
      await rm(dest, { recursive: true });
    },
    SLOW,
  );

  it(
    'export | GNU tar -x reproduces every entry and its metadata',
    async () => {
      const dest = join(work, 't');
      await mkdir(dest);
      const tarWarnings = await pipeIntoTar(spawnCairn(['export', 'latest'], { home }), 'cairn export latest', dest);
      // Not sparse: the tar stream from `cairn export` is a plain (non-GNU-sparse) archive, and tar
      // writes what it reads. Everything else must survive GNU tar 1.34 (pax: long names, ns times,
      // SCHILY.xattr.* binary values, hardlink entries, FIFOs, set-id bits with -p, numeric owners).
      const diffs = await compareTrees(src, underTarget(dest, src));
      // One assertion, so a failure shows tar's complaints about the stream and every difference.
      expect({ tarWarnings, summary: diffSummary(diffs), diffs: formatDiffs(diffs) }).toEqual({ tarWarnings: '', summary: {}, diffs: '' });
      await rm(dest, { recursive: true });
    },
    SLOW,
  );

  it(
    'restore --include restores only the given paths (a directory and one name of a hardlinked file)',
    async () => {
      const target = join(work, 'i');
      const dirInc = join(src, tree.unicodeDir);
      const fileInc = join(src, tree.hardlinks[2] as string);
      expect(await restoreJson(['restore', snapshotId, '--target', target, '--include', dirInc, '--include', fileInc])).toEqual({ errors: [], warnings: [] });

      expect(formatDiffs(await compareTrees(dirInc, underTarget(target, dirInc)))).toBe('');
      expect(formatDiffs(await compareTrees(fileInc, underTarget(target, fileInc)))).toBe('');

      // Nothing else: only the included paths, what is below them, and the directories leading to them.
      const all = await expectOnly(target, [dirInc, fileInc]);
      expect(all.length).toBeGreaterThan(20);
      // The hardlink partners outside the include list were not restored.
      for (const other of tree.hardlinks.slice(0, 2)) {
        await expect(lstat(underTarget(target, join(src, other)))).rejects.toThrow(/ENOENT/);
      }
      await rm(target, { recursive: true });
    },
    SLOW,
  );

  it(
    'export of a sub-path | GNU tar -x reproduces just that sub-tree',
    async () => {
      const dest = join(work, 's');
      await mkdir(dest);
      const sub = join(src, tree.unicodeDir);
      const tarWarnings = await pipeIntoTar(spawnCairn(['export', snapshotId, sub], { home }), `cairn export ${snapshotId} ${sub}`, dest);
      const diffs = formatDiffs(await compareTrees(sub, underTarget(dest, sub)));
      expect({ tarWarnings, diffs }).toEqual({ tarWarnings: '', diffs: '' });
      await expectOnly(dest, [sub]);
      await rm(dest, { recursive: true });
    },
    SLOW,
  );

  it(
    'restore --overwrite puts back content, metadata, links and missing entries after damage',
    async () => {
      const target = join(work, 'o');
      const includes = ['hard', 'modes', 'owners', 'times', 'links', 'special', 'xattrs', tree.unicodeDir].map((p) => join(src, p));
      const args = ['restore', snapshotId, '--target', target, ...includes.flatMap((p) => ['--include', p])];
      expect(await restoreJson(args)).toEqual({ errors: [], warnings: [] });
      const r = underTarget(target, src);
      const at = (rel: string) => join(r, rel);

      // Damage: content (of a hardlinked inode), mode, owner, mtime, xattr, symlink target, type, missing entries.
      await writeFile(at(tree.hardlinks[0] as string), 'changed content of all three names\n');
      await chmod(at('modes/f4755'), 0o755);
      await chmod(at('modes/d1777'), 0o755);
      await lchown(at('owners/u1234-g5678.txt'), 0, 0);
      const epoch = await lstat(at('times/epoch'), { bigint: true });
      setTimesNs(at('times/epoch'), epoch.atimeNs, 5_000_000_123n);
      setXattr(at(tree.xattrFile), 'user.binary', Buffer.from('not the original'));
      await unlink(at('links/relative'));
      await symlink('somewhere/else', at('links/relative'));
      await unlink(at(tree.fifo));
      await writeFile(at(tree.fifo), '');
      await unlink(at(`${tree.unicodeDir}/UPPER`));
      await rm(at('modes/d0000'), { recursive: true });
      expect((await compareTrees(src, r).then((d) => d.filter((x) => x.kind !== 'missing' && x.kind !== 'extra'))).length).toBeGreaterThan(0);

      // Without --overwrite a restore over differing files is refused (exit 1)...
      const refused = await cairn(args, { home });
      expect(refused.code).toBe(1);
      // ...with it, the target matches the snapshot again.
      expect(await restoreJson([...args, '--overwrite'])).toEqual({ errors: [], warnings: [] });
      for (const inc of includes) expect(formatDiffs(await compareTrees(inc, underTarget(target, inc)))).toBe('');
      await expectOnly(target, includes);
      await rm(target, { recursive: true });
    },
    SLOW,
  );
});
