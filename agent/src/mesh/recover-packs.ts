// Recovery's pack phase: which packs each friend holds (pack-list, at most MAX_RECOVERY_LIST_PACKS
// per friend, within the listing deadline, friends side by side), then the index from each pack's header, fetched as two
// byte ranges. Every holder's listed size is kept with that holder: a friend lying about a pack's
// size spoils only its own header fetch, and the next holder is asked with the size it listed.
import { peerIdFromString } from '@libp2p/peer-id';
import { MAX_RECOVERY_LIST_PACKS } from '../../../protocol/mesh.js';
import { decodeHeader, headerLength, PACK_TRAILER_BYTES } from '../repo/pack-format.js';
import type { Repository } from '../repo/repository.js';
import { errorMessage } from '../util/errors.js';
import { mapLimit } from '../util/semaphore.js';
import type { MeshContext } from './context.js';
import { getPackRange } from './pack-get.js';
import { listPacks } from './pack-list.js';

/** pack ID -> each friend listing it, with the size that friend gave, in the order the friends were asked. */
export type Holdings = Map<string, Array<{ peerId: string; sizeBytes: number }>>;

/** Friends listed at once. */
const LIST_CONCURRENCY = 8;

/**
 * Lists the packs every friend holds for us (side by side: a slow friend costs its own listing
 * deadline, not everyone's), recording each as a copy there with its size.
 */
export async function listHoldings(ctx: MeshContext, friends: Array<{ peerId: string; name: string }>, warnings: string[]): Promise<Holdings> {
  const lists = await mapLimit(friends, LIST_CONCURRENCY, async (h) => {
    try {
      return await listPacks(ctx, peerIdFromString(h.peerId), MAX_RECOVERY_LIST_PACKS);
    } catch (err) {
      warnings.push(`cannot list packs at ${h.name}: ${errorMessage(err)}`);
      return [];
    }
  });
  const holdings: Holdings = new Map();
  for (const [i, h] of friends.entries()) {
    for (const p of lists[i] ?? []) {
      await ctx.copies.addReplica(p.id, h.peerId, p.sizeBytes);
      const e = holdings.get(p.id);
      if (e) e.push({ peerId: h.peerId, sizeBytes: p.sizeBytes });
      else holdings.set(p.id, [{ peerId: h.peerId, sizeBytes: p.sizeBytes }]);
    }
  }
  return holdings;
}

/** Indexes every pack from the first holder that serves a valid header for the size it listed; returns how many were indexed. */
export async function indexFromHeaders(ctx: MeshContext, repo: Repository, holdings: Holdings, warnings: string[]): Promise<number> {
  let indexed = 0;
  for (const [packId, holders] of holdings) {
    let done = false;
    for (const { peerId, sizeBytes } of holders) {
      try {
        const peer = peerIdFromString(peerId);
        if (sizeBytes < PACK_TRAILER_BYTES) throw new Error(`listed size ${sizeBytes} is smaller than a pack trailer`);
        const trailer = await getPackRange(ctx, peer, packId, { offset: sizeBytes - PACK_TRAILER_BYTES, length: PACK_TRAILER_BYTES });
        const hlen = headerLength(packId, sizeBytes, trailer);
        const header = await getPackRange(ctx, peer, packId, { offset: sizeBytes - PACK_TRAILER_BYTES - hlen, length: hlen });
        await repo.index.addPack(packId, decodeHeader(packId, repo.keys.meta, header, sizeBytes));
        done = true;
        indexed += 1;
        break;
      } catch (err) {
        warnings.push(`pack ${packId} header from ${peerId}: ${errorMessage(err)}`);
      }
    }
    if (!done) warnings.push(`pack ${packId}: no friend served a valid header`);
  }
  return indexed;
}
