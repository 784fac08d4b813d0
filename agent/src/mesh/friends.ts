// The friend book: friendships, open invites, the packs we hold for friends and the copies of our
// packs friends confirmed. All in LevelDB (state/db.ts), so usage both ways survives restarts.
import type { StateOp, Sublevels } from '../state/db.js';
import { Semaphore } from '../util/semaphore.js';

export interface Friendship {
  peerId: string;
  name: string;
  addrs: string[];
  /** Bytes we let this friend store here. */
  grantToPeer: number;
  /** Bytes this friend lets us store there. */
  grantFromPeer: number;
  createdAt: string;
  lastSeen: string | null;
  /** Why the friend last refused one of our packs (over quota, disk floor), cleared on success. */
  shortfall: string | null;
  /** Recent problems seen with this friend (damaged packs, stale heads, failed audits), newest last. */
  problems: string[];
  /** The sequence number of the last delete request this friend sent us (replays are refused). */
  lastDeleteSeq?: number;
}

export interface OpenInvite {
  id: string;
  /** SHA-256 of the secret is the ID; the secret itself is kept to verify proofs. */
  secret: string;
  expiresAt: number;
  quotaBytes: number;
  failures: number;
  used: boolean;
}

const MAX_PROBLEMS = 10;

/**
 * Bytes held for each friend, summed from LevelDB once and then kept up to date by every write,
 * per database (every FriendBook on it shares them): a pack-put reservation, which runs under a
 * lock for each incoming pack, must not scan all the packs the friend already has here.
 */
interface HostedTotals {
  totals: Map<string, number>;
  /** Hosted writes and first sums one at a time: a write reads the old size to adjust the total. */
  lock: Semaphore;
}
const hostedTotals = new WeakMap<object, HostedTotals>();

export class FriendBook {
  private readonly s: Sublevels;

  constructor(state: Sublevels) {
    this.s = state;
  }

  async get(peerId: string): Promise<Friendship | undefined> {
    const v = await this.s.friends.get(peerId);
    return v === undefined ? undefined : (JSON.parse(v) as Friendship);
  }

  async list(): Promise<Friendship[]> {
    const out: Friendship[] = [];
    for await (const v of this.s.friends.values()) out.push(JSON.parse(v) as Friendship);
    return out.sort((a, b) => a.name.localeCompare(b.name) || a.peerId.localeCompare(b.peerId));
  }

  async put(f: Friendship): Promise<void> {
    await this.s.friends.put(f.peerId, JSON.stringify(f));
  }

  async update(peerId: string, change: (f: Friendship) => void): Promise<void> {
    const f = await this.get(peerId);
    if (!f) return;
    change(f);
    await this.put(f);
  }

  /** Forgets a friend: the friendship, our records of copies at them, and the head they gave us (packs we hold for them are removed by the caller). */
  async remove(peerId: string): Promise<void> {
    const mine: string[] = [];
    for await (const k of this.s.replicas.keys()) if (k.endsWith(`!${peerId}`)) mine.push(k);
    await this.s.replicas.batch(mine.map((key) => ({ type: 'del' as const, key })));
    await this.s.heads.del(peerId);
    await this.s.friends.del(peerId);
  }

  async addProblem(peerId: string, problem: string): Promise<void> {
    await this.update(peerId, (f) => {
      f.problems = [...f.problems, problem].slice(-MAX_PROBLEMS);
    });
  }

  // ---- invites

  async putInvite(inv: OpenInvite): Promise<void> {
    await this.s.invites.put(inv.id, JSON.stringify(inv));
  }

  async getInvite(id: string): Promise<OpenInvite | undefined> {
    const v = await this.s.invites.get(id);
    return v === undefined ? undefined : (JSON.parse(v) as OpenInvite);
  }

  async openInvites(nowSec: number): Promise<OpenInvite[]> {
    const out: OpenInvite[] = [];
    for await (const v of this.s.invites.values()) {
      const inv = JSON.parse(v) as OpenInvite;
      if (!inv.used && inv.expiresAt > nowSec) out.push(inv);
    }
    return out;
  }

  // ---- packs we hold for friends

  private hostedTotals(): HostedTotals {
    let t = hostedTotals.get(this.s.hosted);
    if (!t) hostedTotals.set(this.s.hosted, (t = { totals: new Map(), lock: new Semaphore(1) }));
    return t;
  }

