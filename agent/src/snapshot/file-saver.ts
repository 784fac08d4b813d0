// One file saver for every source: a file's bytes, from an fd (directories, volume mountpoints) or a
// stream (a helper container's tar entry), through the chunker into data blobs. The cut points
// depend on the bytes only, so the same content gives the same chunk IDs whichever way it was read
// (SPEC 6, 6.1). Memory is bounded by two budgets: chunk bytes read but not yet sealed into a pack,
// and the read buffers of files being read at once (no cross waiting between them).
import { readSync } from 'node:fs';
import { BlobType } from '../repo/blob.js';
import type { Repository } from '../repo/repository.js';
import { SizeClassPool } from '../util/buffer-pool.js';
import { CairnError, throwIfCancelled } from '../util/errors.js';
import { Semaphore } from '../util/semaphore.js';
import type { ArchiveProgress } from './progress.js';

/**
 * Chunk bytes read but not yet sealed into a pack, across all files (bounds memory). 8 MiB kept
 * both cores as busy as 16 did in interleaved first backups of the reference data set, with a lower peak.
 */
const CHUNK_BYTES_IN_FLIGHT = 8 * 1024 * 1024;
/** Read buffers of files being read at once (one max-chunk buffer, 8 MiB, per large file: one such file at a time). */
const READ_BUFFER_BYTES = 8 * 1024 * 1024;
/** Chunks at least this large get their own ArrayBuffer (transferable to a seal worker). */
const TRANSFER_MIN_BYTES = 64 * 1024;
/** One byte read past the expected end tells whether a file grew. */
const PROBE = Buffer.alloc(1);

/** Saves a blob (or, in a dry run, only says what it would add): the repository's saveBlob or the archiver's dry-run stand-in. */
export type StoreBlob = (type: BlobType, data: Buffer, knownId?: string) => Promise<{ id: string; addedBytes: number }>;

export class FileSaver {
  private readonly chunkBudget = new Semaphore(CHUNK_BYTES_IN_FLIGHT);
  private readonly bufferBudget = new Semaphore(READ_BUFFER_BYTES);
  /** Streams are read one at a time, through one max-chunk buffer (chunks are copied out). */
  private readonly streamTurn = new Semaphore(1);
  /**
   * Read buffers, reused from file to file of this backup (they go with it, not kept by a daemon):
   * a first backup of the reference data set (BENCHMARKS.md) otherwise allocated about 1 GB of
   * them, one per file larger than the minimum chunk, and ran about 10% more full garbage
   * collections (V8 counts each new buffer as external memory). Room for what the read budget lets
   * be in use at once, in the size classes' rounding.
   */
  private readonly readBuffers = new SizeClassPool(64 * 1024, 8 * 1024 * 1024, 2 * READ_BUFFER_BYTES);
  private streamBuf: Buffer | undefined;

  constructor(
    private readonly repo: Repository,
    /** Added and read bytes are counted here. */
    private readonly progress: ArchiveProgress,
    private readonly store: StoreBlob = (type, data, knownId) => repo.saveBlob(type, data, knownId),
    /** A cancelled backup stops before its next read buffer (the chunks on their way land first). */
    private readonly signal?: AbortSignal,
  ) {}

  /** Copies `len` bytes into a chunk; large ones get an ArrayBuffer of their own, so they can move to a worker without a copy. */
  private static chunkOf(buf: Buffer, len: number): Buffer {
    const chunk = len >= TRANSFER_MIN_BYTES ? Buffer.allocUnsafeSlow(len) : Buffer.allocUnsafe(len);
    buf.copy(chunk, 0, 0, len);
    return chunk;
  }

  /**
   * Stores one chunk in the background: its ID is known (and pushed to `ids`) at once, its blob is
   * sealed while reading goes on, within the bytes-in-flight budget. The job lands in `saves`.
   */
  private async saveChunk(chunk: Buffer, ids: string[], saves: Promise<void>[]): Promise<void> {
    const length = chunk.length; // the chunk may be transferred to a worker: note its length first
    const id = this.repo.blobIdOf(chunk);
    ids.push(id);
    const got = await this.chunkBudget.acquire(length);
    const job = (async () => {
      try {
        const saved = await this.store(BlobType.data, chunk, id);
        this.progress.addedBytes += saved.addedBytes;
        this.progress.bytesDone += length;
      } finally {
        this.chunkBudget.release(got);
      }
    })();
    // Rejections are seen by whoever awaits `saves`; until then they must not count as unhandled.
    job.catch(() => undefined);
    saves.push(job);
  }

