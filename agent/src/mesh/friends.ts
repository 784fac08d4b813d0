// The friend book: friendships, open invites, the packs we hold for friends and the copies of our
// packs friends confirmed. All in LevelDB (state/db.ts), so usage both ways survives restarts.
import type { Sublevels } from '../state/db.js';

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

  async hostedBytes(peerId: string): Promise<number> {
    let total = 0;
    for await (const v of this.s.hosted.values({ gte: `${peerId}!`, lt: `${peerId}!~` })) total += Number(v);
    return total;
  }

  async hostedPacks(peerId: string, after?: string): Promise<AsyncIterable<[string, string]>> {
    return this.s.hosted.iterator({ gt: `${peerId}!${after ?? ''}`, lt: `${peerId}!~` });
  }

  async hasHosted(peerId: string, packId: string): Promise<boolean> {
    return (await this.s.hosted.get(`${peerId}!${packId}`)) !== undefined;
  }

  async addHosted(peerId: string, packId: string, size: number): Promise<void> {
    await this.s.hosted.put(`${peerId}!${packId}`, String(size));
  }

  async removeHosted(peerId: string, packId: string): Promise<void> {
    await this.s.hosted.del(`${peerId}!${packId}`);
  }

  // ---- copies of our packs at friends

  async addReplica(packId: string, peerId: string, size: number): Promise<void> {
    await this.s.replicas.put(`${packId}!${peerId}`, String(size));
  }

  async removeReplica(packId: string, peerId: string): Promise<void> {
    await this.s.replicas.del(`${packId}!${peerId}`);
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

  // ---- heads friends gave us to keep

  async friendHead(peerId: string): Promise<string | undefined> {
    return this.s.heads.get(peerId);
  }

  async putFriendHead(peerId: string, json: string): Promise<void> {
    await this.s.heads.put(peerId, json);
  }
}
