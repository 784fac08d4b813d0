// Port mapping (SPEC 13.1.2): the agent asks its router to forward its listening TCP port, by
// NAT-PMP (nat-pmp.ts) and else UPnP IGD (@achingbrain/nat-port-mapper), and tells friends the
// mapped address (the node's address manager adds it: identify, invites and pairing carry it).
// What the router says its internet address is tells whether a mapping can help at all: an address
// in 100.64.0.0/10 is a carrier-grade NAT's, a private one a second router's, none at all either;
// then nothing is mapped and the agent says so in plain words (status and log). Renewed at half the
// lease; retried every PORT_MAPPING_RETRY_MS while nothing is mapped; removed at stop.
import { upnpNat, type Gateway } from '@achingbrain/nat-port-mapper';
import { multiaddr } from '@multiformats/multiaddr';
import type { PortMappingState, PortMappingStatus } from '../../../protocol/console-api.js';
import type { MeshContext } from './context.js';
import { ipKind } from './ip-ranges.js';
import { defaultRoute, NAT_PMP_NETWORK_FAILURE, NatPmpError, NatPmpNoAnswerError, pmpExternalAddress, pmpMapTcp } from './nat-pmp.js';
import { partsOf } from './node-parts.js';
import type { Startable } from './service.js';

/** Lease asked of the router (RFC 6886 recommends 2 h; shorter, so a mapping of a dead agent goes soon). */
export const PORT_MAPPING_LEASE_S = 3600;
/** While something is mapped it is renewed this often (half the lease). */
export const PORT_MAPPING_RENEW_MS = (PORT_MAPPING_LEASE_S * 1000) / 2;
/** While nothing is mapped (no router, CGNAT, refused) the router is asked again this often. */
export const PORT_MAPPING_RETRY_MS = 10 * 60_000;
/** Longest one attempt (NAT-PMP, then a UPnP search and its requests) may take. */
export const PORT_MAPPING_ATTEMPT_MS = 15_000;
/** How long the SSDP search for a UPnP gateway listens. */
export const UPNP_SEARCH_MS = 5_000;
/** Removing the mapping at stop waits at most this long. */
const UNMAP_MS = 1_000;
const DESCRIPTION = 'cairn agent';

type Via = 'UPnP IGD' | 'NAT-PMP';

/** What the router answered: an external address (null: it has none) and, when that is public, the mapped port. */
interface RouterAnswer {
  via: Via;
  externalIp: string | null;
  externalPort?: number;
  refused?: string;
  /** Removes the mapping (bounded by the signal). */
  unmap?: (signal: AbortSignal) => Promise<void>;
}

/**
 * What the router's own internet address says about mapping: public, a port mapped there reaches
 * us; in 100.64.0.0/10 the carrier NATs again; private, another router does; none (null, or an
 * address no router has on the internet), one of the two.
 */
export function routerAddressState(ip: string | null): 'public' | 'carrier-nat' | 'double-nat' | 'no-public-address' {
  const kind = ip === null ? null : ipKind(ip);
  if (kind === 'public') return 'public';
  if (kind === 'carrier') return 'carrier-nat';
  if (kind === 'private') return 'double-nat';
  return 'no-public-address';
}

/** Plain words for each outcome; `port` is the listening port, `ip` the router's internet address. */
export function portMappingMessage(
  state: PortMappingState,
  d: { via?: Via | null; ip?: string | null; address?: string | null; port?: number; why?: string },
): string {
  switch (state) {
    case 'off':
      return 'port mapping is off (port-mapping: false): the router is not asked to forward a port';
    case 'searching':
      return 'asking the router (NAT-PMP, UPnP IGD) to forward the listening port';
    case 'public':
      return `this host has a public address (${d.ip ?? ''}): nothing to map`;
    case 'mapped':
      return `the router forwards ${d.address ?? ''} to this agent (${d.via ?? ''}); friends are told that address`;
    case 'carrier-nat':
      return `behind carrier-grade NAT (the router's internet address ${d.ip ?? ''} is the carrier's): reachable only through friends' relays`;
    case 'double-nat':
      return `behind double NAT (the router's internet address ${d.ip ?? ''} is private: another router is in front): reachable only through friends' relays, or forward port ${d.port ?? ''} on the router in front and announce it`;
    case 'no-public-address':
      return `behind carrier-grade or double NAT (the router has no public address, ${d.via ?? ''}): reachable only through friends' relays`;
    case 'not-on-lan':
      return `the agent does not listen on ${d.ip ?? 'its LAN address'}, the address the router knows: the router is not asked`;
    case 'no-router':
      return `no router answered NAT-PMP or UPnP IGD: friends reach this agent through a port you forward (announce) or through their relays`;
    case 'refused':
      return `the router (${d.via ?? ''}) would not forward port ${d.port ?? ''}: ${d.why ?? ''}`;
  }
}

