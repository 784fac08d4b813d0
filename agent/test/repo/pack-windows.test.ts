// Windows over packs (repo/pack-windows.ts) and the repository's reads through them: the same bytes
// as reading each blob alone, one read for the blobs of a window, and a damaged or missing window
// read as without windows.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlobType } from '../../src/repo/blob.js';
import { PackWindows } from '../../src/repo/pack-windows.js';
import { initStores } from '../helpers/stores.js';
import { CorruptionError } from '../../src/util/errors.js';

const WINDOW = 256 * 1024;

/** A fake pack of `size` bytes (byte i is i mod 251) and the reads asked of it. */
function fakePack(size: number) {
  const bytes = Buffer.from(Array.from({ length: size }, (_, i) => i % 251));
  const reads: Array<[string, number, number]> = [];
  const read = async (packId: string, offset: number, length: number) => {
    reads.push([packId, offset, length]);
    if (packId === 'gone') throw new Error('ENOENT');
    return Buffer.from(bytes.subarray(offset, Math.min(size, offset + length)));
  };
  return { bytes, reads, read };
}

describe('PackWindows', () => {
  it('serves the ranges of a window from one read, and reads a window once for loads waiting together', async () => {
    const p = fakePack(WINDOW + 1000);
    const w = new PackWindows(p.read);
    const got = await Promise.all([w.get('a', 10, 20), w.get('a', 5000, 300), w.get('a', WINDOW - 8, 8)]);
    expect(got).toEqual([p.bytes.subarray(10, 30), p.bytes.subarray(5000, 5300), p.bytes.subarray(WINDOW - 8, WINDOW)]);
    expect(p.reads).toEqual([['a', 0, WINDOW]]);
    // the pack's last window is short: what lies in it is served, what lies past the end is not
    expect(await w.get('a', WINDOW + 900, 100)).toEqual(p.bytes.subarray(WINDOW + 900, WINDOW + 1000));
    expect(await w.get('a', WINDOW + 900, 101)).toBeUndefined();
    expect(p.reads).toEqual([
      ['a', 0, WINDOW],
      ['a', WINDOW, WINDOW],
    ]);
  });

  it('leaves out a range crossing a window end, and a window that cannot be read (not kept)', async () => {
    const p = fakePack(2 * WINDOW);
    const w = new PackWindows(p.read);
    expect(await w.get('a', WINDOW - 4, 8)).toBeUndefined();
    expect(p.reads).toEqual([]);
    expect(await w.get('gone', 0, 8)).toBeUndefined();
    expect(await w.get('gone', 0, 8)).toBeUndefined();
    expect(p.reads).toEqual([
      ['gone', 0, WINDOW],
      ['gone', 0, WINDOW],
    ]);
  });

  it('keeps the most recently used windows, and forgets a pack on request', async () => {
    const p = fakePack(2 * WINDOW);
    const w = new PackWindows(p.read);
    for (let i = 0; i < 9; i++) await w.get(`p${i}`, 0, 1);
    await w.get('p8', 0, 1); // kept
    await w.get('p0', 0, 1); // the least recently used: read again
    expect(p.reads.length).toBe(10);
    w.forget('p8');
    await w.get('p8', 0, 1);
    expect(p.reads.length).toBe(11);
  });
});

describe('Repository.loadBlob through windows', () => {
  async function repoWithBlobs() {
    const home = join(await mkdtemp(join(tmpdir(), 'cairn-windows-')), 'home');
    const { repo, close } = await initStores(home, 'pw', new Date('2026-01-01T00:00:00Z'));
    const blobs = Array.from({ length: 40 }, (_, i) => Buffer.from(JSON.stringify({ tree: i, pad: 'x'.repeat(i * 97) })));
    const ids: string[] = [];
    for (const b of blobs) ids.push((await repo.saveBlob(BlobType.tree, b)).id);
    await repo.flush();
    return { home, repo, close, blobs, ids };
  }

  it('reads the same bytes as without windows', async () => {
    const { home, repo, close, blobs, ids } = await repoWithBlobs();
    const w = repo.packWindows();
    for (let i = 0; i < ids.length; i++) expect(await repo.loadBlob(ids[i] as string, BlobType.tree, w)).toEqual(blobs[i]);
    await close();
    await rm(home, { recursive: true, force: true });
  });

  it('reads a blob whose window is damaged as without windows: the error it meets is the same', async () => {
    const { home, repo, close, blobs, ids } = await repoWithBlobs();
    const w = repo.packWindows();
    const id = ids[3] as string;
    expect(await repo.loadBlob(id, BlobType.tree, w)).toEqual(blobs[3]); // the window is read and kept
    const entry = repo.index.get(id);
    if (!entry) throw new Error('not indexed');
    const path = repo.store.path(entry.packId);
    const good = await readFile(path);
    const bad = Buffer.from(good);
    bad[entry.offset + 30] = (bad[entry.offset + 30] as number) ^ 0x01;
    await writeFile(path, bad);
    // the kept window still holds the good bytes (a pack's bytes never change under its ID)
    expect(await repo.loadBlob(id, BlobType.tree, w)).toEqual(blobs[3]);
    // a fresh pass reads the damage and fails as a read without windows does
    const fresh = repo.packWindows();
    await expect(repo.loadBlob(id, BlobType.tree, fresh)).rejects.toThrow(new RegExp(`pack ${entry.packId}.*authentication`));
    await expect(repo.loadBlob(id, BlobType.tree)).rejects.toThrow(new RegExp(`pack ${entry.packId}.*authentication`));
    // a missing pack: the same error as without windows
    await rm(path);
    await expect(repo.loadBlob(ids[5] as string, BlobType.tree, repo.packWindows())).rejects.toBeInstanceOf(CorruptionError);
    await expect(repo.loadBlob(ids[5] as string, BlobType.tree, repo.packWindows())).rejects.toThrow(/missing/);
    await close();
    await rm(home, { recursive: true, force: true });
  });
});
