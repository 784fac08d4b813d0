// The HashingWriter suite, run by store/hashing-writer*.test.ts against the TypeScript sources
// (inline on the calling thread) and the compiled dist/ (on the worker thread, as the agent runs
// it; `npm test` builds first). Separate files: one process cannot load both copies (koffi types
// are registered once per process).
import { createHash, randomBytes } from 'node:crypto';
import { fstatSync } from 'node:fs';
import { mkdtemp, open, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type * as HashingWriterModule from '../../src/store/hashing-writer.js';

type Module = typeof HashingWriterModule;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const dir = () => mkdtemp(join(tmpdir(), 'cairn-hashing-writer-'));

/** Splits bytes into frames of the given sizes, each frame into 1 to 3 pieces (as the transport hands them over). */
function frames(bytes: Buffer, sizes: number[]): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  let off = 0;
  for (const size of sizes) {
    const f = bytes.subarray(off, off + size);
    off += size;
    const cut1 = Math.floor(f.length / 3);
    const cut2 = Math.floor((2 * f.length) / 3);
    out.push(size % 2 === 0 ? [f] : [f.subarray(0, cut1), f.subarray(cut1, cut2), f.subarray(cut2)]);
  }
  return out;
}

export function hashingWriterSuite(name: string, worker: boolean, load: () => Promise<Module>): void {
  describe(`HashingWriter, ${name}`, () => {
    it('writes every frame in order and returns the SHA-256 of the whole file', async () => {
      const { HashingWriter } = await load();
      const sizes = [1, 1024 * 1024, 77, 1024 * 1024 - 1, 3 * 1024 * 1024, 0, 5000];
      const bytes = randomBytes(sizes.reduce((a, b) => a + b, 0));
      const path = join(await dir(), 'pack');
      const w = await HashingWriter.create(path);
      expect(w.onWorker).toBe(worker);
      for (const parts of frames(bytes, sizes))
        await w.write(
          parts,
          parts.reduce((a, p) => a + p.length, 0),
        );
      expect(await w.finish({ dropCache: true })).toBe(sha(bytes));
      expect((await readFile(path)).equals(bytes)).toBe(true);
      expect((await stat(path)).mode & 0o777).toBe(0o600);
    });

    it('a file that does not hash to the expected digest is closed without an fsync, its digest returned', async () => {
      const { HashingWriter } = await load();
      const bytes = randomBytes(200_000);
      const d = await dir();
      const syncs: string[] = [];
      const probe = await open(join(d, 'probe'), 'w');
      const proto = Object.getPrototypeOf(probe) as { sync(): Promise<void> };
      await probe.close();
      const spy = vi.spyOn(proto, 'sync').mockImplementation(async function (this: { fd: number }) {
        syncs.push(String(this.fd));
      });
      try {
        const bad = await HashingWriter.create(join(d, 'bad'));
        await bad.write([bytes], bytes.length);
        expect(await bad.finish({ expectDigest: '0'.repeat(64) })).toBe(sha(bytes));
        expect(syncs, 'a file about to be thrown away was fsynced').toEqual([]);
        const good = await HashingWriter.create(join(d, 'good'));
        await good.write([bytes], bytes.length);
        expect(await good.finish({ expectDigest: sha(bytes) })).toBe(sha(bytes));
        expect(syncs).toHaveLength(1);
      } finally {
        spy.mockRestore();
      }
    });

    it('keeps files apart when many are written at once', async () => {
      const { HashingWriter } = await load();
      const d = await dir();
      const files = Array.from({ length: 8 }, (_, i) => randomBytes(300_000 + i * 123_457));
      const digests = await Promise.all(
        files.map(async (bytes, i) => {
          const w = await HashingWriter.create(join(d, `f${i}`));
          for (const parts of frames(bytes, [100_000, 200_000, bytes.length - 300_000]))
            await w.write(
              parts,
              parts.reduce((a, p) => a + p.length, 0),
            );
          return w.finish();
        }),
      );
      expect(digests).toEqual(files.map(sha));
      for (const [i, bytes] of files.entries()) expect((await readFile(join(d, `f${i}`))).equals(bytes)).toBe(true);
    });

    it('refuses to replace an existing file', async () => {
      const { HashingWriter } = await load();
      const path = join(await dir(), 'there');
      await writeFile(path, 'old');
      await expect(HashingWriter.create(path)).rejects.toThrow(/EEXIST/);
      expect(await readFile(path, 'utf8')).toBe('old');
    });

    it('abort waits for queued writes, then closes the file (twice is harmless)', async () => {
      const { HashingWriter } = await load();
      const path = join(await dir(), 'partial');
      const w = await HashingWriter.create(path);
      const fd = (w as unknown as { fh: { fd: number } }).fh.fd;
      const bytes = randomBytes(4 * 1024 * 1024);
      for (const parts of frames(bytes, [1024 * 1024, 1024 * 1024, 1024 * 1024, 1024 * 1024])) await w.write(parts, 1024 * 1024);
      await w.abort();
      await w.abort();
      expect(() => fstatSync(fd)).toThrow(/EBADF/);
      // every queued write landed before the close: none went to a later file that reused the fd
      expect((await readFile(path)).equals(bytes)).toBe(true);
    });

    it('a write that fails is reported by the next write or by finish, with its errno', async () => {
      const { HashingWriter } = await load();
      const path = join(await dir(), 'broken');
      const w = await HashingWriter.create(path);
      // the descriptor is closed behind the writer's back: the next write fails with EBADF
      await (w as unknown as { fh: { close(): Promise<void> } }).fh.close();
      const bytes = randomBytes(2048);
      const attempt = async () => {
        await w.write([bytes], bytes.length);
        await w.write([bytes], bytes.length);
        return w.finish();
      };
      await expect(attempt()).rejects.toMatchObject({ code: expect.stringMatching(/^(EBADF|ERR_)/) });
      await w.abort();
    });
  });
}
