// Why a friend is reached the way it is (`cairn peers`, the console's Friends page): one short
// sentence built only from what this agent knows: its own reachability (confirmed public, holding
// relays, or neither; what the router said about port mapping), the kinds of address the friend
// advertised (direct, relayed, WebRTC), how the last attempts to upgrade a relayed connection ended,
// and when the friend was last seen. A pure function of plain inputs, so each case is testable.
import { formatTime } from '../../../protocol/format.js';
import type { PeerListing } from '../../../protocol/api.js';

/** The sentence never grows past this (names are the friends' own; a long one is cut). */
export const REACH_WHY_MAX_CHARS = 200;

export interface ReachWhyInput {
  reach: PeerListing['reach'];
  /** The relay's name when relayed. */
  via: string | null;
  /** This host: confirmed public by a friend, reachable only through relays it holds, or neither; null when not known (the relay agent). */
  self: { state: 'public' | 'relayed' | 'unreachable'; relays: string[] } | null;
  /** The router said it has no public address of its own (carrier-grade or double NAT): port mapping cannot help. */
  selfBehindCgnat: boolean;
  /** Kinds of address the friend advertised (its head, identify, pairing): direct TCP, and through which relays (their names). */
  friend: { direct: boolean; relays: string[] };
  /** For a direct connection: whether we opened it (the friend answers at its address) or it did (it reached ours). */
  directWeDialled: boolean;
  /** Consecutive failed attempts to replace the relayed connection by a direct or WebRTC one (0: none failed since the last success). */
  upgradeFailures: number;
  /** When the friend was last connected (ISO), null never. */
  lastSeen: string | null;
}

function bounded(s: string): string {
  return s.length <= REACH_WHY_MAX_CHARS ? s : `${s.slice(0, REACH_WHY_MAX_CHARS - 1)}…`;
}

/** "we are behind CGNAT" / "we are behind NAT": what this host knows of itself when it is not confirmed public. */
function ourNat(cgnat: boolean): string {
  return cgnat ? 'we are behind CGNAT' : 'we are behind NAT';
}

/** Why the friend is reached as `reach` says, in one plain sentence of at most REACH_WHY_MAX_CHARS. */
export function reachWhy(i: ReachWhyInput): string {
  switch (i.reach) {
    case 'lan':
      return 'on the same LAN: found by mDNS, connected directly';
    case 'direct':
      return i.directWeDialled ? 'it answers at its direct address' : 'it dialled our direct address';
    case 'webrtc':
      return bounded(
        `${i.self?.state === 'public' ? 'a UDP' : 'both behind NAT: a UDP'} hole punch (WebRTC) worked, set up through ${i.friend.relays.length > 0 ? `${i.friend.relays.join(', ')}'s relay` : 'a relay'}`,
      );
    case 'relayed': {
      const via = `${i.via ?? 'a friend'}'s relay`;
      if (i.upgradeFailures > 0)
        return bounded(
          `its direct and WebRTC upgrade failed ${i.upgradeFailures === 1 ? 'once' : `${i.upgradeFailures} times in a row`} (hard NAT or CGNAT on a side): relayed through ${via}`,
        );
      if (i.self && i.self.state !== 'public') return bounded(`${ourNat(i.selfBehindCgnat)} and it answers at no direct address: reached through ${via}`);
      return bounded(`it is behind NAT (no direct address of it answers): reached through ${via}`);
    }
    case 'unreachable': {
      const since = i.lastSeen ? `since ${formatTime(i.lastSeen, { seconds: false })}` : 'yet';
      const weHaveNoWay = i.self !== null && i.self.state === 'unreachable';
      if (weHaveNoWay && i.friend.relays.length === 0)
        return bounded(
          `both behind NAT${i.selfBehindCgnat ? ' (this host behind CGNAT)' : ''}, no relay: no answer at its direct addresses ${since}; pair both with a \`cairn relay\` on a public server`,
        );
      if (!i.friend.direct && i.friend.relays.length === 0)
        return bounded(i.lastSeen ? `no address known for it: not seen since ${formatTime(i.lastSeen, { seconds: false })}` : 'no address known for it');
      if (i.friend.relays.length > 0)
        return bounded(`no answer at its last known addresses (direct or through ${i.friend.relays.join(', ')}'s relay) ${since}`);
      return bounded(`no answer at its last known addresses ${since}`);
    }
  }
}
