// Direct when possible (SPEC 13.1): a friend reached only through a relay is dialled again, first
// at its TCP addresses (one of us may be publicly reachable; a short wait, they fail fast or not at
// all), then over WebRTC at its `<relay>/p2p-circuit/webrtc` addresses, the offer and answer going
// over the relayed connection. Tried when a friend is identified on a relayed connection and every
// UPGRADE_RETRY_MS for every friend still relayed. Of two friends that both try, the one with the
// greater PeerId waits UPGRADE_DEFER_MS first, so they rarely punch twice. The relayed connection
// stays open: libp2p opens new streams on a direct connection when there is one (its
// findExistingConnection), so what goes through the relay after the upgrade is what was already
// under way. Relies on @libp2p/webrtc 6 reusing the existing relayed connection for signalling.
// Between two hosts that both sit behind CGNAT or a hard NAT every attempt fails: after each
// consecutive failure a friend waits twice as long before the next (UPGRADE_RETRY_MS, then 2x, 4x,
// ... up to UPGRADE_BACKOFF_MAX_MS), and it is tried at once again when its addresses change (it
// moved, or holds a new relay); a success forgets its failures. Kept for friends only.
import type { Connection, IdentifyResult, Libp2p, PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { errorMessage } from '../util/errors.js';
import { isLoopbackAddr } from './addresses.js';
import { isWebRTC, linkOf } from './relayed-addrs.js';
import type { Startable } from './service.js';

/** A friend still reached only through a relay is tried again this often. */
export const UPGRADE_RETRY_MS = 7 * 60_000;
/** After consecutive failed attempts a friend waits UPGRADE_RETRY_MS, doubled per failure, up to this, before the next. */
export const UPGRADE_BACKOFF_MAX_MS = 2 * 3_600_000;
/** A TCP dial to a friend's direct addresses gives up after this (a NAT drops the SYN: no answer at all). */
export const UPGRADE_TCP_TIMEOUT_MS = 3_000;
/** A WebRTC dial (signalling, ICE, DTLS, SCTP) gives up after this; the relay carries on meanwhile. */
export const UPGRADE_WEBRTC_TIMEOUT_MS = 10_000;
/** One whole attempt (the wait, TCP, WebRTC) ends within this: then the relay simply carries on. */
export const UPGRADE_ATTEMPT_MS = 15_000;
/** The friend with the greater PeerId waits this long before trying, in case the other side's try succeeds. */
export const UPGRADE_DEFER_MS = 2_000;
/** Upgrades tried at once (each holds a UDP socket and ICE state while it lasts). */
export const UPGRADE_MAX_CONCURRENT = 4;

/** WebRTC addresses tried in one attempt (one per relay the friend holds, two at most: reachability.ts MAX_RELAYS). */
export const UPGRADE_MAX_WEBRTC_ADDRS = 2;

export type UpgradeOutcome = 'direct' | 'webrtc' | 'relayed' | 'busy';

export interface DirectUpgradeOptions {
  retryMs?: number;
  backoffMaxMs?: number;
  /** Milliseconds since the epoch (injected in tests). */
  now?: () => number;
  tcpTimeoutMs?: number;
  webrtcTimeoutMs?: number;
  deferMs?: number;
  attemptMs?: number;
  log?: (line: string) => void;
}

export class DirectUpgrade implements Startable {
  private readonly node: Libp2p;
  private readonly isFriend: (peerId: string) => boolean;
  private readonly opts: Required<Omit<DirectUpgradeOptions, 'log'>>;
  /** Friends whose last attempts failed: how many in a row, when the next is due, and their addresses then (only friends; a success removes the entry). */
  private readonly failures = new Map<string, { count: number; nextAt: number; addrs: string }>();
  private readonly log: (line: string) => void;
  private readonly inFlight = new Map<string, Promise<UpgradeOutcome>>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;

  constructor(node: Libp2p, isFriend: (peerId: string) => boolean, opts: DirectUpgradeOptions = {}) {
    this.node = node;
    this.isFriend = isFriend;
    this.opts = {
      retryMs: opts.retryMs ?? UPGRADE_RETRY_MS,
      backoffMaxMs: opts.backoffMaxMs ?? UPGRADE_BACKOFF_MAX_MS,
      now: opts.now ?? Date.now,
      tcpTimeoutMs: opts.tcpTimeoutMs ?? UPGRADE_TCP_TIMEOUT_MS,
      webrtcTimeoutMs: opts.webrtcTimeoutMs ?? UPGRADE_WEBRTC_TIMEOUT_MS,
      deferMs: opts.deferMs ?? UPGRADE_DEFER_MS,
      attemptMs: opts.attemptMs ?? UPGRADE_ATTEMPT_MS,
    };
    this.log = opts.log ?? (() => undefined);
  }

  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const id = evt.detail.peerId.toString();
    if (this.isFriend(id) && this.relayedOnly(evt.detail.peerId)) void this.upgradeWhenDue(evt.detail.peerId);
  };

  async start(): Promise<void> {
    this.stopped = false;
    this.node.addEventListener('peer:identify', this.onIdentify);
    this.timer = setInterval(() => void this.retryAll(), this.opts.retryMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.node.removeEventListener('peer:identify', this.onIdentify);
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** A friendship was made (pairing over a relayed connection is identified before it): try that friend now. */
  soon(peerId: string): void {
    const peer = this.node.getConnections().find((c) => c.remotePeer.toString() === peerId)?.remotePeer;
    if (peer && this.isFriend(peerId) && this.relayedOnly(peer)) void this.upgrade(peer);
  }

  /** Resolves once no upgrade is under way. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** Tries every friend connected only through a relay whose backoff is over; resolves when those attempts end. */
  async retryAll(): Promise<void> {
    for (const id of this.failures.keys()) if (!this.isFriend(id)) this.failures.delete(id);
    const peers = new Map<string, PeerId>();
    for (const c of this.node.getConnections()) peers.set(c.remotePeer.toString(), c.remotePeer);
    const tries: Array<Promise<unknown>> = [];
    for (const [id, peer] of peers) if (this.isFriend(id) && this.relayedOnly(peer)) tries.push(this.upgradeWhenDue(peer));
    await Promise.allSettled(tries);
  }

  /** Consecutive failed attempts of a friend's upgrade (0 after a success; tests, status). */
  failuresOf(peerId: string): number {
    return this.failures.get(peerId)?.count ?? 0;
  }

  /** An attempt unless the friend's backoff is still running with its addresses unchanged. */
  private async upgradeWhenDue(peer: PeerId): Promise<UpgradeOutcome | 'later'> {
    const id = peer.toString();
    const failed = this.failures.get(id);
    if (failed && !this.inFlight.has(id)) {
      if (addrsKey(await this.addrsOf(peer)) !== failed.addrs)
        this.failures.delete(id); // it moved: try at once
      else if (this.opts.now() < failed.nextAt) return 'later';
    }
    return this.upgrade(peer);
  }

  /** Notes how an attempt ended: a failure doubles the wait before the next, a success forgets the failures. */
  private async note(peer: PeerId, outcome: UpgradeOutcome): Promise<void> {
    const id = peer.toString();
    if (outcome === 'busy') return;
    if (outcome !== 'relayed' || !this.isFriend(id)) {
      this.failures.delete(id);
      return;
    }
    const count = (this.failures.get(id)?.count ?? 0) + 1;
    const waitMs = Math.min(this.opts.backoffMaxMs, this.opts.retryMs * 2 ** Math.min(count - 1, 30));
    this.failures.set(id, { count, nextAt: this.opts.now() + waitMs, addrs: addrsKey(await this.addrsOf(peer)) });
    if (count > 1) this.log(`no direct connection to ${id} in ${count} attempts in a row: next try in ${Math.round(waitMs / 60_000)} min`);
  }

  /** Friends reached only through a relay now (tests, status). */
  relayedFriends(): string[] {
    const ids = new Set(this.node.getConnections().map((c) => c.remotePeer.toString()));
    return [...ids].filter((id) => this.isFriend(id) && this.relayedOnly(peerIdFromString(id)));
  }

  /** One upgrade attempt for `peer` (joined if one is under way): how the friend is reached when it ends. */
  upgrade(peer: PeerId): Promise<UpgradeOutcome> {
    const id = peer.toString();
    const running = this.inFlight.get(id);
    if (running) return running;
    if (this.stopped || this.inFlight.size >= UPGRADE_MAX_CONCURRENT) return Promise.resolve('busy');
    const p = this.attempt(peer)
      .then(async (outcome) => {
        await this.note(peer, outcome);
        return outcome;
      })
      .finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, p);
    return p;
  }

  private relayedOnly(peer: PeerId): boolean {
    const conns = this.open(peer);
    return conns.length > 0 && conns.every((c) => linkOf(c.remoteAddr) === 'relayed');
  }

  private open(peer: PeerId): Connection[] {
    return this.node.getConnections(peer).filter((c) => c.status === 'open');
  }

  private reach(peer: PeerId): UpgradeOutcome {
    const links = this.open(peer).map((c) => linkOf(c.remoteAddr));
    return links.includes('direct') ? 'direct' : links.includes('webrtc') ? 'webrtc' : 'relayed';
  }

  private async attempt(peer: PeerId): Promise<UpgradeOutcome> {
    // one deadline for the whole attempt, however many addresses it tries
    const whole = AbortSignal.timeout(this.opts.attemptMs);
    const ended = () => this.stopped || whole.aborted || !this.relayedOnly(peer);
    if (this.node.peerId.toString() > peer.toString()) await new Promise((r) => setTimeout(r, this.opts.deferMs).unref());
    if (ended()) return this.reach(peer);
    const addrs = await this.addrsOf(peer);
    const withPeer = (a: Multiaddr) => (a.getComponents().some((c) => c.name === 'p2p') ? a : a.encapsulate(`/p2p/${peer.toString()}`));
    // TCP first: a friend with a public address (or a forwarded port) is reached without a punch
    const tcp = addrs.filter((a) => linkOf(a) === 'direct' && a.getComponents().some((c) => c.name === 'tcp') && !isLoopbackAddr(a.toString()));
    if (tcp.length > 0 && (await this.dial(peer, tcp.map(withPeer), this.opts.tcpTimeoutMs, whole, 'TCP'))) return this.reach(peer);
    // the friend's advertised /webrtc addresses, and its address on the relay we are connected through
    // (identify's address list may come without them; the signalling goes over that connection anyway)
    const viaRelay = this.open(peer)
      .filter((c) => linkOf(c.remoteAddr) === 'relayed')
      .map((c) => multiaddr(c.remoteAddr.toString().replace(/\/p2p-circuit\/p2p\/([^/]+)$/, '/p2p-circuit/webrtc/p2p/$1')))
      .filter((a) => isWebRTC(a));
    const webrtc = [...new Map([...viaRelay, ...addrs.filter((x) => isWebRTC(x)).map(withPeer)].map((a) => [a.toString(), a])).values()];
    if (webrtc.length === 0) this.log(`no WebRTC address known for ${peer.toString()}`);
    for (const a of webrtc.slice(0, UPGRADE_MAX_WEBRTC_ADDRS)) {
      if (ended()) break;
      if (await this.dial(peer, [a], this.opts.webrtcTimeoutMs, whole, 'WebRTC')) break;
    }
    return this.reach(peer);
  }

  private async dial(peer: PeerId, addrs: Multiaddr[], timeoutMs: number, whole: AbortSignal, what: string): Promise<boolean> {
    try {
      const conn = await this.node.dial(addrs, { signal: AbortSignal.any([whole, AbortSignal.timeout(timeoutMs)]) });
      return conn.remotePeer.equals(peer) && linkOf(conn.remoteAddr) !== 'relayed';
    } catch (err) {
      this.log(`no ${what} connection to ${peer.toString()}: ${errorMessage(err)}`);
      return false;
    }
  }

  private async addrsOf(peer: PeerId): Promise<Multiaddr[]> {
    try {
      return (await this.node.peerStore.get(peer)).addresses.map((a) => a.multiaddr);
    } catch {
      return [];
    }
  }
}

/** A friend's addresses as one comparable string (in any order; an address added or gone changes it). */
function addrsKey(addrs: Multiaddr[]): string {
  return addrs
    .map((a) => a.toString())
    .sort()
    .join(' ');
}
