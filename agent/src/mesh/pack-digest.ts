// Hashing what a pack store holds, a bounded buffer at a time (never a whole pack in memory): a
// storage challenge's digest over a few ranges (SPEC 13.8), and a whole pack's SHA-256, which is
// its name, to tell a damaged copy from a good one.
import { createHash } from 'node:crypto';
import type { LocalPackStore } from '../store/local-pack-store.js';

/** Bytes read from disk at a time. */
const READ_CHUNK_BYTES = 64 * 1024;

export interface ByteRange {
  offset: number;
  length: number;
}

/** SHA-256 (hex) over the nonce, then the bytes of each range in order, read from `store`. */
export async function challengeDigest(
  store: Pick<LocalPackStore, 'readInto'>,
  packId: string,
  nonce: Uint8Array,
  ranges: readonly ByteRange[],
): Promise<string> {
  const h = createHash('sha256').update(nonce);
  const buf = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  for (const r of ranges) {
    for (let done = 0; done < r.length;) {
      const n = Math.min(READ_CHUNK_BYTES, r.length - done);
      const target = buf.subarray(0, n);
      await store.readInto(packId, r.offset + done, target);
      h.update(target);
      done += n;
    }
  }
  return h.digest('hex');
}

/** Whether the `sizeBytes` bytes `store` holds as `packId` hash to that ID (a short or unreadable file does not). */
export async function packIntact(store: Pick<LocalPackStore, 'readInto' | 'stat'>, packId: string): Promise<boolean> {
  const info = await store.stat(packId);
  if (!info) return false;
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  try {
    for (let off = 0; off < info.sizeBytes;) {
      const n = Math.min(READ_CHUNK_BYTES, info.sizeBytes - off);
      const target = buf.subarray(0, n);
      await store.readInto(packId, off, target);
      h.update(target);
      off += n;
    }
  } catch {
    return false; // shrank or vanished while being read
  }
  return h.digest('hex') === packId;
}