  /**
   * Reads a file open as `fd` (at offset 0) through the chunker and returns its chunk IDs and the
   * bytes read, once every chunk is stored. Reads are synchronous (cheap on a warm cache);
   * compressing and sealing happen in worker threads while reading goes on.
   */
  async saveFd(fd: number, expectedSize: number): Promise<{ ids: string[]; total: number }> {
    const { maxBytes, minBytes } = this.repo.chunker.params;
    const ids: string[] = [];
    const saves: Promise<void>[] = [];
    try {
      if (expectedSize > 0 && expectedSize <= minBytes) {
        // One chunk for sure: read it straight into its own buffer (no read buffer, no copy).
        const chunk = expectedSize >= TRANSFER_MIN_BYTES ? Buffer.allocUnsafeSlow(expectedSize) : Buffer.allocUnsafe(expectedSize);
        let got = 0;
        // positional reads leave the file offset at 0 for the general path below
        for (let n = -1; got < expectedSize && n !== 0; got += n) n = readSync(fd, chunk, got, expectedSize - got, got);
        if (got === expectedSize && readSync(fd, PROBE, 0, 1, expectedSize) === 0) {
          await this.saveChunk(chunk, ids, saves);
          await Promise.all(saves);
          return { ids, total: expectedSize };
        }
        // it shrank or grew while we read it: start over through the general path below
      }
      // Small files get a buffer of their size (+1 to see growth); a buffer never exceeds the max chunk.
      const bufBytes = Math.min(maxBytes, expectedSize + 1);
      const bufGot = await this.bufferBudget.acquire(bufBytes);
      // the read buffers of this file, given back once it is read (its chunks are copies)
      const reads: Buffer[] = [];
      try {
        let buf = this.readBuffers.take(bufBytes);
        reads.push(buf);
        let filled = 0;
        let eof = false;
        let total = 0;
        while (!eof || filled > 0) {
          throwIfCancelled(this.signal);
          while (!eof && filled < buf.length) {
            const bytesRead = readSync(fd, buf, filled, buf.length - filled, null);
            if (bytesRead === 0) eof = true;
            filled += bytesRead;
          }
          if (filled === 0) break;
          const len = this.repo.chunker.cut(buf, 0, filled, eof);
          if (len < 0) {
            if (buf.length >= maxBytes) throw new CairnError('E_INTERNAL', 'chunker asked for more data with a full buffer');
            const bigger = this.readBuffers.take(maxBytes); // the file grew while we read it
            reads.push(bigger);
            buf.copy(bigger, 0, 0, filled);
            buf = bigger;
            continue;
          }
          await this.saveChunk(FileSaver.chunkOf(buf, len), ids, saves);
          total += len;
          buf.copyWithin(0, len, filled);
          filled -= len;
        }
        await Promise.all(saves);
        return { ids, total };
      } finally {
        for (const b of reads) this.readBuffers.give(b);
        this.bufferBudget.release(bufGot);
      }
    } catch (err) {
      await Promise.allSettled(saves);
      throw err;
    }
  }

  /**
   * A file's content as a stream (a tar entry, or a file read piece by piece) through the chunker,
   * the same cut points as saveFd's. The IDs are known when it returns; the blobs are stored in the
   * background, their jobs pushed to `saves` for the caller to await. On an error every save in
   * `saves` and of this file is settled before it is thrown.
   */
  async saveStream(src: AsyncIterable<Uint8Array>, saves: Promise<void>[]): Promise<{ ids: string[]; total: number }> {
    return this.streamTurn.with(1, async () => {
      const chunker = this.repo.chunker;
      const { maxBytes } = chunker.params;
      const ids: string[] = [];
      const mine: Promise<void>[] = [];
      let total = 0;
      const emit = async (buf: Buffer, len: number) => {
        total += len;
        await this.saveChunk(FileSaver.chunkOf(buf, len), ids, mine);
      };
      const buf = (this.streamBuf ??= Buffer.allocUnsafe(maxBytes));
      let filled = 0;
      try {
        for await (const piece of src) {
          let off = 0;
          while (off < piece.length) {
            const n = Math.min(piece.length - off, maxBytes - filled);
            buf.set(piece.subarray(off, off + n), filled);
            filled += n;
            off += n;
            while (filled === maxBytes) {
              const len = chunker.cut(buf, 0, filled, false);
              await emit(buf, len);
              buf.copyWithin(0, len, filled);
              filled -= len;
            }
          }
        }
        while (filled > 0) {
          const len = chunker.cut(buf, 0, filled, true);
          await emit(buf, len);
          buf.copyWithin(0, len, filled);
          filled -= len;
        }
      } catch (err) {
        // nothing of the backup is still being written when the error leaves
        await Promise.allSettled([...saves, ...mine]);
        throw err;
      } finally {
        saves.push(...mine);
      }
      return { ids, total };
    });
  }
}
