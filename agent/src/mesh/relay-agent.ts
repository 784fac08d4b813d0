// `cairn relay` (SPEC 13.1, "The relay agent"): a friend with no repository, for a group of friends
// none of whom friends can reach (all behind CGNAT or routers nobody reconfigures). It runs what an
// agent runs for its friends' reachability and nothing else: the libp2p node with the friends-only
// circuit relay (relay.ts, relay-policy.ts) and its budgets (relay-budget.ts), pairing (it issues
// invites with quota 0: friends dial it, it never dials a friend behind NAT to pair), the friend
// book with the gate and presence, and reach (/cairn/reach/1.0.0: it dials friends back, so they
// learn they are behind NAT and reserve on it). It serves no pack, head, list, delete or challenge
// protocol: it stores nothing, and friends never replicate to it (friend-ledger.ts offersSpace).
import { join } from 'node:path';
import type { PrivateKey } from '@libp2p/interface';
import type { InviteResult, RelayStatusResult } from '../../../protocol/api.js';
import type { Sublevels } from '../state/db.js';
import type { Clock } from '../util/clock.js';
import { UsageError } from '../util/errors.js';
import { shareableAddrs } from './addresses.js';
import type { MeshContext } from './context.js';
import { FriendDirectory } from './friend-directory.js';
import { FriendGate } from './friend-gate.js';
import { FriendPresence } from './friend-presence.js';
import { HostedStore } from './hosted-store.js';
import { openLedgers, type Ledgers } from './ledgers.js';
import { createMeshNode } from './node.js';
import { Pairing } from './pairing.js';
import { reachService } from './reach.js';
import { ownAddresses } from './relay.js';
import { RelayBudget, type RelayLimits } from './relay-budget.js';
import { RelayBudgetFile, relayBudgetPath } from './relay-budget-file.js';
import { ServiceGroup } from './service.js';

export interface RelayAgentOptions {
  home: string;
  privateKey: PrivateKey;
  state: Sublevels;
  listen: string[];
  announce?: string[];
  name: string;
  limits: RelayLimits;
  clock: Clock;
  /** The relay's log: a relay-budget.json it could not read or write. */
  log?: (line: string) => void;
}

interface ReservationsView {
  reservations: { has(peer: unknown): boolean; size: number };
}

export class RelayAgent {
  readonly ctx: MeshContext;
  readonly ledgers: Ledgers;
  readonly gate: FriendGate;
  readonly budget: RelayBudget;
  readonly directory: FriendDirectory;
  private readonly pairing: Pairing;
  private readonly services: ServiceGroup;

  private constructor(ctx: MeshContext, ledgers: Ledgers, gate: FriendGate, budget: RelayBudget, budgetFile: RelayBudgetFile) {
    this.ctx = ctx;
    this.ledgers = ledgers;
    this.gate = gate;
    this.budget = budget;
    // not started: the relay never dials friends (no keep-alive; friends behind NAT keep their
    // connection to it, and a rented server's provider may take dials to private addresses for a
    // scan); the directory only reads who is connected from it
    const presence = new FriendPresence(ctx, gate);
    this.directory = new FriendDirectory(ctx, gate, presence, (peerId) => budget.count(peerId));
    this.pairing = new Pairing(ctx, gate, presence, () => this.addresses());
    this.services = new ServiceGroup([budgetFile, gate, this.pairing, reachService(ctx)]);
  }

  /** Builds the relay's node and services and starts them. */
  static async start(opts: RelayAgentOptions): Promise<RelayAgent> {
    const ledgers = openLedgers(opts.state);
    const gate = new FriendGate(ledgers.friends, opts.clock);
    const budget = new RelayBudget(opts.limits, opts.clock);
    const node = await createMeshNode({
      privateKey: opts.privateKey,
      listen: opts.listen,
      announce: opts.announce ?? [],
      admit: (peer) => gate.admits(peer),
      isFriendIp: (ip) => gate.isFriendIp(ip),
      relay: { isFriend: (peer) => gate.isFriend(peer.toString()), inviteOpen: () => gate.inviteOpen() },
      relayBudget: budget,
    });
    const ctx: MeshContext = {
      node,
      privateKey: opts.privateKey,
      ...ledgers,
      // never written: no pack protocol is served
      hosted: new HostedStore(join(opts.home, 'hosted'), ledgers.hostedPacks, { floorBytes: 0 }),
      clock: opts.clock,
      name: opts.name,
      onFriend: async (peerId) => relay.welcome(peerId),
      deletionGraceMs: 0,
    };
    // what friends used today, back from before a restart (relay-budget-file.ts)
    const budgetFile = new RelayBudgetFile(relayBudgetPath(opts.home), budget, opts.log ? { log: opts.log } : {});
    const relay = new RelayAgent(ctx, ledgers, gate, budget, budgetFile);
    try {
      await relay.services.start();
      // a relay runs where friends reach it: the addresses it listens on are its own (libp2p
      // advertises a public one only once something confirmed it; behind a port forward or a
      // cloud's NAT the operator gives --announce)
      const own = ownAddresses(node);
      for (const a of own.candidates()) own.confirm(a);
    } catch (err) {
      try {
        await node.stop();
      } catch {
        // the start's error is the one to report
      }
      throw err;
    }
    return relay;
  }

  private async welcome(peerId: string): Promise<void> {
    this.gate.add(peerId);
    await this.gate.refreshInvites();
    await this.gate.refreshIps();
  }

  get peerId(): string {
    return this.ctx.node.peerId.toString();
  }

  /** Addresses friends dial (invite codes). */
  addresses(): string[] {
    return shareableAddrs(this.ctx.node.getMultiaddrs());
  }

  /** An invite code for a friend: quota 0, the relay stores nothing. */
  invite(expiresInMs: number): Promise<InviteResult> {
    return this.pairing.invite(0, expiresInMs);
  }

  /** Removes a friend (name or PeerId): its reservation and relayed connections end with its connections. */
  async unpair(friend: string): Promise<{ name: string; peerId: string }> {
    const all = await this.ledgers.friends.list();
    const matches = all.filter((f) => f.peerId === friend || f.name === friend);
    if (matches.length !== 1)
      throw new UsageError(
        matches.length === 0
          ? `no friend "${friend}" (friends: ${all.map((f) => f.name).join(', ') || 'none'})`
          : `"${friend}" names ${matches.length} friends: give the PeerId`,
        'E_NOT_FOUND',
      );
    const f = matches[0]!;
    await this.directory.removeFriend(f.peerId, false);
    return { name: f.name, peerId: f.peerId };
  }

  async status(): Promise<RelayStatusResult> {
    const server = (this.ctx.node.services as Record<string, unknown>).relay as ReservationsView;
    const friends = await this.ledgers.friends.list();
    const listed = await this.directory.peers();
    const byId = new Map(listed.map((p) => [p.peerId, p]));
    return {
      name: this.ctx.name,
      peerId: this.peerId,
      addrs: this.addresses(),
      limits: { ...this.budget.limits },
      reservations: server.reservations.size,
      friends: friends.map((f) => {
        const p = byId.get(f.peerId);
        const reserved = [...this.ctx.node.getConnections()].some((c) => c.remotePeer.toString() === f.peerId && server.reservations.has(c.remotePeer));
        return {
          name: f.name,
          peerId: f.peerId,
          online: p?.online ?? false,
          reserved,
          relayedForPeer: p?.relayedForPeer ?? { todayBytes: 0, totalBytes: 0 },
        };
      }),
    };
  }

  async stop(): Promise<void> {
    try {
      await this.services.stop();
    } finally {
      await this.ctx.node.stop();
    }
  }
}
