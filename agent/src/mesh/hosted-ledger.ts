// The hosted-packs ledger: what we keep for friends, the packs (ID and size, per friend) and the
// newest signed head each friend gave us; with each friend's usage against its grant kept as a
// running total. LevelDB sublevels `hosted` and `heads` (state/db.ts); the pack files themselves
// are hosted-store.ts's.
import { packChargeBytes } from '../../../protocol/mesh.js';
import type { Sublevels } from '../state/db.js';
import { Semaphore } from '../util/semaphore.js';
import { DURABLE } from './ledger-writes.js';

/** What a friend's packs here cost it: bytes charged against its grant (packChargeBytes each) and the pack count. */
export interface HostedUsage {
  chargedBytes: number;
  packs: number;
}

/**
 * Usage of each friend, summed from LevelDB once and then kept up to date by every write, per
 * database (every HostedPacks on it shares them): a pack-put reservation, which runs under a lock
 * for each incoming pack, must not scan all the packs the friend already has here.
 */
interface HostedTotals {
  totals: Map<string, HostedUsage>;
  /** Hosted writes and first sums one at a time: a write reads the old size to adjust the total. */
  lock: Semaphore;
}
const hostedTotals = new WeakMap<object, HostedTotals>();

export class HostedPacks {
  private readonly s: Pick<Sublevels, 'hosted' | 'heads'>;

  constructor(state: Pick<Sublevels, 'hosted' | 'heads'>) {
    this.s = state;
  }

  private hostedTotals(): HostedTotals {
    let t = hostedTotals.get(this.s.hosted);
    if (!t) hostedTotals.set(this.s.hosted, (t = { totals: new Map(), lock: new Semaphore(1) }));
    return t;
  }

  /** Bytes a friend's packs here are charged against its grant (what `cairn peers` shows as stored for it). */
  async bytes(peerId: string): Promise<number> {
    return (await this.usage(peerId)).chargedBytes;
  }

  async usage(peerId: string): Promise<HostedUsage> {
    const t = this.hostedTotals();
    const cached = t.totals.get(peerId);
    if (cached !== undefined) return { ...cached };
    // the first sum holds the write lock, so no write can slip between it and the cached total
    return t.lock.with(1, async () => {
      let total = t.totals.get(peerId);
      if (total !== undefined) return { ...total };
      total = { chargedBytes: 0, packs: 0 };
      for await (const v of this.s.hosted.values({ gte: `${peerId}!`, lt: `${peerId}!~` })) {
        total.chargedBytes += packChargeBytes(Number(v));
        total.packs += 1;
      }
      t.totals.set(peerId, total);
      return { ...total };
    });
  }

  /** Writes one hosted entry (size, or undefined to delete), durably, and adjusts the friend's totals. */
  private async setHosted(peerId: string, packId: string, size: number | undefined): Promise<void> {
    const t = this.hostedTotals();
    const key = `${peerId}!${packId}`;
    await t.lock.with(1, async () => {
      const old = await this.s.hosted.get(key);
      if (size === undefined) await this.s.hosted.del(key, DURABLE);
      else await this.s.hosted.put(key, String(size), DURABLE);
      const total = t.totals.get(peerId);
      if (total === undefined) return;
      if (old !== undefined) {
        total.chargedBytes -= packChargeBytes(Number(old));
        total.packs -= 1;
      }
      if (size !== undefined) {
        total.chargedBytes += packChargeBytes(size);
        total.packs += 1;
      }
    });
  }

  /** "<peerId>!<pack ID>" -> size, in pack ID order, after `after` when given. */
  async list(peerId: string, after?: string): Promise<AsyncIterable<[string, string]>> {
    return this.s.hosted.iterator({ gt: `${peerId}!${after ?? ''}`, lt: `${peerId}!~` });
  }

  async has(peerId: string, packId: string): Promise<boolean> {
    return (await this.s.hosted.get(`${peerId}!${packId}`)) !== undefined;
  }

  async add(peerId: string, packId: string, size: number): Promise<void> {
    await this.setHosted(peerId, packId, size);
  }

  async remove(peerId: string, packId: string): Promise<void> {
    await this.setHosted(peerId, packId, undefined);
  }

  // ---- heads friends gave us to keep

  async head(peerId: string): Promise<string | undefined> {
    return this.s.heads.get(peerId);
  }

  async putHead(peerId: string, json: string): Promise<void> {
    await this.s.heads.put(peerId, json);
  }

  async removeHead(peerId: string): Promise<void> {
    await this.s.heads.del(peerId);
  }
}
