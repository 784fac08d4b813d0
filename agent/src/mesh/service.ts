// The mesh is a set of small services (js-libp2p's pattern): each is Startable, the protocol ones
// register their handler in start() and remove it in stop(), and compose.ts starts them in order
// and stops them in reverse.
import type { Libp2p, StreamHandler } from '@libp2p/interface';

export interface Startable {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Streams of one protocol served at once. */
export const MAX_INBOUND_STREAMS = 32;

/** A service that serves one protocol with `handler`, from start() to stop(). */
export class ProtocolService implements Startable {
  readonly protocol: string;
  private readonly node: Libp2p;
  private readonly handler: StreamHandler;

  constructor(node: Libp2p, protocol: string, handler: StreamHandler) {
    this.node = node;
    this.protocol = protocol;
    this.handler = handler;
  }

  async start(): Promise<void> {
    await this.node.handle(this.protocol, this.handler, { maxInboundStreams: MAX_INBOUND_STREAMS });
  }

  async stop(): Promise<void> {
    await this.node.unhandle(this.protocol);
  }
}
