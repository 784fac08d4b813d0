// The one tree builder (issue 17 item 3): every source's entries in, trees out. Streamed (a
// directory walk), a directory's tree is saved as soon as the walk leaves it, so memory holds only
// the directories on the way down; an open file handed over in an entry the builder does not read
// (the backup was cancelled) is closed, not leaked. A real repository and real files.
import { fstatSync, openSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Stores } from '../../src/compose-root.js';
import type { Repository } from '../../src/repo/repository.js';
import { initStores } from '../helpers/stores.js';
import { FileSaver } from '../../src/snapshot/file-saver.js';
import type { ArchiveProgress } from '../../src/snapshot/progress.js';
import type { SourceEntry } from '../../src/snapshot/source-entry.js';
import { TreeBuilder } from '../../src/snapshot/tree-builder.js';
import { TreeSaver } from '../../src/snapshot/tree-saver.js';
import { CancelledError } from '../../src/util/errors.js';
import type { TreeNode } from '../../../protocol/snapshot.js';

const newProgress = (): ArchiveProgress => ({ filesDone: 0, bytesDone: 0, filesRead: 0, filesReused: 0, dirs: 0, addedBytes: 0, currentPath: '' });
const dirNode = (name: string): TreeNode => ({ name, type: 'dir', mode: 0o755, uid: 0, gid: 0, mtimeNs: '0', inode: '0', dev: '0', nlink: 1, size: 0 });

describe('the tree builder', () => {
  let work = '';
  let repo: Repository;
  let stores: Stores | undefined;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cairn-tree-builder-'));
    stores = await initStores(join(work, 'home'), 'pw', new Date('2026-01-01T00:00:00Z'));
    repo = stores.repo;
  });
  afterAll(async () => {
    await stores?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const builder = (progress: ArchiveProgress, signal?: AbortSignal) =>
    new TreeBuilder({
      repo,
      files: new FileSaver(repo, progress),
      trees: new TreeSaver(repo, progress),
      progress,
      warn: () => undefined,
      notStored: () => undefined,
      where: work,
      ...(signal ? { signal } : {}),
    });

  test('streamed: a directory is saved when the walk leaves it, before the next one is read', async () => {
    const progress = newProgress();
    /** Trees saved once the builder has taken each entry (it asks for the next one then). */
    const savedAfter = new Map<string, number>();
    async function* walk(): AsyncGenerator<SourceEntry> {
      for (const rel of ['', 'a', 'a/x', 'a/x/deep', 'b', 'b/y', 'c']) {
        yield { rel, path: `/${rel}`, node: dirNode(rel.slice(rel.lastIndexOf('/') + 1)) };
        savedAfter.set(rel, progress.dirs);
      }
    }
    const root = await builder(progress).build(walk());
    expect(root?.subtree).toMatch(/^[0-9a-f]{64}$/);
    // b leaves a behind (a/x/deep, a/x and a saved); c leaves b (b/y and b); the end c and the root
    expect(savedAfter.get('a/x/deep')).toBe(0);
    expect(savedAfter.get('b')).toBe(3);
    expect(savedAfter.get('c')).toBe(5);
    expect(progress.dirs).toBe(7);
  });

  test('a cancelled backup closes the open file of the entry it stopped at', async () => {
    const file = join(work, 'f');
    writeFileSync(file, 'some bytes');
    const abort = new AbortController();
    let handed = -1;
    async function* walk(): AsyncGenerator<SourceEntry> {
      yield { rel: '', path: '/', node: dirNode('') };
      abort.abort(new CancelledError('backup cancelled'));
      handed = openSync(file, 'r');
      const node: TreeNode = { name: 'f', type: 'file', mode: 0o644, uid: 0, gid: 0, mtimeNs: '0', inode: '0', dev: '0', nlink: 1, size: 10 };
      yield { rel: 'f', path: file, node, content: { kind: 'fd', fd: handed } };
    }
    await expect(builder(newProgress(), abort.signal).build(walk())).rejects.toThrow(/cancelled/);
    expect(handed).toBeGreaterThanOrEqual(0);
    // closed: EBADF, or the number already reused for another file (the worker opens files too)
    const ours = statSync(file);
    let stillOurs = false;
    try {
      const s = fstatSync(handed);
      stillOurs = s.dev === ours.dev && s.ino === ours.ino;
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('EBADF');
    }
    expect(stillOurs, 'the file handed over is still open').toBe(false);
  });
});
