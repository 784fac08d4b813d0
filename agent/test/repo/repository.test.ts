// The engine on real LevelDB files and a real pack directory.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlobType } from '../../src/repo/blob.js';
import { decodeHeader, headerLength, PACK_TRAILER_BYTES } from '../../src/repo/pack-format.js';
import { openStores } from '../../src/compose-root.js';
import { initStores } from '../helpers/stores.js';
import { CorruptionError, UsageError, WrongPassphraseError } from '../../src/util/errors.js';

async function freshRepo() {
  const home = join(await mkdtemp(join(tmpdir(), 'cairn-repo-')), 'home');
  const { repo, recoveryPhrase, close } = await initStores(home, 'pw', new Date('2026-01-01T00:00:00Z'));
  return { home, repo, recoveryPhrase, close };
}

describe('Repository', () => {
  it('stores blobs once, compresses what shrinks, and reads them back after reopening', async () => {
    const { home, repo, close } = await freshRepo();
    const text = Buffer.from('compressible '.repeat(10_000));
    const random = Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 2654435761) >>> 24));
    const s1 = await repo.saveBlob(BlobType.data, text);
    const s2 = await repo.saveBlob(BlobType.data, text);
    const s3 = await repo.saveBlob(BlobType.data, random);
    expect(s2.addedBytes).toBe(0);
    expect(s1.addedBytes).toBeLessThan(text.length / 10);
    expect(s3.addedBytes).toBeGreaterThan(0);
    await repo.flush();
    await close();
    const again = await openStores(home, 'pw');
    expect(await again.repo.loadBlob(s1.id, BlobType.data)).toEqual(text);
    expect(await again.repo.loadBlob(s3.id, BlobType.data)).toEqual(random);
    await expect(again.repo.loadBlob(s1.id, BlobType.tree)).rejects.toBeInstanceOf(CorruptionError);
    await again.close();
  });

  it('writes pack headers that list every blob, readable only with the key', async () => {
    const { repo, close } = await freshRepo();
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await repo.saveBlob(BlobType.data, Buffer.from(`blob ${i}`))).id);
    await repo.flush();
    const packId = repo.index.get(ids[0] as string)?.packId as string;
    const bytes = await repo.store.get(packId);
    const hlen = headerLength(packId, bytes.length, bytes.subarray(bytes.length - PACK_TRAILER_BYTES));
    const entries = decodeHeader(
      packId,
      repo.keys.meta,
      bytes.subarray(bytes.length - PACK_TRAILER_BYTES - hlen, bytes.length - PACK_TRAILER_BYTES),
      bytes.length,
    );
    expect(entries.map((e) => e.id).sort()).toEqual([...ids].sort());
    expect(() =>
      decodeHeader(packId, repo.keys.data, bytes.subarray(bytes.length - PACK_TRAILER_BYTES - hlen, bytes.length - PACK_TRAILER_BYTES), bytes.length),
    ).toThrow(/authentication/);
    expect(bytes.includes(Buffer.from('blob 1'))).toBe(false);
    await close();
  });

  it('detects a flipped byte in a stored blob', async () => {
    const { repo, close } = await freshRepo();
    const { id } = await repo.saveBlob(BlobType.data, Buffer.from('precious data that must not change'));
    await repo.flush();
    const entry = repo.index.get(id);
    if (!entry) throw new Error('not indexed');
    const path = join(repo.paths.packs, entry.packId.slice(0, 2), entry.packId);
    const bytes = await readFile(path);
    bytes[entry.offset + 30] = (bytes[entry.offset + 30] as number) ^ 0x01;
    await writeFile(path, bytes);
    await expect(repo.loadBlob(id, BlobType.data)).rejects.toThrow(new RegExp(`pack ${entry.packId}.*authentication`));
    await close();
  });

  it('refuses a wrong passphrase, a second init, and a missing repository', async () => {
    const { home, close } = await freshRepo();
    await close();
    await expect(openStores(home, 'nope')).rejects.toBeInstanceOf(WrongPassphraseError);
    await expect(initStores(home, 'pw', new Date())).rejects.toBeInstanceOf(UsageError);
    await expect(openStores(join(home, 'elsewhere'), 'pw')).rejects.toThrow(/no repository/);
  });

  it('holds the state database exclusively', async () => {
    const { home, close } = await freshRepo();
    await expect(openStores(home, 'pw')).rejects.toThrow(/in use by another cairn process/);
    await close();
  });

  // openStores runs Argon2id while the database opens and the index loads (compose-root.ts)
  it('says a wrong passphrase before the database held by another process, and opens nothing', async () => {
    const { home, close } = await freshRepo();
    try {
      await expect(openStores(home, 'nope')).rejects.toBeInstanceOf(WrongPassphraseError);
    } finally {
      await close();
    }
    // the database it opened meanwhile was closed again: the right passphrase opens it
    await expect(openStores(home, 'nope')).rejects.toBeInstanceOf(WrongPassphraseError);
    const again = await openStores(home, 'pw');
    await again.close();
  });

  it('creates no state database for a wrong passphrase when there was none yet', async () => {
    const { home, close } = await freshRepo();
    await close();
    const state = join(home, 'state');
    await rm(state, { recursive: true });
    await expect(openStores(home, 'nope')).rejects.toBeInstanceOf(WrongPassphraseError);
    expect(existsSync(state)).toBe(false);
    const again = await openStores(home, 'pw');
    await again.close();
    expect(existsSync(join(state, 'CURRENT'))).toBe(true);
  });
});
