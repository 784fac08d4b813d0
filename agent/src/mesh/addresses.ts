// Which of our addresses we give friends, and which of a friend's reported addresses we keep.
// Loopback is the machine it is said on: a friend that reports 127.0.0.1 from elsewhere would get
// our own loopback admitted as a friend's IP (admission.ts) and dialled as that friend, so a
// friend's loopback addresses are kept only when it reached us over loopback (tests, demos).
import type { Multiaddr } from '@multiformats/multiaddr';

const LOOPBACK = /^\/(ip4\/127\.\d+\.\d+\.\d+|ip6\/::1|dns4\/localhost|dns6\/localhost|dns\/localhost)(\/|$)/;
/** Listening on every interface: meaningless to dial. */
const UNSPECIFIED = /^\/(ip4\/0\.0\.0\.0|ip6\/::)(\/|$)/;

export function isLoopbackAddr(addr: string): boolean {
  return LOOPBACK.test(addr);
}

/**
 * Our node's addresses as friends get them (invites, pair requests): without /p2p/ and 0.0.0.0,
 * loopback last (a friend elsewhere that tries it reaches its own agent, which libp2p refuses by
 * peer ID, and moves on; a friend on this machine needs it).
 */
export function shareableAddrs(addrs: Multiaddr[]): string[] {
  const all = addrs.map((a) => a.toString().replace(/\/p2p\/[^/]+$/, '')).filter((a) => !UNSPECIFIED.test(a));
  return [...all.filter((a) => !isLoopbackAddr(a)), ...all.filter((a) => isLoopbackAddr(a))];
}

/** What a friend says its addresses are (pairing, identify), as we keep them: loopback only when the friend itself reached us over loopback. */
export function friendAddrs(reported: string[], remoteAddr: string): string[] {
  const fromLoopback = isLoopbackAddr(remoteAddr);
  return reported.filter((a) => !UNSPECIFIED.test(a) && (fromLoopback || !isLoopbackAddr(a)));
}