export class PortMapping implements Startable {
  private readonly ctx: MeshContext;
  private readonly enabled: boolean;
  private readonly log: (line: string) => void;
  private current: PortMappingStatus;
  private timer: NodeJS.Timeout | undefined;
  private attempt: AbortController | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  /** What we added to the address manager and how to remove it at the router. */
  private mapped: { host: string; port: number; ip: string; externalPort: number; unmap?: (signal: AbortSignal) => Promise<void> } | undefined;

  constructor(ctx: MeshContext, enabled: boolean, log: (line: string) => void) {
    this.ctx = ctx;
    this.enabled = enabled;
    this.log = log;
    this.current = { state: 'off', via: null, address: null, message: portMappingMessage('off', {}) };
  }

  status(): PortMappingStatus {
    return { ...this.current };
  }

  async start(): Promise<void> {
    if (!this.enabled) return;
    this.stopped = false;
    this.set({ state: 'searching', via: null, address: null, message: portMappingMessage('searching', {}) });
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.attempt?.abort(new Error('stopping'));
    await this.running?.catch(() => undefined);
    const m = this.mapped;
    this.mapped = undefined;
    if (m) {
      partsOf(this.ctx.node).addressManager.removePublicAddressMapping(m.host, m.port, m.ip, m.externalPort, 'tcp');
      await m.unmap?.(AbortSignal.timeout(UNMAP_MS)).catch(() => undefined);
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.once().finally(() => {
        this.running = undefined;
        this.schedule(this.current.state === 'mapped' ? PORT_MAPPING_RENEW_MS : PORT_MAPPING_RETRY_MS);
      });
    }, ms);
    this.timer.unref();
  }

  private set(next: PortMappingStatus): void {
    const changed = next.message !== this.current.message;
    this.current = next;
    if (changed && next.state !== 'searching') this.log(`port mapping: ${next.message}`);
  }

  /** One attempt: find the router, read its address, map (or renew) the port, and say what came of it. */
  private async once(): Promise<void> {
    const ac = new AbortController();
    this.attempt = ac;
    const signal = AbortSignal.any([ac.signal, AbortSignal.timeout(PORT_MAPPING_ATTEMPT_MS)]);
    const route = defaultRoute();
    const port = route ? this.listeningPort(route.localAddress) : null;
    try {
      if (!route) {
        this.set({ state: 'no-router', via: null, address: null, message: portMappingMessage('no-router', {}) });
        return;
      }
      if (port === null) {
        // listening elsewhere (loopback, say): a mapping could not reach us, so the router is not asked
        this.set({ state: 'not-on-lan', via: null, address: null, message: portMappingMessage('not-on-lan', { ip: route.localAddress }) });
        return;
      }
      if (ipKind(route.localAddress) === 'public') {
        this.set({ state: 'public', via: null, address: null, message: portMappingMessage('public', { ip: route.localAddress }) });
        return;
      }
      const answer = (await askPmp(route.gateway, port, signal)) ?? (await askUpnp(route.localAddress, port, signal));
      if (this.stopped) {
        await answer?.unmap?.(AbortSignal.timeout(UNMAP_MS)).catch(() => undefined);
        return;
      }
      this.apply(answer, route.localAddress, port);
    } catch (err) {
      if (!this.stopped)
        this.set({ state: 'refused', via: null, address: null, message: portMappingMessage('refused', { port: port ?? 0, why: (err as Error).message }) });
    } finally {
      this.attempt = undefined;
    }
  }

  /** The TCP port the node listens on at `host` (or on every interface), if any. */
  private listeningPort(host: string): number | null {
    for (const a of this.ctx.node.getMultiaddrs()) {
      const m = /^\/ip4\/([^/]+)\/tcp\/(\d+)(\/p2p\/[^/]+)?$/.exec(a.toString());
      if (m && m[1] === host) return Number(m[2]);
    }
    return null;
  }

  private apply(answer: RouterAnswer | null, host: string, port: number): void {
    const am = partsOf(this.ctx.node).addressManager;
    const previous = this.mapped;
    const keep = answer?.externalPort !== undefined && routerAddressState(answer.externalIp) === 'public';
    if (previous && !(keep && previous.ip === answer.externalIp && previous.externalPort === answer.externalPort)) {
      am.removePublicAddressMapping(previous.host, previous.port, previous.ip, previous.externalPort, 'tcp');
      this.mapped = undefined;
    }
    if (answer === null) {
      this.set({ state: 'no-router', via: null, address: null, message: portMappingMessage('no-router', {}) });
      return;
    }
    const { via, externalIp: ip } = answer;
    const state = routerAddressState(ip);
    if (ip === null || state !== 'public') {
      this.set({ state, via, address: null, message: portMappingMessage(state, { via, ip, port }) });
      return;
    }
    if (answer.externalPort === undefined) {
      this.set({ state: 'refused', via, address: null, message: portMappingMessage('refused', { via, port, why: answer.refused ?? 'no reason given' }) });
      return;
    }
    const address = `/ip4/${ip}/tcp/${answer.externalPort}`;
    if (!this.mapped) am.addPublicAddressMapping(host, port, ip, answer.externalPort, 'tcp');
    this.mapped = { host, port, ip, externalPort: answer.externalPort, ...(answer.unmap ? { unmap: answer.unmap } : {}) };
    // the router said so: no dial-back needed to believe it (until the lease is renewed)
    am.confirmObservedAddr(multiaddr(address), { type: 'ip-mapping', ttl: PORT_MAPPING_LEASE_S * 1000 });
    this.set({ state: 'mapped', via, address, message: portMappingMessage('mapped', { via, address }) });
  }
}

