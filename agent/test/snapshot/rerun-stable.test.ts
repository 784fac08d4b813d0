// The unchanged re-run: an untouched tree keeps its tree IDs from the first re-run on (the backup's
// own reading changes no atime it records), a parent's tree is reused only when it is exactly what
// encoding the directory again would store, and what is taken from the parent without reading it
// again (xattrs, symlink targets) is read again as soon as the ctime says the entry changed.
import { lutimes, mkdir, mkdtemp, readdir, readlink, rm, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { readdirSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Archiver } from '../../src/snapshot/archiver.js';
import { loadTree } from '../../src/repo/trees.js';
import type { Stores } from '../../src/compose-root.js';
import type { Repository } from '../../src/repo/repository.js';
import { initStores } from '../helpers/stores.js';
import { systemClock } from '../../src/util/clock.js';
import { setXattr } from '../../src/util/posix.js';
import type { Snapshot, TreeNode } from '../../../protocol/snapshot.js';

/** Three days ago: relatime updates an atime this old on the next read, whatever the mtime. */
const OLD = new Date(systemClock.now() - 3 * 24 * 3600 * 1000);

async function makeTree(root: string): Promise<void> {
  for (const d of ['a/b/c', 'a/d', 'e']) await mkdir(join(root, d), { recursive: true });
  for (const [rel, body] of [
    ['top.txt', 'top'],
    ['a/one.txt', 'one'],
    ['a/b/two.txt', 'two'.repeat(1000)],
    ['a/b/c/three.bin', 'x'.repeat(70_000)],
    ['e/four.txt', 'four'],
  ] as const)
    await writeFile(join(root, rel), body);
  await symlink('../top.txt', join(root, 'a/link-up'));
  await symlink('c/three.bin', join(root, 'a/b/link-down'));
  await symlink('/nowhere/at/all', join(root, 'e/dangling'));
}

/** Sets every entry's atime (and mtime) three days back, symlinks included, deepest first. */
async function ageTree(dir: string): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await ageTree(p);
    if (e.isSymbolicLink()) await lutimes(p, OLD, OLD);
    else await utimes(p, OLD, OLD);
  }
  await utimes(dir, OLD, OLD);
}

