// The our-copies ledger: which friend confirmed storing which of our packs, with the size it
// took. LevelDB sublevel `replicas` (state/db.ts), keyed "<pack ID>!<friend PeerId>".
import { packChargeBytes } from '../../../protocol/mesh.js';
import type { Sublevels } from '../state/db.js';

export interface CopyMap {
  /** pack ID -> friends holding it */
  byPack: Map<string, Set<string>>;
  /** friend -> bytes charged there (as the friend charges them) */
  bytesAt: Map<string, number>;
  /** friend -> packs there */
  packsAt: Map<string, number>;
  /** pack ID -> its size in bytes, as a friend confirmed storing it */
  sizes: Map<string, number>;
}

export class OurCopies {
  private readonly s: Pick<Sublevels, 'replicas'>;

  constructor(state: Pick<Sublevels, 'replicas'>) {
    this.s = state;
  }

  async add(packId: string, peerId: string, size: number): Promise<void> {
    await this.s.replicas.put(`${packId}!${peerId}`, String(size));
  }

  /** Bytes of our pack `packId` that `peerId` confirmed it stores; 0 when we have no record. */
  async size(packId: string, peerId: string): Promise<number> {
    return Number((await this.s.replicas.get(`${packId}!${peerId}`)) ?? 0);
  }

  async remove(packId: string, peerId: string): Promise<void> {
    await this.s.replicas.del(`${packId}!${peerId}`);
  }

  /** `packIds` no longer count as copies at `peerId`. */
  async removeAt(peerId: string, packIds: string[]): Promise<void> {
    await this.s.replicas.batch(packIds.map((p) => ({ type: 'del' as const, key: `${p}!${peerId}` })));
  }

  /** No copy counts at `peerId` any more (the friend was removed). */
  async forgetFriend(peerId: string): Promise<void> {
    const mine: string[] = [];
    for await (const k of this.s.replicas.keys()) if (k.endsWith(`!${peerId}`)) mine.push(k);
    await this.s.replicas.batch(mine.map((key) => ({ type: 'del' as const, key })));
  }

  async holders(packId: string): Promise<string[]> {
    const out: string[] = [];
    for await (const k of this.s.replicas.keys({ gte: `${packId}!`, lt: `${packId}!~` })) out.push(k.slice(packId.length + 1));
    return out;
  }

  /** The friends holding `packId`, each with the size it took. */
  async copiesOf(packId: string): Promise<Array<{ peerId: string; size: string }>> {
    const out: Array<{ peerId: string; size: string }> = [];
    for await (const [k, size] of this.s.replicas.iterator({ gte: `${packId}!`, lt: `${packId}!~` })) out.push({ peerId: k.slice(packId.length + 1), size });
    return out;
  }

  /** pack ID -> friends holding it, and bytes charged / packs per friend. */
  async map(): Promise<CopyMap> {
    const byPack = new Map<string, Set<string>>();
    const bytesAt = new Map<string, number>();
    const packsAt = new Map<string, number>();
    const sizes = new Map<string, number>();
    for await (const [k, v] of this.s.replicas.iterator()) {
      const [packId, peerId] = k.split('!') as [string, string];
      let set = byPack.get(packId);
      if (!set) byPack.set(packId, (set = new Set()));
      set.add(peerId);
      sizes.set(packId, Number(v));
      // charged as the friend charges them (at least MIN_PACK_CHARGE_BYTES a pack): the usage we show equals its own
      bytesAt.set(peerId, (bytesAt.get(peerId) ?? 0) + packChargeBytes(Number(v)));
      packsAt.set(peerId, (packsAt.get(peerId) ?? 0) + 1);
    }
    return { byPack, bytesAt, packsAt, sizes };
  }
}