  async hostedBytes(peerId: string): Promise<number> {
    const t = this.hostedTotals();
    const cached = t.totals.get(peerId);
    if (cached !== undefined) return cached;
    // the first sum holds the write lock, so no write can slip between it and the cached total
    return t.lock.with(1, async () => {
      let total = t.totals.get(peerId);
      if (total !== undefined) return total;
      total = 0;
      for await (const v of this.s.hosted.values({ gte: `${peerId}!`, lt: `${peerId}!~` })) total += Number(v);
      t.totals.set(peerId, total);
      return total;
    });
  }

  /** Writes one hosted entry (size, or undefined to delete) and adjusts the friend's total. */
  private async setHosted(peerId: string, packId: string, size: number | undefined): Promise<void> {
    const t = this.hostedTotals();
    const key = `${peerId}!${packId}`;
    await t.lock.with(1, async () => {
      const old = await this.s.hosted.get(key);
      if (size === undefined) await this.s.hosted.del(key);
      else await this.s.hosted.put(key, String(size));
      const total = t.totals.get(peerId);
      if (total !== undefined) t.totals.set(peerId, total + (size ?? 0) - (old === undefined ? 0 : Number(old)));
    });
  }

  async hostedPacks(peerId: string, after?: string): Promise<AsyncIterable<[string, string]>> {
    return this.s.hosted.iterator({ gt: `${peerId}!${after ?? ''}`, lt: `${peerId}!~` });
  }

  async hasHosted(peerId: string, packId: string): Promise<boolean> {
    return (await this.s.hosted.get(`${peerId}!${packId}`)) !== undefined;
  }

  async addHosted(peerId: string, packId: string, size: number): Promise<void> {
    await this.setHosted(peerId, packId, size);
  }

  async removeHosted(peerId: string, packId: string): Promise<void> {
    await this.setHosted(peerId, packId, undefined);
  }

  // ---- copies of our packs at friends

  async addReplica(packId: string, peerId: string, size: number): Promise<void> {
    await this.s.replicas.put(`${packId}!${peerId}`, String(size));
  }

  /** Bytes of our pack `packId` that `peerId` confirmed it stores; 0 when we have no record. */
  async replicaSize(packId: string, peerId: string): Promise<number> {
    return Number((await this.s.replicas.get(`${packId}!${peerId}`)) ?? 0);
  }

  async removeReplica(packId: string, peerId: string): Promise<void> {
    await this.s.replicas.del(`${packId}!${peerId}`);
  }

  /** `packIds` no longer count as copies at `peerId`. */
  async removeReplicas(peerId: string, packIds: string[]): Promise<void> {
    await this.s.replicas.batch(packIds.map((p) => ({ type: 'del' as const, key: `${p}!${peerId}` })));
  }

  async holders(packId: string): Promise<string[]> {
    const out: string[] = [];
    for await (const k of this.s.replicas.keys({ gte: `${packId}!`, lt: `${packId}!~` })) out.push(k.slice(packId.length + 1));
    return out;
  }

  /** pack ID -> friends holding it, and bytes/packs per friend. */
  async replicaMap(): Promise<{ byPack: Map<string, Set<string>>; bytesAt: Map<string, number>; packsAt: Map<string, number> }> {
    const byPack = new Map<string, Set<string>>();
    const bytesAt = new Map<string, number>();
    const packsAt = new Map<string, number>();
    for await (const [k, v] of this.s.replicas.iterator()) {
      const [packId, peerId] = k.split('!') as [string, string];
      let set = byPack.get(packId);
      if (!set) byPack.set(packId, (set = new Set()));
      set.add(peerId);
      bytesAt.set(peerId, (bytesAt.get(peerId) ?? 0) + Number(v));
      packsAt.set(peerId, (packsAt.get(peerId) ?? 0) + 1);
    }
    return { byPack, bytesAt, packsAt };
  }

  // ---- deletions: ours at friends (outbox), theirs here (pending until the grace has passed)

  /**
   * The writes that queue a delete request to every friend holding one of `packIds` (prune puts
   * them in the same synced batch as the index change that drops the packs).
   */
  async deleteRequestOps(packIds: string[], nowMs: number): Promise<StateOp[]> {
    const ops: StateOp[] = [];
    for (const packId of packIds) {
      for await (const [k, size] of this.s.replicas.iterator({ gte: `${packId}!`, lt: `${packId}!~` })) {
        const key = `${k.slice(packId.length + 1)}!${packId}`;
        ops.push({ type: 'put', sublevel: this.s.deleteOutbox, key, value: size });
        ops.push({ type: 'put', sublevel: this.s.deleteAsked, key, value: String(nowMs) });
      }
    }
    return ops;
  }