/** NAT-PMP at the default gateway; null when it does not answer. */
async function askPmp(gateway: string, port: number, signal: AbortSignal): Promise<RouterAnswer | null> {
  const via: Via = 'NAT-PMP';
  let ip: string;
  try {
    ip = await pmpExternalAddress(gateway, signal);
  } catch (err) {
    if (err instanceof NatPmpNoAnswerError) return null;
    if (err instanceof NatPmpError && err.result === NAT_PMP_NETWORK_FAILURE) return { via, externalIp: null };
    if (err instanceof NatPmpError) return null; // NAT-PMP turned off: try UPnP
    throw err;
  }
  if (routerAddressState(ip) !== 'public') return { via, externalIp: ip };
  try {
    const m = await pmpMapTcp(gateway, port, PORT_MAPPING_LEASE_S, signal);
    return { via, externalIp: ip, externalPort: m.externalPort, unmap: (s) => pmpMapTcp(gateway, port, 0, s).then(() => undefined) };
  } catch (err) {
    if (err instanceof NatPmpError || err instanceof NatPmpNoAnswerError) return { via, externalIp: ip, refused: err.message };
    throw err;
  }
}

/** UPnP IGD: the first IPv4 gateway an SSDP search finds; null when none answers. */
async function askUpnp(host: string, port: number, signal: AbortSignal): Promise<RouterAnswer | null> {
  const via: Via = 'UPnP IGD';
  let gateway: Gateway | undefined;
  const search = AbortSignal.any([signal, AbortSignal.timeout(UPNP_SEARCH_MS)]);
  for await (const g of upnpNat({ autoRefresh: false, description: DESCRIPTION }).findGateways({ signal: search })) {
    if (g.family !== 'IPv4') continue;
    gateway = g;
    break;
  }
  if (!gateway) return null;
  const gw = gateway;
  const raw = await gw.externalIp({ signal });
  // an IGD without a usable external address answers "" or 0.0.0.0 (miniupnpd does)
  const ip = ipKind(raw) === null || ipKind(raw) === 'reserved' ? null : raw;
  if (routerAddressState(ip) !== 'public') return { via, externalIp: ip };
  try {
    const m = await gw.map(port, host, {
      protocol: 'TCP',
      externalPort: port,
      ttl: PORT_MAPPING_LEASE_S * 1000,
      autoRefresh: false,
      description: DESCRIPTION,
      signal,
    });
    return { via, externalIp: ip, externalPort: m.externalPort, unmap: (s) => gw.stop({ signal: s }) };
  } catch (err) {
    return { via, externalIp: ip, refused: (err as Error).message };
  }
}
