// Friends really are a pack store: the copies of our packs one friend holds, as a read-only
// PackStore (store/pack-store.ts). Its list is what the friend listed (pack-list: checked, bounded,
// within the listing deadline), each pack with the size that friend gave; reads are pack-get byte
// ranges from that friend. Recovery opens one per friend (side by side) and the engine rebuilds
// the index from their pack headers (repo/index-from-packs.ts).
import { peerIdFromString } from '@libp2p/peer-id';
import { MAX_RECOVERY_LIST_PACKS } from '../../../protocol/mesh.js';
import { PackMissingError, type PackInfo, type ReadablePackStore } from '../store/pack-store.js';
import { errorMessage } from '../util/errors.js';
import { mapLimit } from '../util/semaphore.js';
import type { MeshContext } from './context.js';
import { getPackRange } from './pack-get.js';
import { listPacks, type ListedPack } from './pack-list.js';

/** Friends listed at once. */
const LIST_CONCURRENCY = 8;

export class FriendPackStore implements ReadablePackStore {
  readonly peerId: string;
  readonly name: string;
  private readonly ctx: MeshContext;
  /** pack ID -> the size the friend listed, in ID order. */
  private readonly listed: Map<string, number>;

  constructor(ctx: MeshContext, friend: { peerId: string; name: string }, listed: ListedPack[]) {
    this.ctx = ctx;
    this.peerId = friend.peerId;
    this.name = friend.name;
    this.listed = new Map(listed.map((p) => [p.id, p.sizeBytes]));
  }

  /** The friend's store as it lists it now (at most `maxEntries` packs); throws what listPacks throws. */
  static async open(ctx: MeshContext, friend: { peerId: string; name: string }, maxEntries = MAX_RECOVERY_LIST_PACKS): Promise<FriendPackStore> {
    return new FriendPackStore(ctx, friend, await listPacks(ctx, peerIdFromString(friend.peerId), maxEntries));
  }

  async stat(id: string): Promise<PackInfo | undefined> {
    const sizeBytes = this.listed.get(id);
    return sizeBytes === undefined ? undefined : { id, sizeBytes };
  }

  async *list(): AsyncIterable<PackInfo> {
    for (const [id, sizeBytes] of this.listed) yield { id, sizeBytes };
  }

  /** Bytes as the friend serves them: the caller verifies them (the header's AEAD, or the pack's SHA-256). */
  async getRange(id: string, offset: number, length: number): Promise<Buffer> {
    if (!this.listed.has(id)) throw new PackMissingError(id);
    return getPackRange(this.ctx, peerIdFromString(this.peerId), id, { offset, length });
  }

  async get(id: string): Promise<Buffer> {
    const sizeBytes = this.listed.get(id);
    if (sizeBytes === undefined) throw new PackMissingError(id);
    return this.getRange(id, 0, sizeBytes);
  }
}

/**
 * Every friend's copies of our packs (listed side by side: a slow friend costs its own listing
 * deadline, not everyone's), in the order of `friends`, each listed pack recorded as a copy there
 * with the size that friend gave. A friend that cannot list is a warning and an empty store.
 */
export async function openFriendPackStores(ctx: MeshContext, friends: Array<{ peerId: string; name: string }>, warnings: string[]): Promise<FriendPackStore[]> {
  const stores = await mapLimit(friends, LIST_CONCURRENCY, async (f) => {
    try {
      return await FriendPackStore.open(ctx, f);
    } catch (err) {
      warnings.push(`cannot list packs at ${f.name}: ${errorMessage(err)}`);
      return new FriendPackStore(ctx, f, []);
    }
  });
  for (const s of stores) for await (const p of s.list()) await ctx.copies.add(p.id, s.peerId, p.sizeBytes);
  return stores;
}