  /** Queues delete requests to `peerId` for packs (ID -> size) it holds that we no longer index (the audit). */
  async queueDeletesAt(peerId: string, packs: Map<string, number>, nowMs: number): Promise<void> {
    if (packs.size === 0) return;
    await this.s.deleteOutbox.batch([...packs].map(([packId, size]) => ({ type: 'put' as const, key: `${peerId}!${packId}`, value: String(size) })));
    await this.s.deleteAsked.batch([...packs.keys()].map((packId) => ({ type: 'put' as const, key: `${peerId}!${packId}`, value: String(nowMs) })));
  }

  /** Pack ID -> when we last queued a delete request for it at `peerId` (ms). */
  async deletesAsked(peerId: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for await (const [k, v] of this.s.deleteAsked.iterator({ gt: `${peerId}!`, lt: `${peerId}!~` })) out.set(k.slice(peerId.length + 1), Number(v));
    return out;
  }

  /** Forgets that we asked `peerId` to delete `packIds` (it no longer lists them). */
  async forgetDeletesAsked(peerId: string, packIds: string[]): Promise<void> {
    await this.s.deleteAsked.batch(packIds.map((p) => ({ type: 'del' as const, key: `${peerId}!${p}` })));
  }

  /** friend -> packs (and sizes) we still have to ask it to delete. */
  async outbox(): Promise<Map<string, Map<string, number>>> {
    const out = new Map<string, Map<string, number>>();
    for await (const [k, v] of this.s.deleteOutbox.iterator()) {
      const [peerId, packId] = k.split('!') as [string, string];
      let m = out.get(peerId);
      if (!m) out.set(peerId, (m = new Map()));
      m.set(packId, Number(v));
    }
    return out;
  }

  /** The friend took our delete request: the packs leave the outbox and no longer count as its copies. */
  async deletesAccepted(peerId: string, packIds: string[]): Promise<void> {
    await this.s.deleteOutbox.batch(packIds.map((p) => ({ type: 'del' as const, key: `${peerId}!${p}` })));
    await this.removeReplicas(peerId, packIds);
  }

  /**
   * Records packs an owner asked us to delete, due at `dueMs`. A pack already pending keeps its
   * due time: an owner asks again for packs we still list during the grace (its audit, section 16),
   * and a repeated request must not postpone the deletion for ever.
   */
  async addPendingDeletions(owner: string, packIds: string[], dueMs: number, seq: number): Promise<void> {
    const ops: Array<{ type: 'put'; key: string; value: string }> = [];
    for (const p of new Set(packIds)) {
      const key = `${owner}!${p}`;
      const prev = await this.s.deletions.get(key);
      const due = prev === undefined ? dueMs : Math.min(dueMs, (JSON.parse(prev) as { dueMs: number }).dueMs);
      ops.push({ type: 'put', key, value: JSON.stringify({ dueMs: due, seq }) });
    }
    await this.s.deletions.batch(ops);
  }

  /** A pack pushed again while its deletion was pending stays (the owner wants it after all). */
  async cancelDeletion(owner: string, packId: string): Promise<void> {
    await this.s.deletions.del(`${owner}!${packId}`);
  }

  async pendingDeletions(): Promise<Array<{ owner: string; packId: string; dueMs: number }>> {
    const out: Array<{ owner: string; packId: string; dueMs: number }> = [];
    for await (const [k, v] of this.s.deletions.iterator()) {
      const [owner, packId] = k.split('!') as [string, string];
      out.push({ owner, packId, dueMs: (JSON.parse(v) as { dueMs: number }).dueMs });
    }
    return out;
  }

  async deletionDone(owner: string, packId: string): Promise<void> {
    await this.s.deletions.del(`${owner}!${packId}`);
  }

  // ---- heads friends gave us to keep

  async friendHead(peerId: string): Promise<string | undefined> {
    return this.s.heads.get(peerId);
  }

  async putFriendHead(peerId: string, json: string): Promise<void> {
    await this.s.heads.put(peerId, json);
  }
}
