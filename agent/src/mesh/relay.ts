// libp2p's circuit relay v2 as the mesh uses it (SPEC 13.1): every agent runs the relay server for
// its friends (the gater, relay-policy.ts, refuses everyone else) without libp2p's default limits,
// and the relay transport, so it can dial friends' /p2p-circuit addresses and hold reservations on
// friends' relays (reachability.ts decides when, through relayControl).
import { circuitRelayServer, circuitRelayTransport, RELAY_V2_STOP_CODEC } from '@libp2p/circuit-relay-v2';
import type { Libp2p, Listener, PeerId } from '@libp2p/interface';
import type { AddressManager, Registrar, TransportManager } from '@libp2p/interface-internal';
import type { Multiaddr } from '@multiformats/multiaddr';
import type { OwnAddresses, RelayControl } from './reachability.js';
import { relaysHeld } from './relayed-addrs.js';

/** Reservations our relay holds at once: one per friend behind NAT; past it a friend is refused (RESERVATION_REFUSED). */
export const RELAY_MAX_RESERVATIONS = 64;

/** The relay server: friends only (gater), no per-connection limits (the default 2 min / 128 KiB would cut every pack). */
export function relayServer() {
  return circuitRelayServer({ reservations: { applyDefaultLimit: false, maxReservations: RELAY_MAX_RESERVATIONS } });
}

/** The relay transport: dials /p2p-circuit addresses and listens on the relays reachability.ts picks. */
export function relayTransport() {
  return circuitRelayTransport();
}

interface NodeInternals {
  components: { transportManager: TransportManager; addressManager: AddressManager; registrar: Registrar };
}

/** A listener of the relay transport (listeners of other transports always have addresses of their own). */
function isCircuitListener(l: Listener): boolean {
  return l.constructor.name === 'CircuitRelayTransportListener';
}

/**
 * Reservations through libp2p's transport manager. A relay listener whose reservation ended (its
 * relay went away) keeps no address; it is reused for the next reservation, so listeners never
 * outnumber the reservations wanted at once plus the failed attempts of one reconcile.
 */
export function relayControl(node: Libp2p): RelayControl {
  const tm = (node as unknown as NodeInternals).components.transportManager;
  const circuitListeners = () => tm.getListeners().filter(isCircuitListener);
  return {
    async reserve(relay: PeerId, relayAddr: Multiaddr): Promise<void> {
      const addr = relayAddr.encapsulate(`/p2p/${relay.toString()}/p2p-circuit`);
      const idle = circuitListeners().find((l) => l.getAddrs().length === 0);
      if (idle) await idle.listen(addr);
      else await tm.listen([addr]);
    },
    async dropAll(): Promise<void> {
      // closing one relay listener cancels every reservation of the transport: close them all
      for (const l of circuitListeners()) await l.close();
    },
  };
}

/**
 * Our addresses as libp2p's address manager holds them, advertised or not (libp2p advertises a
 * public IP it listens on only once something confirmed it: AutoNAT, here a friend's dial-back),
 * except those a peer observed: an outgoing connection's port, which a NAT that lets anyone
 * through an existing mapping would confirm for as long as that mapping lives.
 */
export function ownAddresses(node: Libp2p): OwnAddresses {
  const am = (node as unknown as NodeInternals).components.addressManager;
  return {
    candidates: () =>
      am
        .getAddressesWithMetadata()
        .filter((a) => a.type !== 'observed')
        .map((a) => a.multiaddr),
    confirm: (addr) => am.confirmObservedAddr(addr, { type: 'transport' }),
  };
}

/**
 * Only a relay we hold a reservation on (one we chose: a friend) may open a relayed connection to
 * us. libp2p's transport answers a relay's STOP request from any connected peer and, when it holds
 * no reservation there, starts listening on that relay (reserving and advertising it): a stranger
 * connected while an invite is open could otherwise make us advertise its relay, and a friend could
 * make us create relay listeners without bound. Called once the node has started.
 */
export async function guardRelayStop(node: Libp2p): Promise<void> {
  const registrar = (node as unknown as NodeInternals).components.registrar;
  const { handler, options } = registrar.getHandler(RELAY_V2_STOP_CODEC);
  await node.handle(
    RELAY_V2_STOP_CODEC,
    (stream, connection) => {
      if (!relaysHeld(node).includes(connection.remotePeer.toString())) {
        stream.abort(new Error('relayed connections are accepted only through relays this agent holds a reservation on'));
        return;
      }
      return handler(stream, connection);
    },
    { ...options, force: true },
  );
}