describe('unchanged re-run', () => {
  let work: string;
  let repo: Repository;
  let stores: Stores | undefined;
  const backup = async (paths: string[], parent?: { id: string; snapshot: Snapshot }) =>
    new Archiver(repo, { paths, tags: [], clock: systemClock, ...(parent ? { parent } : {}) }).run();

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cairn-rerun-'));
    stores = await initStores(join(work, 'home'), 'pw', new Date('2026-01-01T00:00:00Z'));
    repo = stores.repo;
  });
  afterAll(async () => {
    await stores?.close();
    await rm(work, { recursive: true, force: true });
  });

  test('this filesystem updates atimes on reads (else the next test could not fail)', async () => {
    const probe = join(work, 'probe');
    await mkdir(probe);
    await writeFile(join(probe, 'f'), 'f');
    await symlink('f', join(probe, 'l'));
    await lutimes(join(probe, 'l'), OLD, OLD);
    await utimes(probe, OLD, OLD);
    readdirSync(probe);
    readlinkSync(join(probe, 'l'));
    expect((await stat(probe)).atimeMs, 'readdir moved the directory atime').toBeGreaterThan(OLD.getTime() + 1000);
    const { lstat } = await import('node:fs/promises');
    expect((await lstat(join(probe, 'l'))).atimeMs, 'readlink moved the symlink atime').toBeGreaterThan(OLD.getTime() + 1000);
  });

  test('an untouched tree gets the same tree IDs on its first re-run', async () => {
    const src = join(work, 'untouched');
    await makeTree(src);
    await ageTree(src);
    // the source's own tree: the directories above it (/tmp) change whenever anyone creates a file there
    const first = await backup([src]);
    const second = await backup([src], first);
    const third = await backup([src], second);
    const [t1, t2, t3] = (await Promise.all([first, second, third].map((b) => subtreeOf(repo, b.snapshot.tree, src)))) as [string, string, string];
    expect(await treeDiffs(repo, t1, t2)).toEqual([]);
    expect(t2).toBe(t1);
    expect(t3).toBe(t1);
  });

  test('reused trees are exactly the trees a backup without a parent stores', async () => {
    const src = join(work, 'changed');
    await makeTree(src);
    const first = await backup([src]);
    // one deep change: its directory and the ones above get new trees, the others are reused
    await writeFile(join(src, 'a/b/c/three.bin'), 'y'.repeat(70_001));
    const second = await backup([src], first);
    expect(await subtreeOf(repo, second.snapshot.tree, src)).not.toBe(await subtreeOf(repo, first.snapshot.tree, src));
    const fresh = await backup([src]); // no parent: every tree encoded and hashed again
    expect(await subtreeOf(repo, fresh.snapshot.tree, src)).toBe(await subtreeOf(repo, second.snapshot.tree, src));
  });

  test('an xattr set after the first backup is stored by the next one (its ctime moved), and a re-created symlink is read again', async () => {
    const src = join(work, 'xattrs');
    await mkdir(src);
    const file = join(src, 'tagged.txt');
    await writeFile(file, 'same bytes');
    setXattr(file, 'user.cairn-test', Buffer.from('one'));
    await symlink('first-target', join(src, 'ln'));
    const first = await backup([src]);
    const before = await stat(file);
    setXattr(file, 'user.cairn-test', Buffer.from('two'));
    await unlink(join(src, 'ln'));
    await symlink('second-target', join(src, 'ln'));
    const after = await stat(file);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(after.size).toBe(before.size);
    const second = await backup([src], first);
    const nodes = await nodesAt(repo, second.snapshot.tree, src);
    const tagged = nodes.find((n) => n.name === 'tagged.txt') as TreeNode;
    expect(Buffer.from(tagged.xattrs?.['user.cairn-test'] ?? '', 'base64').toString()).toBe('two');
    expect(nodes.find((n) => n.name === 'ln')?.target).toBe(await readlink(join(src, 'ln')));
  });
});

/** The tree ID of the directory at absolute `path` in the snapshot tree `root`. */
async function subtreeOf(repo: Repository, root: string, path: string): Promise<string> {
  const parts = path.split('/').filter(Boolean);
  const name = parts.pop() as string;
  const node = (await nodesAt(repo, root, `/${parts.join('/')}`)).find((n) => n.name === name);
  if (!node?.subtree) throw new Error(`${path} is not a directory in the snapshot`);
  return node.subtree;
}

/** The nodes of the directory at absolute `path` in the snapshot tree `root`. */
async function nodesAt(repo: Repository, root: string, path: string): Promise<TreeNode[]> {
  let tree = await loadTree(repo, root);
  for (const part of path.split('/').filter(Boolean)) {
    const next = tree.nodes.find((n) => n.name === part);
    if (!next?.subtree) throw new Error(`${part} of ${path} is not a directory in the snapshot`);
    tree = await loadTree(repo, next.subtree);
  }
  return tree.nodes;
}

/** The nodes that differ between two trees, as "path: before -> after", for a failure that says what moved. */
async function treeDiffs(repo: Repository, a: string, b: string, at = ''): Promise<string[]> {
  if (a === b) return [];
  const [ta, tb] = [await loadTree(repo, a), await loadTree(repo, b)];
  const out: string[] = [];
  for (const n of ta.nodes) {
    const m = tb.nodes.find((x) => x.name === n.name);
    const { subtree: _a, ...na } = n;
    const { subtree: _b, ...nb } = m ?? ({} as TreeNode);
    if (JSON.stringify(na) !== JSON.stringify(nb)) out.push(`${at}/${n.name}: ${JSON.stringify(na)} -> ${JSON.stringify(nb)}`);
    if (n.subtree && m?.subtree) out.push(...(await treeDiffs(repo, n.subtree, m.subtree, `${at}/${n.name}`)));
  }
  for (const m of tb.nodes) if (!ta.nodes.some((n) => n.name === m.name)) out.push(`${at}/${m.name}: added`);
  return out;
}
