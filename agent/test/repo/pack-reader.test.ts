// The reader a repository is handed when opened (repo/pack-reader.ts; the mesh's reader through
// friends in the agent): real LevelDB and a real pack directory, with a stand-in for friends that
// keeps a good copy of the pack. A pack missing locally is read through the reader while there is
// one; a local copy that fails verification is replaced through its `refetch`, once; with no reader
// (the mesh stopped) the repository reads its local store alone.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlobType } from '../../src/repo/blob.js';
import type { PackReader } from '../../src/repo/pack-reader.js';
import type { Repository } from '../../src/repo/repository.js';
import { initStores } from '../helpers/stores.js';
import { CorruptionError } from '../../src/util/errors.js';

/** A repository holding one data blob in one pack, opened with a reader that is `current()` at each read. */
async function repoWithOnePack(current: () => PackReader | undefined) {
  const home = join(await mkdtemp(join(tmpdir(), 'cairn-pack-reader-')), 'home');
  const { repo, close } = await initStores(home, 'pw', new Date('2026-01-01T00:00:00Z'), { reader: current });
  const data = Buffer.from('a blob that friends hold a copy of '.repeat(500));
  const { id } = await repo.saveBlob(BlobType.data, data);
  await repo.flush();
  const packId = repo.index.get(id)?.packId as string;
  const good = await repo.store.get(packId);
  return { repo, close, data, id, packId, good };
}

describe('Repository.open(unlocked, state, { reader })', () => {
  it('a pack missing locally is read through the reader while there is one, and from the local store alone once there is none', async () => {
    let reader: PackReader | undefined;
    const { repo, close, data, id, packId, good } = await repoWithOnePack(() => reader);
    await repo.store.delete(packId);
    const asked: string[] = [];
    reader = {
      getRange: async (pack, offset, length) => {
        asked.push(pack);
        return good.subarray(offset, offset + length);
      },
    };
    expect(await repo.loadBlob(id, BlobType.data)).toEqual(data);
    expect(asked).toEqual([packId]);
    reader = undefined; // the mesh stopped: local only
    await expect(repo.loadBlob(id, BlobType.data)).rejects.toBeInstanceOf(CorruptionError);
    await close();
  });

  it("a damaged local copy is replaced through the reader's refetch, once, and then read", async () => {
    let refetched = 0;
    // friends' copy: the good bytes, put into the local store on refetch (as the mesh's reader does)
    const friends: { repo?: Repository; good?: Buffer } = {};
    const reader: PackReader = {
      getRange: (pack, offset, length) => (friends.repo as Repository).store.getRange(pack, offset, length),
      refetch: async (pack) => {
        refetched += 1;
        const store = (friends.repo as Repository).store;
        await store.delete(pack);
        await store.put(pack, [friends.good as Buffer]);
      },
    };
    const made = await repoWithOnePack(() => reader);
    Object.assign(friends, { repo: made.repo, good: made.good });
    const { repo, close, data, id, packId, good } = made;
    const damaged = Buffer.from(good);
    damaged[10] = (damaged[10] as number) ^ 0x01; // inside the first (only) blob
    await repo.store.delete(packId);
    await repo.store.put(packId, [damaged]);
    expect(await repo.loadBlob(id, BlobType.data)).toEqual(data);
    expect(refetched).toBe(1);
    await close();
  });

  it('without a reader that can refetch, a damaged local copy is an error (nothing to ask)', async () => {
    const made = await repoWithOnePack(() => undefined);
    const { repo, close, id, packId, good } = made;
    const damaged = Buffer.from(good);
    damaged[10] = (damaged[10] as number) ^ 0x01;
    await repo.store.delete(packId);
    await repo.store.put(packId, [damaged]);
    await expect(repo.loadBlob(id, BlobType.data)).rejects.toBeInstanceOf(CorruptionError);
    await close();
  });
});
