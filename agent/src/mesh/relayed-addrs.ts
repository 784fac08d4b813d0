// Relayed addresses and connections (SPEC 13.1): a connection is relayed when its remote address
// has a /p2p-circuit part, and `<relay address>/p2p/<relay>/p2p-circuit` names the relay.
import type { Libp2p } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';

/** An address or connection that goes through a relay. */
export function isRelayed(addr: Multiaddr | string): boolean {
  return addr.toString().includes('/p2p-circuit');
}

/** The relay's PeerId in a relayed address (the /p2p/ part before /p2p-circuit), or null. */
export function relayOf(addr: Multiaddr | string): string | null {
  const m = /\/p2p\/([^/]+)\/p2p-circuit/.exec(addr.toString());
  return m ? (m[1] as string) : null;
}

/** The relays holding a reservation for this node: those its advertised relayed addresses go through. */
export function relaysHeld(node: Libp2p): string[] {
  return [...new Set(node.getMultiaddrs().flatMap((a) => relayOf(a) ?? []))];
}
