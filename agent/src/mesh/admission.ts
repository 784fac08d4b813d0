// Who may hold a half-open connection: before Noise has told us who is dialling, a connection is
// only a remote IP. libp2p alone keeps 10 such connections for 10 s each, from anyone, so ten idle
// sockets locked every friend out. Here strangers share a bounded pool, at most a few per IP, and
// the IPs friends last came from (or listen on) have room of their own, so a flood of strangers
// cannot keep a friend from reaching the handshake that proves it is one.
import type { MultiaddrConnection } from '@libp2p/interface';
import { tryGetNetConfig } from '@libp2p/utils';
import type { Multiaddr } from '@multiformats/multiaddr';

export interface AdmissionLimits {
  /** Half-open connections from every IP not known as a friend's, together. */
  maxPendingStrangers: number;
  /** Half-open connections from one IP not known as a friend's (one IPv6 /64: sourceKey). */
  maxPendingPerStrangerIp: number;
  /** Half-open connections from one IP a friend is known at. */
  maxPendingPerFriendIp: number;
}

export const ADMISSION_LIMITS: AdmissionLimits = {
  maxPendingStrangers: 256,
  maxPendingPerStrangerIp: 16,
  maxPendingPerFriendIp: 32,
};

/** The IP (v4 or v6) of a multiaddr, or null for anything else (DNS names, relays). */
export function ipOf(ma: Multiaddr): string | null {
  const cfg = tryGetNetConfig(ma);
  return cfg !== null && (cfg.type === 'ip4' || cfg.type === 'ip6') ? cfg.host : null;
}

/**
 * What one stranger's connections are counted under: an IPv4 address, or an IPv6 /64 (one host
 * usually holds a whole /64, so counting single IPv6 addresses would cap nothing). IPv4-mapped
 * IPv6 addresses count as their IPv4 address.
 */
export function sourceKey(ip: string): string {
  if (!ip.includes(':')) return ip;
  const lower = ip.toLowerCase().split('%')[0] as string;
  const mapped = /^(?:0{0,4}:){0,5}(?:0{0,4}:)?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower.replace(/^::/, '0:'));
  if (mapped) return mapped[1] as string;
  const [head = '', tail] = lower.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

export class InboundAdmission {
  private readonly limits: AdmissionLimits;
  private readonly isFriendIp: (ip: string) => boolean;
  /** Half-open connections per source (sourceKey, or the exact IP of a friend's), and which pool each was counted in. */
  private readonly perIp = new Map<string, number>();
  private readonly pending = new Map<MultiaddrConnection, { key: string; friend: boolean }>();
  private strangers = 0;

  constructor(isFriendIp: (ip: string) => boolean, limits: AdmissionLimits = ADMISSION_LIMITS) {
    this.isFriendIp = isFriendIp;
    this.limits = limits;
  }

  /** For the connection gater's denyInboundConnection: true refuses the connection now (it is closed). */
  deny(maConn: MultiaddrConnection): boolean {
    const ip = ipOf(maConn.remoteAddr);
    if (ip === null) return true; // TCP only: every inbound connection has an IP
    if (maConn.status !== 'open') return true;
    const friend = this.isFriendIp(ip);
    const key = friend ? ip : sourceKey(ip);
    const here = this.perIp.get(key) ?? 0;
    if (friend ? here >= this.limits.maxPendingPerFriendIp : here >= this.limits.maxPendingPerStrangerIp || this.strangers >= this.limits.maxPendingStrangers)
      return true;
    this.perIp.set(key, here + 1);
    if (!friend) this.strangers += 1;
    this.pending.set(maConn, { key, friend });
    // settled once upgraded, or when the connection closes (refused, failed, upgrade timed out)
    maConn.addEventListener('close', () => this.settled(maConn), { once: true });
    return false;
  }

  /** The connection is upgraded (or gone): it no longer counts as half-open. */
  settled(maConn: MultiaddrConnection): void {
    const p = this.pending.get(maConn);
    if (!p) return;
    this.pending.delete(maConn);
    const left = (this.perIp.get(p.key) ?? 1) - 1;
    if (left > 0) this.perIp.set(p.key, left);
    else this.perIp.delete(p.key);
    if (!p.friend) this.strangers -= 1;
  }

  /** Half-open connections counted now (for tests and metrics). */
  get pendingCount(): number {
    return this.pending.size;
  }
}
