// Receiving a whole pack from a stream into a pack store, for a friend taking our pack (pack-put)
// and for us fetching one back (pack-get): the frames are hashed and written on a worker thread as
// they arrive (no pack-sized buffer, nothing hashed on the main thread), and the file is moved into
// place only once its bytes hash to the pack ID; anything else leaves nothing behind.
import { rm } from 'node:fs/promises';
import { HashingWriter } from '../store/hashing-writer.js';
import type { LocalPackStore } from '../store/local-pack-store.js';
import { CorruptionError } from '../util/errors.js';
import type { Frames } from './framing.js';

/** The bytes received do not hash to the pack ID they were sent as. */
export class PackHashMismatchError extends CorruptionError {
  constructor(packId: string) {
    super(`pack ${packId}: bytes do not hash to the pack ID`, packId);
    this.name = 'PackHashMismatchError';
  }
}

/**
 * Receives `size` bytes sent with Frames.sendWindowed as pack `packId` of `store`. With
 * `dropCache` the written pages leave the page cache (a friend's packs are cold data; our own
 * fetched packs are read right after, so they stay).
 */
export async function receivePack(store: LocalPackStore, packId: string, size: number, f: Frames, opts: { dropCache: boolean }): Promise<void> {
  const tmp = await store.tempPathFor(packId);
  const file = await HashingWriter.create(tmp);
  try {
    await f.receiveWindowed(size, (parts, length) => file.write(parts, length));
    if ((await file.finish({ dropCache: opts.dropCache, expectDigest: packId })) !== packId) throw new PackHashMismatchError(packId);
    await store.adopt(packId, tmp);
  } catch (err) {
    await file.abort();
    await rm(tmp, { force: true });
    throw err;
  }
}
