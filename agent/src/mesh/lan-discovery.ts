// Friends on the same LAN, found by multicast DNS (SPEC 13.1.1): a friend that moved to another
// address or port on this network, or whose stored addresses never worked from here, is dialled
// directly at the LAN addresses it announces. libp2p's mDNS (@libp2p/mdns) answers queries for
// Cairn's service tag with our PeerId and LAN addresses, and reports every answer it hears; a
// stranger's answer is dropped here (not dialled, not put in the peer store, nothing kept), so a
// stranger on the LAN learns only what the announcement carries and we never contact it.
//
// The mDNS service is not registered with libp2p as a discovery service: libp2p would put every
// discovered peer, strangers included, in its peer store. It runs from start() to stop() of this
// mesh service, after the friend gate knows the friends.
import type { PeerDiscovery, PeerInfo, Startable as NodeStartable } from '@libp2p/interface';
import { mdns } from '@libp2p/mdns';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import type { MeshContext } from './context.js';
import type { FriendGate } from './friend-gate.js';
import { ipKind } from './ip-ranges.js';
import { partsOf } from './node-parts.js';
import type { Startable } from './service.js';

/** The DNS-SD service Cairn agents announce and ask for (libp2p's default is _p2p._udp.local). */
export const LAN_SERVICE_TAG = '_cairn-mesh._udp.local';
/**
 * How often we ask the LAN (an agent that starts asks at once, and every agent answers every
 * question, so a friend is usually found within a second; the interval covers a lost packet).
 */
export const LAN_QUERY_INTERVAL_MS = 5_000;
/** A friend found on the LAN is dialled at most this often (its answers arrive once per question anyone asks). */
export const LAN_REDIAL_MS = LAN_QUERY_INTERVAL_MS;
/** At most this many of the addresses in one answer are dialled. */
export const MAX_LAN_ADDRS = 8;

/**
 * The addresses of an mDNS answer worth dialling for friend `peerId`: TCP on a LAN address
 * (RFC 1918, IPv4 link-local, IPv6 unique local), with the friend's PeerId, so the dial reaches
 * that friend or fails in Noise. A spoofed answer cannot send us to the internet or to loopback.
 */
export function lanDialAddrs(addrs: Multiaddr[], peerId: string): Multiaddr[] {
  const out: Multiaddr[] = [];
  for (const a of addrs) {
    if (!isLanTcpAddr(a.toString())) continue;
    out.push(multiaddr(`${a.toString()}/p2p/${peerId}`));
    if (out.length === MAX_LAN_ADDRS) break;
  }
  return out;
}

/** /ip4|ip6/<a LAN address>/tcp/<port>, nothing after it. */
export function isLanTcpAddr(addr: string): boolean {
  const m = /^\/(ip4|ip6)\/([^/]+)\/tcp\/(\d+)$/.exec(addr);
  if (!m) return false;
  const kind = ipKind(m[2] as string);
  return kind === 'private' || (kind === 'link-local' && m[1] === 'ip4');
}

/**
 * The IPs each friend last announced on this LAN by mDNS (only friends, at most MAX_LAN_ADDRS
 * each): a direct connection to one of them is how `cairn peers` tells "LAN" from "direct".
 */
export class LanAnnouncements {
  private readonly ips = new Map<string, Set<string>>();

  /** A friend's mDNS answer: the LAN addresses in it replace what it announced before. */
  heard(peerId: string, addrs: Multiaddr[]): void {
    const ips = new Set(lanDialAddrs(addrs, peerId).map((a) => a.getComponents()[0]?.value ?? ''));
    if (ips.size > 0) this.ips.set(peerId, ips);
    else this.ips.delete(peerId);
  }

  ipsOf(peerId: string): ReadonlySet<string> | undefined {
    return this.ips.get(peerId);
  }

  /** Forgets whoever is no longer a friend. */
  prune(isFriend: (peerId: string) => boolean): void {
    for (const id of this.ips.keys()) if (!isFriend(id)) this.ips.delete(id);
  }
}

export class LanDiscovery implements Startable {
  private readonly ctx: MeshContext;
  private readonly gate: FriendGate;
  private readonly announced: LanAnnouncements;
  private readonly log: (line: string) => void;
  private readonly intervalMs: number;
  private discovery: (PeerDiscovery & NodeStartable) | undefined;
  /** Friends being dialled now, and when each was last dialled (only friends: bounded by the friend book). */
  private readonly dialing = new Set<string>();
  private readonly lastDial = new Map<string, number>();

  constructor(
    ctx: MeshContext,
    gate: FriendGate,
    log: (line: string) => void,
    intervalMs = LAN_QUERY_INTERVAL_MS,
    announced: LanAnnouncements = new LanAnnouncements(),
  ) {
    this.ctx = ctx;
    this.gate = gate;
    this.announced = announced;
    this.log = log;
    this.intervalMs = intervalMs;
  }

  private readonly onPeer = (evt: CustomEvent<PeerInfo>): void => {
    const peer = evt.detail.id;
    const id = peer.toString();
    // deny by default: only a friend's answer leads anywhere
    if (!this.gate.isFriend(id)) return;
    this.announced.prune((x) => this.gate.isFriend(x));
    this.announced.heard(id, evt.detail.multiaddrs);
    if (this.dialing.has(id) || this.ctx.node.getConnections(peer).length > 0) return;
    const now = this.ctx.clock.now();
    if (now - (this.lastDial.get(id) ?? -Infinity) < LAN_REDIAL_MS) return;
    const addrs = lanDialAddrs(evt.detail.multiaddrs, id);
    if (addrs.length === 0) return;
    this.dialing.add(id);
    this.lastDial.set(id, now);
    this.ctx.node
      .dial(addrs)
      .then(
        (conn) => this.log(`lan: friend ${id} found on this network, connected at ${conn.remoteAddr.toString().replace(/\/p2p\/[^/]+$/, '')}`),
        () => undefined, // an answer we could not use; the next one is tried after LAN_REDIAL_MS
      )
      .finally(() => this.dialing.delete(id));
  };

  async start(): Promise<void> {
    // an agent that listens on no LAN address (only loopback, say) has nothing to announce and
    // nothing on the LAN could reach it: it stays off the LAN altogether
    const ours = this.ctx.node.getMultiaddrs().map((a) => a.toString().replace(/\/p2p\/[^/]+$/, ''));
    if (!ours.some(isLanTcpAddr)) return;
    const parts = partsOf(this.ctx.node);
    const discovery = mdns({ serviceTag: LAN_SERVICE_TAG, interval: this.intervalMs })({
      addressManager: parts.addressManager,
      logger: parts.logger,
    }) as PeerDiscovery & NodeStartable;
    discovery.addEventListener('peer', this.onPeer);
    await discovery.start();
    this.discovery = discovery;
  }

  async stop(): Promise<void> {
    const d = this.discovery;
    this.discovery = undefined;
    if (!d) return;
    d.removeEventListener('peer', this.onPeer);
    await d.stop();
  }
}
