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
