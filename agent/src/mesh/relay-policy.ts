// Who may use the circuit relay among friends (node.ts puts these in the connection gater). Every
// agent relays for its friends, without libp2p's default limits (2 min, 128 KiB per relayed
// connection would cut every pack), so the gater is the whole policy:
// - a reservation on our relay: friends only;
// - relaying from src to dst through us: only when both are our friends;
// - a relayed connection arriving for us: from a friend; or, while one of our invites is open, from
//   anyone a relay that is our friend relays (that relay only relays between its friends, so the
//   joiner is a friend of our friend, and it still has to prove the invite's secret to pair:
//   everything but pairing refuses it, as on a direct connection);
// - a friend that used up the day's relayed volume (relay-budget.ts) is refused new relayed
//   connections, either end, until the day ends.
// Relayed traffic stays end-to-end encrypted: the two friends run Noise over the relayed stream,
// the relay only forwards ciphertext.
import type { PeerId } from '@libp2p/interface';

export interface RelayPolicyDeps {
  isFriend(peer: PeerId): boolean;
  /** True while an invite we issued is open. */
  inviteOpen(): boolean;
  /** True when this friend has used up what our relay carries for it today (relay-budget.ts). */
  overBudget?(peer: PeerId): boolean;
}

export interface RelayGater {
  denyInboundRelayReservation(source: PeerId): boolean;
  denyOutboundRelayedConnection(source: PeerId, destination: PeerId): boolean;
  denyInboundRelayedConnection(relay: PeerId, remote: PeerId): boolean;
}

export function relayGater(deps: RelayPolicyDeps): RelayGater {
  return {
    denyInboundRelayReservation: (source) => !deps.isFriend(source),
    denyOutboundRelayedConnection: (source, destination) =>
      !(deps.isFriend(source) && deps.isFriend(destination)) || deps.overBudget?.(source) === true || deps.overBudget?.(destination) === true,
    denyInboundRelayedConnection: (relay, remote) => !(deps.isFriend(remote) || (deps.inviteOpen() && deps.isFriend(relay))),
  };
}
