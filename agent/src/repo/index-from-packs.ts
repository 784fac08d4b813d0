// Rebuilding the index from pack headers (recovery: the packs are at friends, only their headers
// are read). A pack's header is at its end: the trailer (PACK_TRAILER_BYTES) gives the sealed
// header's length, and the header (opened with the meta key) lists every blob in the pack. Each
// store is asked with the size it gives for the pack: a store wrong about a size spoils only its
// own read, and the next store that lists the pack is tried.
import type { ReadablePackStore } from '../store/pack-store.js';
import { errorMessage } from '../util/errors.js';
import { decodeHeader, headerLength, PACK_TRAILER_BYTES, type PackEntry } from './pack-format.js';
import type { Repository } from './repository.js';

/** A store to index from, named in warnings. */
export interface NamedPackStore {
  name: string;
  store: ReadablePackStore;
}

/** The blobs a pack of `sizeBytes` in `store` holds, from its header (two byte ranges). */
export async function readPackHeader(store: ReadablePackStore, packId: string, sizeBytes: number, metaKey: Buffer): Promise<PackEntry[]> {
  if (sizeBytes < PACK_TRAILER_BYTES) throw new Error(`listed size ${sizeBytes} is smaller than a pack trailer`);
  const trailer = await store.getRange(packId, sizeBytes - PACK_TRAILER_BYTES, PACK_TRAILER_BYTES);
  const hlen = headerLength(packId, sizeBytes, trailer);
  const header = await store.getRange(packId, sizeBytes - PACK_TRAILER_BYTES - hlen, hlen);
  return decodeHeader(packId, metaKey, header, sizeBytes);
}

/**
 * Indexes every pack the stores list, each from the first store (in the order given) whose copy
 * has a valid header for the size that store lists; a failed read is a warning, and so is a pack
 * no store could give (`holder` names what the stores are, for that warning). Returns the packs
 * listed and how many were indexed.
 */
export async function indexFromPacks(
  repo: Repository,
  stores: NamedPackStore[],
  warnings: string[],
  holder = 'store',
): Promise<{ packs: number; indexed: number }> {
  /** pack ID -> each store listing it, with the size that store gave, in the order of the stores. */
  const copies = new Map<string, Array<{ name: string; store: ReadablePackStore; sizeBytes: number }>>();
  for (const { name, store } of stores) {
    for await (const p of store.list()) {
      const e = copies.get(p.id);
      if (e) e.push({ name, store, sizeBytes: p.sizeBytes });
      else copies.set(p.id, [{ name, store, sizeBytes: p.sizeBytes }]);
    }
  }
  let indexed = 0;
  for (const [packId, holders] of copies) {
    let done = false;
    for (const { name, store, sizeBytes } of holders) {
      try {
        await repo.index.addPack(packId, await readPackHeader(store, packId, sizeBytes, repo.keys.meta));
        done = true;
        indexed += 1;
        break;
      } catch (err) {
        warnings.push(`pack ${packId} header from ${name}: ${errorMessage(err)}`);
      }
    }
    if (!done) warnings.push(`pack ${packId}: no ${holder} served a valid header`);
  }
  return { packs: copies.size, indexed };
}
