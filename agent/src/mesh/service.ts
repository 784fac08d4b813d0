// The mesh is a set of small services (js-libp2p's pattern): each is Startable, the protocol ones
// register their handler in start() and remove it in stop(), and compose.ts starts them in order
// and stops them in reverse.
import type { Connection, Libp2p, Stream, StreamHandler } from '@libp2p/interface';
import { DEFAULT_INBOUND_STREAMS_PER_PEER, INBOUND_STREAMS_PER_PEER, INBOUND_STREAMS_PER_PROTOCOL } from '../../../protocol/mesh.js';

export interface Startable {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A stream reset as it opened: its peer (or everyone together) already had as many of that protocol open as allowed. */
export class TooManyStreamsError extends Error {
  constructor(protocol: string, why: string) {
    super(`too many ${protocol} streams open at once (${why}): this one is reset`);
    this.name = 'TooManyStreamsError';
  }
}

/**
 * A service that serves one protocol with `handler`, from start() to stop(). Streams open at once
 * are bounded per peer (over all its connections: protocol/mesh.ts INBOUND_STREAMS_PER_PEER) and
 * for all peers together; a stream past either is reset before the handler sees it.
 */
export class ProtocolService implements Startable {
  readonly protocol: string;
  private readonly node: Libp2p;
  private readonly handler: StreamHandler;
  private readonly perPeer: number;
  private readonly open = new Map<string, number>();
  private total = 0;

  constructor(node: Libp2p, protocol: string, handler: StreamHandler) {
    this.node = node;
    this.protocol = protocol;
    this.handler = handler;
    this.perPeer = INBOUND_STREAMS_PER_PEER[protocol] ?? DEFAULT_INBOUND_STREAMS_PER_PEER;
  }

  private readonly bounded = async (stream: Stream, connection: Connection): Promise<void> => {
    const peer = connection.remotePeer.toString();
    const mine = this.open.get(peer) ?? 0;
    if (mine >= this.perPeer || this.total >= INBOUND_STREAMS_PER_PROTOCOL) {
      stream.abort(new TooManyStreamsError(this.protocol, mine >= this.perPeer ? `${this.perPeer} from one peer` : `${INBOUND_STREAMS_PER_PROTOCOL} in all`));
      return;
    }
    this.open.set(peer, mine + 1);
    this.total++;
    try {
      await this.handler(stream, connection);
    } finally {
      this.total--;
      const left = (this.open.get(peer) ?? 1) - 1;
      if (left > 0) this.open.set(peer, left);
      else this.open.delete(peer);
    }
  };

  async start(): Promise<void> {
    // libp2p's own per-connection check comes first; ours counts every connection of the peer
    await this.node.handle(this.protocol, this.bounded, { maxInboundStreams: this.perPeer });
  }

  async stop(): Promise<void> {
    await this.node.unhandle(this.protocol);
  }
}

/**
 * Services started in the order given and stopped in reverse. A start that fails stops the ones
 * already started (in reverse) before the error goes on; a stop that fails does not keep the
 * others running: every one is stopped, then the first error is thrown.
 */
export class ServiceGroup implements Startable {
  private readonly services: Startable[];
  private started: Startable[] = [];

  constructor(services: Startable[]) {
    this.services = services;
  }

  async start(): Promise<void> {
    for (const s of this.services) {
      try {
        await s.start();
      } catch (err) {
        await this.stop().catch(() => undefined);
        throw err;
      }
      this.started.push(s);
    }
  }

  async stop(): Promise<void> {
    let first: { err: unknown } | undefined;
    for (const s of this.started.splice(0).reverse()) {
      try {
        await s.stop();
      } catch (err) {
        first ??= { err };
      }
    }
    if (first) throw first.err;
  }
}
