// The pack-get service: serves /cairn/pack-get/1.0.0 (pack-get.ts) to friends, and from start to
// stop offers the repository its reads through friends (`activeReader`, which the composition root
// hands to the repository when opening it): a pack missing (or damaged) locally is fetched
// from the least busy friend holding it (mesh-reader.ts), and a friend serving bad bytes is
// reported and no longer counted as holding it. A fetch that is cut resumes from what arrived
// (fetch-partials.ts) when the same friend is asked again.
import { peerIdFromString } from '@libp2p/peer-id';
import { PROTOCOLS } from '../../../protocol/mesh.js';
import type { PackReader } from '../repo/pack-reader.js';
import type { LocalPackStore } from '../store/local-pack-store.js';
import type { MeshContext } from './context.js';
import type { FriendPresence } from './friend-presence.js';
import { FetchPartials } from './fetch-partials.js';
import { MeshPackReader } from './mesh-reader.js';
import { fetchPack, packGetHandler } from './pack-get.js';
import { ProtocolService, type Startable } from './service.js';

export class PackGetService implements Startable {
  readonly reader: MeshPackReader;
  /** What cut fetches left, for the next fetch of the pack from the same friend to resume. */
  readonly partials: FetchPartials;
  private readonly ctx: MeshContext;
  private readonly presence: FriendPresence;
  private readonly service: ProtocolService;
  /** Fetches in flight per friend: a restore spreads over the least busy. */
  private readonly fetchLoad = new Map<string, number>();
  private running = false;

  constructor(ctx: MeshContext, store: LocalPackStore, presence: FriendPresence) {
    this.ctx = ctx;
    this.presence = presence;
    this.service = new ProtocolService(ctx.node, PROTOCOLS.packGet, packGetHandler(ctx));
    this.partials = new FetchPartials(store.dir, ctx.clock);
    this.reader = new MeshPackReader(store, {
      holdersOf: (packId) => this.holdersOf(packId),
      fetch: async (peerId, packId, into) => {
        this.fetchLoad.set(peerId, (this.fetchLoad.get(peerId) ?? 0) + 1);
        try {
          await fetchPack(this.ctx, peerIdFromString(peerId), packId, into, this.partials);
        } finally {
          this.fetchLoad.set(peerId, (this.fetchLoad.get(peerId) ?? 1) - 1);
        }
      },
      report: async (peerId, problem, packId) => {
        await this.ctx.friends.addProblem(peerId, problem);
        await this.ctx.copies.remove(packId, peerId);
        process.stderr.write(`warning: friend ${(await this.ctx.friends.get(peerId))?.name ?? peerId} ${problem}\n`);
      },
    });
  }

  /** The reader through friends while the service runs (started, not yet stopped); the repository's reads use it then. */
  get activeReader(): PackReader | undefined {
    return this.running ? this.reader : undefined;
  }

  async start(): Promise<void> {
    await this.service.start();
    this.running = true;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.service.stop();
  }

  private async holdersOf(packId: string): Promise<Array<{ peerId: string; name: string }>> {
    const recorded = await this.ctx.copies.holders(packId);
    const friends = await this.ctx.friends.list();
    const byId = new Map(friends.map((f) => [f.peerId, f]));
    const ids = recorded.length > 0 ? recorded.filter((id) => byId.has(id)) : friends.map((f) => f.peerId);
    // least busy first, so a restore spreads over every friend that holds copies
    ids.sort((a, b) => (this.fetchLoad.get(a) ?? 0) - (this.fetchLoad.get(b) ?? 0) || Number(this.presence.isOnline(b)) - Number(this.presence.isOnline(a)));
    return ids.map((id) => ({ peerId: id, name: byId.get(id)?.name ?? id }));
  }
}
