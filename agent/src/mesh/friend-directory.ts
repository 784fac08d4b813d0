// The friend list as the owner sees it: each friend with its grants and usage both ways, online or
// not, and its recent problems; which friends hold which of our packs; and removing a friend.
import type { PeerListing, PeersResult } from '../../../protocol/api.js';
import type { FriendRemoveResult } from '../../../protocol/console-api.js';
import { UsageError } from '../util/errors.js';
import type { MeshContext } from './context.js';
import type { FriendGate } from './friend-gate.js';
import type { FriendPresence } from './friend-presence.js';
import type { LanAnnouncements } from './lan-discovery.js';
import { forgetFriend } from './ledgers.js';
import { peerIdFromString } from '@libp2p/peer-id';
import { reachOf } from './reachability.js';
import { reachWhy, type ReachWhyInput } from './reach-why.js';
import type { RelayedCount } from './relay-budget.js';
import { linkOf, relayOf } from './relayed-addrs.js';

/** What the agent knows of its own reachability and of its upgrade attempts, for the sentence saying why a friend is reached as it is (compose.ts). */
export interface ReachFacts {
  self(): Promise<ReachWhyInput['self']>;
  /** The router has no public address of its own (carrier-grade or double NAT). */
  behindCgnat(): boolean;
  upgradeFailures(peerId: string): number;
}

export class FriendDirectory {
  private readonly ctx: MeshContext;
  private readonly gate: FriendGate;
  private readonly presence: FriendPresence;
  private readonly relayed: (peerId: string) => RelayedCount;
  private readonly lan: LanAnnouncements | undefined;
  /** Set once the reachability and upgrade services exist; without it the sentence claims nothing about this host. */
  reachFacts: ReachFacts | undefined;

  constructor(
    ctx: MeshContext,
    gate: FriendGate,
    presence: FriendPresence,
    relayed: (peerId: string) => RelayedCount = () => ({ todayBytes: 0, totalBytes: 0 }),
    lan?: LanAnnouncements,
  ) {
    this.ctx = ctx;
    this.lan = lan;
    this.relayed = relayed;
    this.gate = gate;
    this.presence = presence;
  }

  async peers(): Promise<PeersResult> {
    const { bytesAt, packsAt } = await this.ctx.copies.map();
    const out: PeerListing[] = [];
    const friends = await this.ctx.friends.list();
    const names = new Map(friends.map((f) => [f.peerId, f.name]));
    const self = (await this.reachFacts?.self()) ?? null;
    const behindCgnat = this.reachFacts?.behindCgnat() ?? false;
    for (const f of friends) {
      const { reach, via } = reachOf(this.ctx.node, f.peerId, this.lan?.ipsOf(f.peerId));
      const online = this.presence.isOnline(f.peerId);
      const viaName = via === null ? null : (names.get(via) ?? via);
      const why = reachWhy({
        reach,
        via: viaName,
        self,
        selfBehindCgnat: behindCgnat,
        friend: await this.advertised(f.peerId, f.addrs, names),
        directWeDialled: this.ctx.node
          .getConnections(peerIdFromString(f.peerId))
          .some((c) => c.status === 'open' && c.direction === 'outbound' && linkOf(c.remoteAddr) === 'direct'),
        upgradeFailures: this.reachFacts?.upgradeFailures(f.peerId) ?? 0,
        lastSeen: f.lastSeen,
      });
      const recent = f.problems.slice(-3);
      out.push({
        name: f.name,
        peerId: f.peerId,
        addresses: f.addrs,
        online,
        lastSeen: f.lastSeen,
        storedForPeerBytes: await this.ctx.hostedPacks.bytes(f.peerId),
        grantToPeer: f.grantToPeer,
        storedAtPeerBytes: bytesAt.get(f.peerId) ?? 0,
        grantFromPeer: f.grantFromPeer,
        packsAtPeer: packsAt.get(f.peerId) ?? 0,
        health: recent.length > 0 ? 'degraded' : f.lastSeen ? 'ok' : 'unknown',
        shortfall: f.shortfall,
        problems: recent,
        reach,
        via: viaName,
        reachWhy: why,
        relayedForPeer: this.relayed(f.peerId),
        ...(f.awaySince !== undefined ? { awaySince: f.awaySince } : {}),
        ...(f.askFromPeer ? { askFromPeer: f.askFromPeer } : {}),
        ...(f.askToPeer ? { askToPeer: f.askToPeer } : {}),
      });
    }
    return out;
  }

  /** The kinds of address a friend advertised: what pairing stored and what its head and identify put in the peer store. */
  private async advertised(peerId: string, stored: string[], names: Map<string, string>): Promise<ReachWhyInput['friend']> {
    let known: string[] = [];
    try {
      known = (await this.ctx.node.peerStore.get(peerIdFromString(peerId))).addresses.map((a) => a.multiaddr.toString());
    } catch {
      // not in the peer store (never connected since the agent started)
    }
    const addrs = [...new Set([...stored, ...known])];
    const relays = [...new Set(addrs.flatMap((a) => (linkOf(a) === 'relayed' ? (relayOf(a) ?? []) : [])))];
    return {
      direct: addrs.some((a) => linkOf(a) === 'direct'),
      relays: relays.map((id) => names.get(id) ?? id).sort(),
    };
  }

  /** Our packs that friends confirmed storing: pack ID -> the friends' names. */
  async packHolderNames(): Promise<Map<string, string[]>> {
    const names = new Map((await this.ctx.friends.list()).map((f) => [f.peerId, f.name]));
    const out = new Map<string, string[]>();
    for (const [packId, peers] of (await this.ctx.copies.map()).byPack) {
      const held = [...peers].flatMap((p) => (names.has(p) ? [names.get(p) as string] : []));
      if (held.length > 0) out.set(packId, held.sort());
    }
    return out;
  }

  /** What removing a friend means both ways; unless `dryRun`, does it: forgets them, deletes the packs we hold for them, hangs up. */
  async removeFriend(peerId: string, dryRun: boolean): Promise<FriendRemoveResult> {
    const f = await this.ctx.friends.get(peerId);
    if (!f) throw new UsageError(`no friend with peer ID ${peerId}`, 'E_NOT_FOUND');
    const { bytesAt, packsAt } = await this.ctx.copies.map();
    const theirs: string[] = [];
    let theirBytes = 0;
    for await (const [k, v] of await this.ctx.hostedPacks.list(peerId)) {
      theirs.push(k.slice(peerId.length + 1));
      theirBytes += Number(v);
    }
    const result: FriendRemoveResult = {
      name: f.name,
      peerId,
      removed: false,
      ourPacksAtThem: packsAt.get(peerId) ?? 0,
      ourBytesAtThem: bytesAt.get(peerId) ?? 0,
      theirPacksHere: theirs.length,
      theirBytesHere: theirBytes,
    };
    if (dryRun) return result;
    this.gate.drop(peerId);
    await forgetFriend(this.ctx, peerId);
    await this.gate.refreshIps();
    for (const packId of theirs) await this.ctx.hosted.remove(peerId, packId);
    await this.ctx.hosted.partials.dropOwner(peerId);
    await this.presence.letGo(peerId);
    return { ...result, removed: true };
  }
}
