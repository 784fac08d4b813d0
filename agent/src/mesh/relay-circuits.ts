// The two streams our circuit relay joins for each relayed connection (@libp2p/circuit-relay-v2
// 4.2, `services.relay`): the source's HOP stream (unwrapped in handleConnect) and the STOP stream
// the server opened to the destination (stopHop), seen together before the server pipes them
// (SPEC 13.1, "Relayed streams"). The server's pipe reads whatever arrives on one stream into a
// queue of its own and writes it to the other only as fast as that one drains: a destination that
// reads slowly (or not at all) would grow the queue without bound, because the source's stream
// keeps granting the sender window. So each stream is paused while the stream it feeds cannot take
// more (yamux then stops granting window and the sender waits), and resumed when that one drains.
// Pauses have reasons (a full destination here, a friend over its rate in relay-budget.ts): a
// stream reads again only once every reason is gone.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { PeerId, Stream } from '@libp2p/interface';

/** One relayed connection: the stream from its source and the one to its destination, with their peers. */
export interface RelayedCircuit {
  source: Stream;
  destination: Stream;
  sourcePeer: PeerId;
  destinationPeer: PeerId;
}

interface RelayServerInternals {
  handleConnect(
    args: { stream: { unwrap(): Stream }; request: { peer?: { id: Uint8Array } }; connection: { remotePeer: PeerId } },
    options: unknown,
  ): Promise<void>;
  stopHop(args: { connection: { remotePeer: PeerId }; request: { peer?: { id: Uint8Array } } }, options: unknown): Promise<Stream | undefined>;
}

/** The connected peer whose multihash is `id` (the relay names the ends of a circuit by multihash). */
function connectedPeer(peers: PeerId[], id: Uint8Array | undefined): PeerId | undefined {
  if (!id) return undefined;
  return peers.find((p) => {
    const mh = p.toMultihash().bytes;
    return mh.length === id.length && mh.every((b, i) => b === id[i]);
  });
}

/**
 * Calls `each` with both streams of every relayed connection the server joins, before it pipes
 * them. Throws when the server is not the one these hooks were written for, rather than relay
 * without them.
 */
export function onRelayedCircuits(relay: unknown, connectedPeers: () => PeerId[], each: (c: RelayedCircuit) => void): void {
  const server = relay as Partial<RelayServerInternals> | undefined;
  if (typeof server?.handleConnect !== 'function' || typeof server.stopHop !== 'function')
    throw new Error(
      'the circuit relay server has no handleConnect/stopHop (a @libp2p/circuit-relay-v2 other than 4.2?): relayed streams cannot be metered or held back',
    );
  const s = server as RelayServerInternals;
  const handleConnect = s.handleConnect.bind(s);
  const stopHop = s.stopHop.bind(s);
  // handleConnect calls stopHop and then unwraps the source's stream to pipe the two: the
  // destination's stream reaches the unwrap through the call's own context
  const call = new AsyncLocalStorage<{ destination?: Stream }>();
  s.handleConnect = async (args, options) => {
    const ctx: { destination?: Stream } = {};
    const pb = args.stream;
    const unwrap = pb.unwrap.bind(pb);
    pb.unwrap = () => {
      const source = unwrap();
      const destinationPeer = connectedPeer(connectedPeers(), args.request.peer?.id);
      if (ctx.destination && destinationPeer) each({ source, destination: ctx.destination, sourcePeer: args.connection.remotePeer, destinationPeer });
      return source;
    };
    return call.run(ctx, () => handleConnect(args, options));
  };
  s.stopHop = async (args, options) => {
    const stream = await stopHop(args, options);
    const ctx = call.getStore();
    if (ctx && stream) ctx.destination = stream;
    return stream;
  };
}

const reasons = new WeakMap<Stream, Set<string>>();

/**
 * Pauses `stream` for `reason` (it stops reading: yamux stops granting its sender window) until
 * the returned function is called; it reads again once no reason holds it. Returns null when the
 * stream is closing already, or `reason` holds it already.
 */
export function holdStream(stream: Stream, reason: string): (() => void) | null {
  let held = reasons.get(stream);
  if (held?.has(reason)) return null;
  if (!held || held.size === 0) {
    try {
      stream.pause();
    } catch {
      return null; // closing already
    }
  }
  if (!held) reasons.set(stream, (held = new Set()));
  held.add(reason);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    held.delete(reason);
    if (held.size > 0) return;
    try {
      stream.resume();
    } catch {
      // closed while paused
    }
  };
}

/** `from` stops reading while `to`, the stream it feeds, cannot take more; it reads again once `to` drains or closes. */
function feedAsDrained(from: Stream, to: Stream): void {
  const onMessage = (): void => {
    if (!to.writableNeedsDrain) return;
    const release = holdStream(from, 'destination full');
    if (!release) return;
    const done = (): void => {
      to.removeEventListener('drain', done);
      to.removeEventListener('close', done);
      release();
    };
    to.addEventListener('drain', done);
    to.addEventListener('close', done);
  };
  from.addEventListener('message', onMessage);
  from.addEventListener('close', () => from.removeEventListener('message', onMessage), { once: true });
}

/** Both directions of a relayed connection read only as fast as the other end takes them. */
export function relayAsDrained(c: RelayedCircuit): void {
  feedAsDrained(c.source, c.destination);
  feedAsDrained(c.destination, c.source);
}
