// One file saver for directories and volumes (issue 17 item 3): a file's bytes read from an fd (a
// directory, a volume's mountpoint) and the same bytes as a stream (a helper container's tar entry,
// in pieces of any size) give the same chunk IDs, so dedup and parents work across read paths.
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BlobType } from '../../src/repo/blob.js';
import type { Stores } from '../../src/compose-root.js';
import type { Repository } from '../../src/repo/repository.js';
import { initStores } from '../helpers/stores.js';
import { FileSaver } from '../../src/snapshot/file-saver.js';
import type { ArchiveProgress } from '../../src/snapshot/progress.js';

const newProgress = (): ArchiveProgress => ({ filesDone: 0, bytesDone: 0, filesRead: 0, filesReused: 0, dirs: 0, addedBytes: 0, currentPath: '' });

/** `data` in pieces of the given sizes, round and round. */
async function* pieces(data: Buffer, sizes: number[]): AsyncGenerator<Uint8Array> {
  for (let off = 0, i = 0; off < data.length; i++) {
    const n = sizes[i % sizes.length] as number;
    yield data.subarray(off, off + n);
    off += n;
  }
}

describe('FileSaver: one chunk pipeline for fds and streams', () => {
  let work: string;
  let repo: Repository;
  let stores: Stores | undefined;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cairn-file-saver-'));
    stores = await initStores(join(work, 'home'), 'pw', new Date('2026-01-01T00:00:00Z'));
    repo = stores.repo;
  });
  afterAll(async () => stores?.close());

  const viaFd = async (saver: FileSaver, data: Buffer, name: string) => {
    await writeFile(join(work, name), data);
    const fd = openSync(join(work, name), 'r');
    try {
      return await saver.saveFd(fd, data.length);
    } finally {
      closeSync(fd);
    }
  };

  test('a large file: the same chunk IDs from an fd and from a stream in odd pieces; the blobs hold the bytes', async () => {
    const data = randomBytes(3 * repo.chunker.params.maxBytes + 12345);
    const progress = newProgress();
    const saver = new FileSaver(repo, progress);
    const fromFd = await viaFd(saver, data, 'large');
    const saves: Promise<void>[] = [];
    const fromStream = await saver.saveStream(pieces(data, [1, 65536, 1000003, 7]), saves);
    await Promise.all(saves);
    expect(fromFd.total).toBe(data.length);
    expect(fromStream).toEqual(fromFd);
    expect(fromFd.ids.length).toBeGreaterThan(3);
    // both reads are counted; the second added nothing
    expect(progress.bytesDone).toBe(2 * data.length);
    await repo.flush();
    const back = Buffer.concat(await Promise.all(fromFd.ids.map((id) => repo.loadBlob(id, BlobType.data))));
    expect(back.equals(data)).toBe(true);
  });

  test('a file of at most the minimum chunk (the fd path reads it in one go): one chunk, the same from a stream', async () => {
    const data = randomBytes(repo.chunker.params.minBytes);
    const saver = new FileSaver(repo, newProgress());
    const fromFd = await viaFd(saver, data, 'small');
    const saves: Promise<void>[] = [];
    const fromStream = await saver.saveStream(pieces(data, [4096]), saves);
    await Promise.all(saves);
    expect(fromFd.ids).toHaveLength(1);
    expect(fromStream).toEqual(fromFd);
  });

  test('files between the minimum and the largest chunk: the same chunks from an fd as from a stream, the bytes back', async () => {
    const { minBytes, maxBytes } = repo.chunker.params;
    const saver = new FileSaver(repo, newProgress());
    let several = 0;
    for (const size of [minBytes + 1, 2 * minBytes + 12345, maxBytes - 1, maxBytes]) {
      const data = randomBytes(size);
      const fromFd = await viaFd(saver, data, `whole-${size}`);
      const saves: Promise<void>[] = [];
      const fromStream = await saver.saveStream(pieces(data, [65536, 3]), saves);
      await Promise.all(saves);
      expect(fromFd.total).toBe(size);
      expect(fromStream).toEqual(fromFd);
      if (fromFd.ids.length > 1) several++;
      await repo.flush();
      const back = Buffer.concat(await Promise.all(fromFd.ids.map((id) => repo.loadBlob(id, BlobType.data))));
      expect(back.equals(data)).toBe(true);
    }
    // random data of 8 MiB cuts into several chunks: the cuts inside one read buffer are checked too
    expect(several).toBeGreaterThan(0);
  });

  test('an empty file: no chunks either way', async () => {
    const saver = new FileSaver(repo, newProgress());
    const saves: Promise<void>[] = [];
    expect(await viaFd(saver, Buffer.alloc(0), 'empty')).toEqual({ ids: [], total: 0 });
    expect(await saver.saveStream(pieces(Buffer.alloc(0), [1]), saves)).toEqual({ ids: [], total: 0 });
  });
});
