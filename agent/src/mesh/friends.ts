// The friend book: friendships, open invites, the packs we hold for friends and the copies of our
// packs friends confirmed. All in LevelDB (state/db.ts), so usage both ways survives restarts.
import { MAX_ADDR_CHARS, MAX_ADDRS, MAX_NAME_CHARS, packChargeBytes } from '../../../protocol/mesh.js';
import type { StateOp, Sublevels } from '../state/db.js';
import { Semaphore } from '../util/semaphore.js';
import { untrustedText } from '../util/untrusted-text.js';

/** Writes that must survive a crash of the machine, not only of the process: LevelDB fsyncs its log. */
const DURABLE = { sync: true } as object;

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
  /** IP addresses this friend's connections last came from (newest last): let in ahead of strangers. */
  seenFrom?: string[];
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
/** Characters kept of a problem or shortfall line (each may quote a friend's cleaned refusal). */
const MAX_PROBLEM_CHARS = 400;
/** Source IPs remembered per friend. */
export const MAX_SEEN_FROM = 4;

/** What the outcome of presenting an invite is; only 'accepted' makes a friendship. */
export type InviteClaim = 'accepted' | 'unknown' | 'used' | 'expired' | 'bad-proof';

/** What a friend's packs here cost it: bytes charged against its grant (packChargeBytes each) and the pack count. */
export interface HostedUsage {
  chargedBytes: number;
  packs: number;
}

/**
 * Usage of each friend, summed from LevelDB once and then kept up to date by every write, per
 * database (every FriendBook on it shares them): a pack-put reservation, which runs under a lock
 * for each incoming pack, must not scan all the packs the friend already has here.
 */
interface HostedTotals {
  totals: Map<string, HostedUsage>;
  /** Hosted writes and first sums one at a time: a write reads the old size to adjust the total. */
  lock: Semaphore;
}
const hostedTotals = new WeakMap<object, HostedTotals>();
/** Invite claims one at a time per database: two pairings with one code must not both see it unused. */
const inviteLocks = new WeakMap<object, Semaphore>();

/** A friendship with every text a friend could have chosen (or quoted) cleaned and capped. */
function cleaned(f: Friendship): Friendship {
  return {
    ...f,
    name: untrustedText(f.name, MAX_NAME_CHARS) || f.peerId.slice(-8),
    // addresses are shown too: one with anything a terminal could act on is not an address
    addrs: f.addrs.filter((a) => typeof a === 'string' && untrustedText(a, MAX_ADDR_CHARS) === a).slice(0, MAX_ADDRS),
    shortfall: f.shortfall === null ? null : untrustedText(f.shortfall, MAX_PROBLEM_CHARS),
    problems: f.problems.slice(-MAX_PROBLEMS).map((p) => untrustedText(p, MAX_PROBLEM_CHARS)),
  };
}

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
    await this.s.friends.put(f.peerId, JSON.stringify(cleaned(f)));
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

  /** Remembers the IP a friend's connection came from (the last MAX_SEEN_FROM distinct ones). */
  async sawFriendAt(peerId: string, ip: string): Promise<void> {
    const f = await this.get(peerId);
    if (!f || f.seenFrom?.at(-1) === ip) return;
    await this.update(peerId, (x) => {
      x.seenFrom = [...(x.seenFrom ?? []).filter((a) => a !== ip), ip].slice(-MAX_SEEN_FROM);
    });
  }

  // ---- invites

  async putInvite(inv: OpenInvite): Promise<void> {
    await this.s.invites.put(inv.id, JSON.stringify(inv), DURABLE);
  }

  /**
   * Presents an invite: under one lock per database, reads it, and either marks it used (a proof
   * that `verify` accepts) or counts a wrong proof (the fifth burns it), written durably before
   * the lock is let go. Of any number of pairings with one code at once, exactly one is accepted,
   * and a crash after the acceptance cannot make the invite usable again.
   */
  async claimInvite(id: string, nowSec: number, verify: (inv: OpenInvite) => boolean, maxFailures: number): Promise<{ claim: InviteClaim; invite?: OpenInvite }> {
    let lock = inviteLocks.get(this.s.invites);
    if (!lock) inviteLocks.set(this.s.invites, (lock = new Semaphore(1)));
    return lock.with(1, async () => {
      const inv = await this.getInvite(id);
      if (!inv) return { claim: 'unknown' as const };
      if (inv.used) return { claim: 'used' as const, invite: inv };
      if (inv.expiresAt <= nowSec) return { claim: 'expired' as const, invite: inv };
      if (!verify(inv)) {
        inv.failures += 1;
        if (inv.failures >= maxFailures) inv.used = true;
        await this.putInvite(inv);
        return { claim: 'bad-proof' as const, invite: inv };
      }
      inv.used = true;
      await this.putInvite(inv);
      return { claim: 'accepted' as const, invite: inv };
    });
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

  /** Bytes a friend's packs here are charged against its grant (what `cairn peers` shows as stored for it). */
  async hostedBytes(peerId: string): Promise<number> {
    return (await this.hostedUsage(peerId)).chargedBytes;
  }

  async hostedUsage(peerId: string): Promise<HostedUsage> {
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

  /** pack ID -> friends holding it, and bytes charged / packs per friend. */
  async replicaMap(): Promise<{ byPack: Map<string, Set<string>>; bytesAt: Map<string, number>; packsAt: Map<string, number> }> {
    const byPack = new Map<string, Set<string>>();
    const bytesAt = new Map<string, number>();
    const packsAt = new Map<string, number>();
    for await (const [k, v] of this.s.replicas.iterator()) {
      const [packId, peerId] = k.split('!') as [string, string];
      let set = byPack.get(packId);
      if (!set) byPack.set(packId, (set = new Set()));
      set.add(peerId);
      // charged as the friend charges them (at least MIN_PACK_CHARGE_BYTES a pack): the usage we show equals its own
      bytesAt.set(peerId, (bytesAt.get(peerId) ?? 0) + packChargeBytes(Number(v)));
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
