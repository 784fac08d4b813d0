// WebRTC among friends (SPEC 13.1): @libp2p/webrtc punches a UDP hole between two friends behind
// NATs, its offer and answer carried over a relayed connection (a friend's relay). Three rules of
// ours on top:
// - ICE asks only the STUN server the user configured, else one friend's agent that we reach at a
//   direct address we dialled (stun-server.ts answers there): never the public STUN servers that
//   @libp2p/webrtc falls back to when no ICE server is given.
// - Only friends may signal a WebRTC connection to us: libp2p answers the signalling protocol from
//   any connected peer (a stranger connected while an invite is open) and would start ICE for it.
// - The node listens on `/webrtc`, so each relayed address it holds is also advertised as
//   `<relay>/p2p/<relay>/p2p-circuit/webrtc` (invites, pairing and identify carry it).
import type { Libp2p } from '@libp2p/interface';
import type { WebRTCTransportInit } from '@libp2p/webrtc';
import type { Registrar, TransportManager } from '@libp2p/interface-internal';
import { ipOf } from './admission.js';
import { linkOf } from './relayed-addrs.js';

/** @libp2p/webrtc's signalling protocol (its constants.ts). */
export const WEBRTC_SIGNALING_PROTOCOL = '/webrtc-signaling/0.0.1';
/** The listen address that makes the node accept WebRTC and advertise /webrtc on its relayed addresses. */
export const WEBRTC_LISTEN = '/webrtc';

export interface StunSource {
  /** STUN servers the user configured (`stun:` in cairn.yaml); used before friends'. */
  configured: string[];
  /** Whether a PeerId is a friend's. */
  isFriend(peerId: string): boolean;
}

/**
 * The one STUN server ICE asks (libdatachannel uses one of those given at random, so one is given):
 * the first configured, else a friend we reach over a TCP connection we opened, at that
 * connection's address (its agent answers STUN on the same port, over UDP). None when neither.
 */
export function stunServers(node: Libp2p, src: StunSource): string[] {
  if (src.configured.length > 0) return [src.configured[0] as string];
  const conns = node
    .getConnections()
    .filter((c) => c.status === 'open' && c.direction === 'outbound' && linkOf(c.remoteAddr) === 'direct' && src.isFriend(c.remotePeer.toString()))
    .sort((a, b) => a.remotePeer.toString().localeCompare(b.remotePeer.toString()));
  for (const c of conns) {
    const ip = ipOf(c.remoteAddr);
    const tcp = c.remoteAddr.getComponents().find((x) => x.name === 'tcp');
    if (ip === null || tcp?.value === undefined) continue;
    return [`stun:${ip.includes(':') ? `[${ip}]` : ip}:${tcp.value}`];
  }
  return [];
}

/** What each RTCPeerConnection gets: always an explicit ICE server list, empty rather than absent (absent means libp2p's public defaults). */
export function rtcConfiguration(node: () => Libp2p | undefined, src: StunSource): RtcConfigurationFn {
  return () => {
    const n = node();
    return { iceServers: (n ? stunServers(n, src) : []).map((url) => ({ urls: [url] })) };
  };
}

/**
 * The WebRTC transport (the node it serves is known only once built: `node` returns it then).
 * @libp2p/webrtc is loaded here, not at startup: it loads node-datachannel's native library, whose
 * threads an agent with `webrtc: false` never needs.
 */
export async function webrtcTransport(node: () => Libp2p | undefined, src: StunSource) {
  const { webRTC } = await import('@libp2p/webrtc');
  return webRTC({ rtcConfiguration: rtcConfiguration(node, src) });
}

type RtcConfigurationFn = Extract<NonNullable<WebRTCTransportInit['rtcConfiguration']>, (...args: never[]) => unknown>;

interface NodeInternals {
  components: { registrar: Registrar };
}

/**
 * Only friends may open a WebRTC connection to us: the signalling stream of anyone else is reset
 * before ICE starts. Called once the node has started (the transport registers its handler then).
 */
export async function guardWebRTCSignalling(node: Libp2p, isFriend: (peerId: string) => boolean): Promise<void> {
  const registrar = (node as unknown as NodeInternals).components.registrar;
  const { handler, options } = registrar.getHandler(WEBRTC_SIGNALING_PROTOCOL);
  await node.handle(
    WEBRTC_SIGNALING_PROTOCOL,
    (stream, connection) => {
      if (!isFriend(connection.remotePeer.toString())) {
        stream.abort(new Error('WebRTC connections are accepted only from friends'));
        return;
      }
      return handler(stream, connection);
    },
    { ...options, force: true },
  );
}

interface TransportInternals {
  components: { transportManager: TransportManager };
}

/** Where the node's TCP listeners are bound (an address of each interface for 0.0.0.0): where stun-server.ts answers. */
export function tcpListenEndpoints(node: Libp2p): Array<{ host: string; port: number; family: 4 | 6 }> {
  const tm = (node as unknown as TransportInternals).components.transportManager;
  return tm.getAddrs().flatMap((a) => {
    if (linkOf(a) !== 'direct') return [];
    const ip = ipOf(a);
    const tcp = a.getComponents().find((c) => c.name === 'tcp');
    if (ip === null || tcp?.value === undefined) return [];
    return [{ host: ip, port: Number(tcp.value), family: ip.includes(':') ? (6 as const) : (4 as const) }];
  });
}

/** Nodes with the WebRTC transport running in this process. */
let liveWebRTCNodes = 0;

/**
 * Counts the node as running until it stops; when the last one stops, libdatachannel (under
 * @libp2p/webrtc, through node-datachannel) releases what it still holds. A WebRTC dial aborted
 * in the middle of ICE leaves native state behind that keeps Node's event loop alive: without this
 * an agent that tried one never exits after SIGTERM.
 */
export function trackWebRTCNode(node: Libp2p): void {
  liveWebRTCNodes += 1;
  node.addEventListener(
    'stop',
    () => {
      liveWebRTCNodes -= 1;
      if (liveWebRTCNodes === 0) void import('node-datachannel').then((m) => m.cleanup());
    },
    { once: true },
  );
}
