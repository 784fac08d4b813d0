// The friends ledger: friendships (names, addresses, grants both ways, problems, the IPs a friend
// was seen at, its last delete sequence) and the invites we issued. LevelDB sublevels `friends`
// and `invites` (state/db.ts).
import { MAX_ADDR_CHARS, MAX_ADDRS, MAX_ASK_NOTE_CHARS, MAX_NAME_CHARS, type GrantMessage } from '../../../protocol/mesh.js';
import type { Sublevels } from '../state/db.js';
import { Semaphore } from '../util/semaphore.js';
import { untrustedText } from '../util/untrusted-text.js';
import { DURABLE } from './ledger-writes.js';

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
  /** When the friend was found unreachable for longer than `repair-after` (mesh/repair.ts): its copies count again only once challenged. */
  awaySince?: string;
  /** Our request to this friend for more space (`cairn ask`), until it grants at least that much; `refused` once it said no. */
  askToPeer?: { bytes: number; at: string; refused?: boolean };
  /** This friend's request to us for more space, until we grant or refuse it (`cairn grant`); its note cleaned. */
  askFromPeer?: { bytes: number; note: string | null; at: string };
  /** Grant messages (mesh/grant.ts) waiting until the friend takes them: the latest of each kind. */
  grantOutbox?: Partial<Record<GrantMessage['op'], GrantMessage>>;
}

/**
 * Whether the friend offers us space. One that granted us none (a `cairn relay`, paired with quota
 * 0, or a friend that only takes) holds nothing of ours: it is never a replication target, does not
 * count toward the copies wanted, and is not sent or asked for our head.
 */
export function offersSpace(f: Pick<Friendship, 'grantFromPeer'>): boolean {
  return f.grantFromPeer > 0;
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

/** Invite claims one at a time per database: two pairings with one code must not both see it unused. */
const inviteLocks = new WeakMap<object, Semaphore>();
/**
 * What every Friends on one database shares. Each friend's record as stored: every stream a friend
 * opens reads it (requireFriend), and a LevelDB read per stream was a fifth of the agent's busy
 * time under the soak's stream floods. Only friends are kept (a stranger's miss is read each time,
 * so strangers cannot grow it). Friendship writes run one at a time under `lock` (two at once could
 * land in either order, and an update must not be undone by a put beside it); `changes` counts each
 * write's start and end, so a read that overlapped any part of a write does not fill the cache.
 */
interface FriendsState {
  records: Map<string, string>;
  lock: Semaphore;
  changes: number;
}
const friendsStates = new WeakMap<object, FriendsState>();

/** A friendship with every text a friend could have chosen (or quoted) cleaned and capped. */
function cleaned(f: Friendship): Friendship {
  return {
    ...f,
    name: untrustedText(f.name, MAX_NAME_CHARS) || f.peerId.slice(-8),
    // addresses are shown too: one with anything a terminal could act on is not an address
    addrs: f.addrs.filter((a) => typeof a === 'string' && untrustedText(a, MAX_ADDR_CHARS) === a).slice(0, MAX_ADDRS),
    shortfall: f.shortfall === null ? null : untrustedText(f.shortfall, MAX_PROBLEM_CHARS),
    problems: f.problems.slice(-MAX_PROBLEMS).map((p) => untrustedText(p, MAX_PROBLEM_CHARS)),
    ...(f.askFromPeer
      ? { askFromPeer: { ...f.askFromPeer, note: f.askFromPeer.note === null ? null : untrustedText(f.askFromPeer.note, MAX_ASK_NOTE_CHARS) || null } }
      : {}),
  };
}

export class Friends {
  private readonly s: Pick<Sublevels, 'friends' | 'invites'>;

  constructor(state: Pick<Sublevels, 'friends' | 'invites'>) {
    this.s = state;
  }

  private state(): FriendsState {
    let st = friendsStates.get(this.s.friends);
    if (!st) friendsStates.set(this.s.friends, (st = { records: new Map(), lock: new Semaphore(1), changes: 0 }));
    return st;
  }

  /** The friendship (a copy of its own for the caller), from memory once read. */
  async get(peerId: string): Promise<Friendship | undefined> {
    const st = this.state();
    let v = st.records.get(peerId);
    if (v === undefined) {
      const changes = st.changes;
      v = await this.s.friends.get(peerId);
      if (v !== undefined && st.changes === changes) st.records.set(peerId, v);
    }
    return v === undefined ? undefined : (JSON.parse(v) as Friendship);
  }

  /** Writes (or deletes, `value` undefined) one record; the caller holds the lock. A failed write leaves the record out of the cache. */
  private async write(st: FriendsState, peerId: string, value: string | undefined): Promise<void> {
    st.changes++;
    st.records.delete(peerId);
    try {
      if (value === undefined) await this.s.friends.del(peerId);
      else await this.s.friends.put(peerId, value);
      if (value !== undefined) st.records.set(peerId, value);
    } finally {
      st.changes++;
    }
  }

  async list(): Promise<Friendship[]> {
    const out: Friendship[] = [];
    for await (const v of this.s.friends.values()) out.push(JSON.parse(v) as Friendship);
    return out.sort((a, b) => a.name.localeCompare(b.name) || a.peerId.localeCompare(b.peerId));
  }

  /** Whether there is any friend (without reading them all). */
  async any(): Promise<boolean> {
    for await (const _ of this.s.friends.keys({ limit: 1 })) return true;
    return false;
  }

  async put(f: Friendship): Promise<void> {
    const st = this.state();
    await st.lock.with(1, () => this.write(st, f.peerId, JSON.stringify(cleaned(f))));
  }

  /** Read, change, write, one at a time per database: two changes at once (a sighting, a round's mark) must not undo each other. */
  async update(peerId: string, change: (f: Friendship) => void): Promise<void> {
    const st = this.state();
    await st.lock.with(1, async () => {
      const f = await this.get(peerId);
      if (!f) return;
      change(f);
      await this.write(st, peerId, JSON.stringify(cleaned(f)));
    });
  }

  /** The friendship alone; forgetFriend (ledgers.ts) also drops what the other ledgers keep of the friend. */
  async remove(peerId: string): Promise<void> {
    const st = this.state();
    await st.lock.with(1, () => this.write(st, peerId, undefined));
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
  async claimInvite(
    id: string,
    nowSec: number,
    verify: (inv: OpenInvite) => boolean,
    maxFailures: number,
  ): Promise<{ claim: InviteClaim; invite?: OpenInvite }> {
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
}
