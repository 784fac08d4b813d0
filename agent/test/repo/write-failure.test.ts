// A failed write (a full disk) fails the operation that met it and nothing after it: the next
// operation under the repository write lock stores the same blobs again, and no blob counts as
// stored that is not durably in a pack and in the index. Real LevelDB and pack directory; the
// failures are injected into the store and the index's LevelDB sublevel.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlobType } from '../../src/repo/blob.js';
import { openStores, type Stores } from '../../src/compose-root.js';
import { initStores } from '../helpers/stores.js';
import { strayPackFiles } from '../helpers/damage-packs.js';

async function freshRepo(): Promise<Stores & { home: string }> {
  const home = join(await mkdtemp(join(tmpdir(), 'cairn-write-failure-')), 'home');
  return { home, ...(await initStores(home, 'pw', new Date('2026-01-01T00:00:00Z'))) };
}

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28 });

/** Makes the next `times` calls of `obj[name]` throw a full disk's error. */
function failNext<T extends object>(obj: T, name: keyof T & string, times = 1): void {
  const original = (obj[name] as (...a: unknown[]) => unknown).bind(obj);
  let left = times;
  (obj as Record<string, unknown>)[name] = async (...args: unknown[]) => {
    if (left > 0) {
      left -= 1;
      throw enospc();
    }
    return original(...args);
  };
}

const blobs = (n: number, tag: string) => Array.from({ length: n }, (_, i) => Buffer.from(`${tag} blob ${i} `.repeat(50)));

describe('a failed write does not stay behind', () => {
  it('a pack write that fails fails its operation; the next one stores the same blobs and they read back after reopening', async () => {
    const { home, repo, close } = await freshRepo();
    const data = blobs(20, 'a');
    failNext(repo.store, 'adoptNew'); // the end of a pack's write: fsynced, to be named
    const first = repo.writeLock.with(1, async () => {
      for (const d of data) await repo.saveBlob(BlobType.data, Buffer.from(d));
      await repo.flush();
    });
    await expect(first).rejects.toThrow(/disk full|ENOSPC/);
    expect(await strayPackFiles(home), 'temp files the failed write left').toEqual([]);
    // the next operation: the blobs are not "already stored" (they were lost with the pack) ...
    const ids = await repo.writeLock.with(1, async () => {
      const saved = [];
      for (const d of data) saved.push(await repo.saveBlob(BlobType.data, Buffer.from(d)));
      await repo.flush();
      return saved;
    });
    for (const s of ids) expect(s.addedBytes, 'a blob of the lost pack was taken as stored').toBeGreaterThan(0);
    await close();
    const again = await openStores(home, 'pw');
    for (const [i, s] of ids.entries()) expect(await again.repo.loadBlob(s.id, BlobType.data)).toEqual(data[i]);
    await again.close();
  });

  it("an index write that fails leaves none of the pack's blobs known; the next operation indexes them", async () => {
    const { home, repo, close, state } = await freshRepo();
    const data = blobs(5, 'b');
    failNext(state.sub.index, 'batch');
    await expect(
      repo.writeLock.with(1, async () => {
        for (const d of data) await repo.saveBlob(BlobType.data, Buffer.from(d));
        await repo.flush();
      }),
    ).rejects.toThrow(/disk full while writing the index entries of pack [0-9a-f]{64}/);
    for (const d of data) expect(repo.index.has(repo.blobIdOf(d)), 'a blob LevelDB never took is in the index').toBe(false);
    const ids = await repo.writeLock.with(1, async () => {
      const saved = [];
      for (const d of data) saved.push((await repo.saveBlob(BlobType.data, Buffer.from(d))).id);
      await repo.flush();
      return saved;
    });
    await close();
    const again = await openStores(home, 'pw');
    for (const [i, id] of ids.entries()) expect(await again.repo.loadBlob(id, BlobType.data)).toEqual(data[i]);
    await again.close();
  });

  it('an operation that fails for any reason leaves no blob pending: the next one stores it', async () => {
    const { repo, close } = await freshRepo();
    const d = Buffer.from('half-way '.repeat(100));
    await expect(
      repo.writeLock.with(1, async () => {
        await repo.saveBlob(BlobType.data, Buffer.from(d));
        throw new Error('the source went away');
      }),
    ).rejects.toThrow('the source went away');
    const saved = await repo.writeLock.with(1, async () => {
      const s = await repo.saveBlob(BlobType.data, Buffer.from(d));
      await repo.flush();
      return s;
    });
    expect(saved.addedBytes).toBeGreaterThan(0);
    expect(await repo.loadBlob(saved.id, BlobType.data)).toEqual(d);
    await close();
  });
});
