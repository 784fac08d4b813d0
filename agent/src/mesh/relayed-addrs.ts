// Relayed addresses and connections (SPEC 13.1): a connection is relayed when its remote address
// has a /p2p-circuit part, and `<relay address>/p2p/<relay>/p2p-circuit` names the relay. A WebRTC
// connection (webrtc.ts) is direct although the address dialled for it names the relay that
// carried its signalling (`<relay>/p2p-circuit/webrtc/p2p/<friend>`; the answering side sees
// `/webrtc/p2p/<friend>`): linkOf tells the three kinds of link apart.
import type { Libp2p } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';

/** An address or connection that goes through a relay. */
export function isRelayed(addr: Multiaddr | string): boolean {
  return addr.toString().includes('/p2p-circuit');
}

/** An address or connection of the WebRTC transport: UDP between the two hosts, set up over a relay. */
export function isWebRTC(addr: Multiaddr | string): boolean {
  return /\/webrtc(\/|$)/.test(addr.toString());
}

/** How a connection with this remote address travels: its own TCP link, WebRTC (UDP, direct), or through a relay. */
export function linkOf(addr: Multiaddr | string): 'direct' | 'webrtc' | 'relayed' {
  if (isWebRTC(addr)) return 'webrtc';
  return isRelayed(addr) ? 'relayed' : 'direct';
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
