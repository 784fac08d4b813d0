// Receiving a whole pack from a stream into a pack store, for a friend taking our pack (pack-put)
// and for us fetching one back (pack-get): the frames are hashed and written on a worker thread as
// they arrive (no pack-sized buffer, nothing hashed on the main thread), and the file is moved into
// place only once its bytes hash to the pack ID; anything else leaves nothing behind. A failure of
// our own disk comes out as DiskFullError / DiskWriteError, never as the sender's fault: a reader
// that tries the next holder after a bad copy must not blame every friend for a full local disk.
import { rm } from 'node:fs/promises';
import { HashingWriter } from '../store/hashing-writer.js';
import type { LocalPackStore } from '../store/local-pack-store.js';
import { CorruptionError } from '../util/errors.js';
import { writeError } from '../util/write-errors.js';
import type { Frames } from './framing.js';

/** The bytes received do not hash to the pack ID they were sent as. */
export class PackHashMismatchError extends CorruptionError {
  constructor(packId: string) {
    super(`pack ${packId}: bytes do not hash to the pack ID`, packId);
    this.name = 'PackHashMismatchError';
  }
}

/** A push that can resume (partial-packs.ts): the first `offset` bytes come from what a cut push left, and a cut keeps what arrived. */
export interface ResumablePush {
  offset: number;
  /** Writes the `offset` bytes kept from the cut push. */
  replay(write: (parts: Uint8Array[], length: number) => Promise<void>): Promise<void>;
  /** Keeps the temp file (bytes received in order) for the next push, or deletes it. */
  keep(tmp: string): Promise<void>;
}

/**
 * Receives `size` bytes sent with Frames.sendWindowed as pack `packId` of `store`. With
 * `dropCache` the written pages leave the page cache (a friend's packs are cold data; our own
 * fetched packs are read right after, so they stay). With `resume`, the stream carries only the
 * bytes after `resume.offset`; the whole file is hashed all the same, and a cut push keeps what it
 * wrote (a pack that does not hash to its ID keeps nothing).
 */
export async function receivePack(
  store: LocalPackStore,
  packId: string,
  size: number,
  f: Frames,
  opts: { dropCache: boolean; resume?: ResumablePush },
): Promise<void> {
  const local = <T>(p: Promise<T>): Promise<T> =>
    p.catch((err: unknown) => {
      throw writeError(`pack ${packId} to ${store.dir}`, err);
    });
  const tmp = await local(store.tempPathFor(packId));
  const file = await local(HashingWriter.create(tmp));
  const offset = opts.resume?.offset ?? 0;
  const write = (parts: Uint8Array[], length: number) => local(file.write(parts, length));
  try {
    if (opts.resume && offset > 0) await opts.resume.replay(write);
    await f.receiveWindowed(size - offset, write);
    if ((await local(file.finish({ dropCache: opts.dropCache, expectDigest: packId }))) !== packId) throw new PackHashMismatchError(packId);
    await local(store.adopt(packId, tmp));
  } catch (err) {
    await file.abort();
    if (opts.resume && !(err instanceof PackHashMismatchError)) await opts.resume.keep(tmp).catch(() => rm(tmp, { force: true }));
    else await rm(tmp, { force: true });
    throw err;
  }
}
