// What kind of IP address an address is, for LAN discovery (dial only LAN addresses a friend
// announces) and port mapping (is the address the router says it has on the internet public, a
// carrier's, or private: a second router in front).
import { BlockList, isIPv4, isIPv6 } from 'node:net';

export type IpKind = 'public' | 'private' | 'carrier' | 'loopback' | 'link-local' | 'reserved';

function list(entries: Array<[string, number, 'ipv4' | 'ipv6']>): BlockList {
  const b = new BlockList();
  for (const [net, prefix, type] of entries) b.addSubnet(net, prefix, type);
  return b;
}

/** RFC 1918 and IPv6 unique local addresses: a home or office network. */
const PRIVATE = list([
  ['10.0.0.0', 8, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['fc00::', 7, 'ipv6'],
]);
/** RFC 6598 shared address space: what a carrier-grade NAT gives its customers' routers. */
const CARRIER = list([['100.64.0.0', 10, 'ipv4']]);
const LOOPBACK = list([
  ['127.0.0.0', 8, 'ipv4'],
  ['::1', 128, 'ipv6'],
]);
const LINK_LOCAL = list([
  ['169.254.0.0', 16, 'ipv4'],
  ['fe80::', 10, 'ipv6'],
]);
/** Not an address a router can be reached at from the internet (this network, documentation, multicast, future use). */
const RESERVED = list([
  ['0.0.0.0', 8, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.0.2.0', 24, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['198.51.100.0', 24, 'ipv4'],
  ['203.0.113.0', 24, 'ipv4'],
  ['224.0.0.0', 3, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['2001:db8::', 32, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
]);

/** The kind of `ip`; null when it is not an IP address. */
export function ipKind(ip: string): IpKind | null {
  const type = isIPv4(ip) ? 'ipv4' : isIPv6(ip) ? 'ipv6' : null;
  if (type === null) return null;
  if (LOOPBACK.check(ip, type)) return 'loopback';
  if (PRIVATE.check(ip, type)) return 'private';
  if (CARRIER.check(ip, type)) return 'carrier';
  if (LINK_LOCAL.check(ip, type)) return 'link-local';
  if (RESERVED.check(ip, type)) return 'reserved';
  return 'public';
}
