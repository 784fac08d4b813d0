// This host's reachability, as the friend mesh can establish it: friends we are connected to are
// asked to dial us back (reach.ts) at the direct addresses we believe are ours; only what a friend
// confirmed counts. With a confirmed address we are "public" and hold no relay reservation; without
// one we hold reservations on up to MAX_RELAYS friends we reach by a direct connection we opened
// (they are reachable, at least from here), so friends can dial us at <relay>/p2p-circuit. Checked
// when a friend connects, when our direct addresses change, and every REACH_RECHECK_MS; the
// reservations are reconciled after every check and every RELAY_RECONCILE_MS (a relay that went
// away is replaced).
import type { Connection, Libp2p, PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { isPrivate } from '@libp2p/utils';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import type { HostReachability } from '../../../protocol/api.js';
import { MAX_REACH_ADDRS } from '../../../protocol/mesh.js';
import { errorMessage } from '../util/errors.js';
import type { MeshContext } from './context.js';
import { isLoopbackAddr } from './addresses.js';
import { askReach, dialBackCandidate } from './reach.js';
import { linkOf, relayOf, relaysHeld } from './relayed-addrs.js';
import type { Startable } from './service.js';

/** What status says when no friend reached us directly and none relays for us. */
export const UNREACHABLE_SUMMARY =
  'unreachable: no friend reached this host directly and none relays for it (behind NAT or CGNAT with no reachable friend: pair with a `cairn relay` on a public server)';

/** Relays an unreachable agent holds reservations on (or all its reachable friends, if fewer). */
export const MAX_RELAYS = 2;
/** Friends asked to dial us back in one check. */
export const REACH_ASK_FRIENDS = 3;
/** A full re-check of our addresses this often. */
export const REACH_RECHECK_MS = 10 * 60_000;
/** Events (a friend connecting, an address change) are gathered this long before a check. */
export const REACH_SETTLE_MS = 2_000;
/** Checks that events ask for are at least this far apart (a friend answers one request a minute after a burst of 3). */
export const REACH_MIN_INTERVAL_MS = 60_000;
/** The reservations are compared with what we need this often. */
export const RELAY_RECONCILE_MS = 30_000;

/** Holds and drops reservations on friends' relays (node.ts, through libp2p's circuit relay transport). */
export interface RelayControl {
  /** Makes a reservation on `relay`, reached at `relayAddr` (a direct address, without /p2p/). */
  reserve(relay: PeerId, relayAddr: Multiaddr): Promise<void>;
  /** Gives up every reservation and stops advertising the relayed addresses. */
  dropAll(): Promise<void>;
}

/** Our direct addresses, advertised or not, and how to advertise one a friend confirmed (relay.ts). */
export interface OwnAddresses {
  candidates(): Multiaddr[];
  confirm(addr: Multiaddr): void;
}

export interface ReachabilityOptions {
  recheckMs?: number;
  settleMs?: number;
  minIntervalMs?: number;
  reconcileMs?: number;
  /** Notes for the agent's log (a reservation that failed). */
  log?: (line: string) => void;
}

/** A connection's remote address without its /p2p/ suffix. */
function withoutPeer(addr: Multiaddr): Multiaddr {
  return multiaddr(addr.toString().replace(/\/p2p\/[^/]+$/, ''));
}

export class Reachability implements Startable {
  private readonly ctx: MeshContext;
  private readonly relays: RelayControl;
  private readonly own: OwnAddresses;
  private readonly opts: Required<Omit<ReachabilityOptions, 'log'>>;
  private readonly log: (line: string) => void;
  /** Confirmed address -> names of the friends that reached us there, from the last check that got answers. */
  private confirmed = new Map<string, string[]>();
  /** Our direct addresses the last check asked about (joined), to notice a change. */
  private checkedKey: string | null = null;
  private checking: Promise<void> | null = null;
  private lastCheckAt = -Infinity;
  private reconciling: Promise<void> | null = null;
  private settle: NodeJS.Timeout | null = null;
  private timers: NodeJS.Timeout[] = [];
  private stopped = true;

  constructor(ctx: MeshContext, relays: RelayControl, own: OwnAddresses, opts: ReachabilityOptions = {}) {
    this.ctx = ctx;
    this.relays = relays;
    this.own = own;
    this.opts = {
      recheckMs: opts.recheckMs ?? REACH_RECHECK_MS,
      settleMs: opts.settleMs ?? REACH_SETTLE_MS,
      minIntervalMs: opts.minIntervalMs ?? REACH_MIN_INTERVAL_MS,
      reconcileMs: opts.reconcileMs ?? RELAY_RECONCILE_MS,
    };
    this.log = opts.log ?? (() => undefined);
  }

  private readonly onIdentify = (): void => {
    // a friend connected: worth a check while we have no confirmed address
    if (this.confirmed.size === 0) this.soon();
  };

  private readonly onSelfUpdate = (): void => {
    if (this.checkedKey !== null && this.directAddrs().join(' ') !== this.checkedKey) this.soon();
  };

  async start(): Promise<void> {
    this.stopped = false;
    this.ctx.node.addEventListener('peer:identify', this.onIdentify);
    this.ctx.node.addEventListener('self:peer:update', this.onSelfUpdate);
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.opts.recheckMs, () => void this.check());
    every(this.opts.reconcileMs, () => void this.reconcile());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.ctx.node.removeEventListener('peer:identify', this.onIdentify);
    this.ctx.node.removeEventListener('self:peer:update', this.onSelfUpdate);
    for (const t of this.timers.splice(0)) clearInterval(t);
    if (this.settle) clearTimeout(this.settle);
    this.settle = null;
    await this.checking?.catch(() => undefined);
    await this.reconciling?.catch(() => undefined);
  }

  /** A check after REACH_SETTLE_MS, and at least REACH_MIN_INTERVAL_MS after the last (events close together make one check). */
  soon(): void {
    if (this.stopped || this.settle) return;
    const wait = Math.max(this.opts.settleMs, this.lastCheckAt + this.opts.minIntervalMs - this.ctx.clock.now());
    this.settle = setTimeout(() => {
      this.settle = null;
      void this.check();
    }, wait);
    this.settle.unref();
  }

  /** Our direct addresses friends may be asked to dial back: at most MAX_REACH_ADDRS, public ones first, loopback last. */
  directAddrs(): string[] {
    const all = [...new Set(this.own.candidates().map((a) => a.toString().replace(/\/p2p\/[^/]+$/, '')))].filter((a) => dialBackCandidate(a));
    const rank = (a: string) => (isLoopbackAddr(a) ? 2 : isPrivate(multiaddr(a)) ? 1 : 0);
    return all.sort((a, b) => rank(a) - rank(b)).slice(0, MAX_REACH_ADDRS);
  }

  /** Asks up to REACH_ASK_FRIENDS friends connected directly to dial us back; then reconciles the reservations. */
  check(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.checking ??= this.runCheck().finally(() => (this.checking = null));
    return this.checking;
  }

  private async runCheck(): Promise<void> {
    const addrs = this.directAddrs();
    const friends = new Map((await this.ctx.friends.list()).map((f) => [f.peerId, f.name]));
    const asked = [...friends.keys()].filter((id) => this.directConnections(id).length > 0).slice(0, REACH_ASK_FRIENDS);
    if (addrs.length === 0) {
      this.confirmed = new Map();
      this.checkedKey = '';
    } else if (asked.length > 0) {
      // a check that asked nobody (no friend connected yet) does not hold back the next one
      this.lastCheckAt = this.ctx.clock.now();
      const answers = await Promise.allSettled(asked.map((id) => askReach(this.ctx, peerIdFromString(id), addrs)));
      if (answers.some((a) => a.status === 'fulfilled')) {
        const confirmed = new Map<string, string[]>();
        answers.forEach((a, i) => {
          if (a.status !== 'fulfilled') return;
          for (const addr of a.value) confirmed.set(addr, [...(confirmed.get(addr) ?? []), friends.get(asked[i] as string) ?? '']);
        });
        this.confirmed = confirmed;
        this.checkedKey = addrs.join(' ');
        // libp2p advertises a public address it listens on only once it is confirmed
        for (const addr of confirmed.keys()) this.own.confirm(multiaddr(addr));
      }
    }
    if (!this.stopped) await this.reconcile();
  }

  /** Drops the reservations when we are confirmed reachable, else tops them up to MAX_RELAYS. */
  reconcile(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.reconciling ??= this.runReconcile().finally(() => (this.reconciling = null));
    return this.reconciling;
  }

  private async runReconcile(): Promise<void> {
    const held = this.relaysHeld();
    if (this.confirmed.size > 0) {
      if (held.length > 0) await this.relays.dropAll().catch((err) => this.log(`dropping relay reservations failed: ${errorMessage(err)}`));
      return;
    }
    if (held.length >= MAX_RELAYS) return;
    const friends = await this.ctx.friends.list();
    for (const f of friends) {
      if (this.relaysHeld().length >= MAX_RELAYS || this.stopped) break;
      if (held.includes(f.peerId)) continue;
      // a friend we reached by a direct connection we opened: it is reachable, at least from here
      const conn = this.directConnections(f.peerId).find((c) => c.direction === 'outbound');
      if (!conn) continue;
      try {
        await this.relays.reserve(conn.remotePeer, withoutPeer(conn.remoteAddr));
      } catch (err) {
        this.log(`no relay reservation at ${f.name}: ${errorMessage(err)}`);
      }
    }
  }

  /** Friends whose relay holds a reservation for us: those our advertised relayed addresses go through. */
  relaysHeld(): string[] {
    return relaysHeld(this.ctx.node);
  }

  /** Open TCP connections to a friend (not relayed, not WebRTC: a relay is reserved at such a connection's address). */
  private directConnections(peerId: string): Connection[] {
    return this.ctx.node.getConnections(peerIdFromString(peerId)).filter((c) => c.status === 'open' && linkOf(c.remoteAddr) === 'direct');
  }

  /** What status shows. */
  async view(): Promise<HostReachability> {
    const names = new Map((await this.ctx.friends.list()).map((f) => [f.peerId, f.name]));
    const confirmedBy = [...new Set([...this.confirmed.values()].flat())].sort();
    const relays = this.relaysHeld().map((id) => names.get(id) ?? id);
    if (this.confirmed.size > 0)
      return {
        state: 'public',
        confirmed: [...this.confirmed.keys()],
        confirmedBy,
        relays: [],
        summary: `public: friends reach this host directly (confirmed by ${confirmedBy.join(', ')})`,
      };
    if (relays.length > 0) return { state: 'relayed', confirmed: [], confirmedBy: [], relays, summary: `behind NAT: reachable through ${relays.join(', ')}` };
    return { state: 'unreachable', confirmed: [], confirmedBy: [], relays: [], summary: UNREACHABLE_SUMMARY };
  }
}

/**
 * How this host reaches a friend right now: on the LAN (a direct connection to one of `lanIps`,
 * the IPs the friend announced on this network by mDNS), over a direct TCP connection, WebRTC,
 * through a relay (whose PeerId), or not at all.
 */
export function reachOf(
  node: Libp2p,
  peerId: string,
  lanIps?: ReadonlySet<string>,
): { reach: 'lan' | 'direct' | 'webrtc' | 'relayed' | 'unreachable'; via: string | null } {
  const conns = node.getConnections(peerIdFromString(peerId)).filter((c) => c.status === 'open');
  const direct = conns.filter((c) => linkOf(c.remoteAddr) === 'direct');
  if (lanIps && direct.some((c) => lanIps.has(c.remoteAddr.getComponents()[0]?.value ?? ''))) return { reach: 'lan', via: null };
  if (direct.length > 0) return { reach: 'direct', via: null };
  if (conns.some((c) => linkOf(c.remoteAddr) === 'webrtc')) return { reach: 'webrtc', via: null };
  const relayed = conns.find((c) => linkOf(c.remoteAddr) === 'relayed');
  if (relayed) return { reach: 'relayed', via: relayOf(relayed.remoteAddr) };
  return { reach: 'unreachable', via: null };
}
