// STUN answered by friends' agents (SPEC 13.1): libdatachannel, under @libp2p/webrtc, has a STUN
// client but no server, and WebRTC behind NAT needs one to learn the address its router gives it.
// Rather than a public STUN server (a third party that would learn who talks to whom), every agent
// answers RFC 5389 Binding requests on UDP at the address and port of its TCP listener; friends use
// it when they reach us at such an address (webrtc.ts). Only Binding requests are answered
// (protocol/stun.ts), only from IPs friends were seen at or listen on (friend-gate.ts), and at most
// STUN_BURST at once per source IP, then one per STUN_INTERVAL_MS; an answer is no larger than a
// request, so it amplifies nothing.
import { createSocket, type Socket } from 'node:dgram';
import { bindingResponse, parseBindingRequest, STUN_BURST, STUN_INTERVAL_MS, STUN_MAX_TRACKED_SOURCES } from '../../../protocol/stun.js';
import type { Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import { EventAllowance } from '../util/rate-limit.js';
import type { Startable } from './service.js';

export interface StunResponderOptions {
  /** The UDP endpoints to answer on: the host and port of each TCP listener ("0.0.0.0" for all). */
  endpoints: () => Array<{ host: string; port: number; family: 4 | 6 }>;
  /** Whether a source IP may be answered (a friend's). */
  allow: (ip: string) => boolean;
  clock: Clock;
  burst?: number;
  intervalMs?: number;
  log?: (line: string) => void;
}

export class StunResponder implements Startable {
  private readonly opts: StunResponderOptions;
  private readonly sockets: Socket[] = [];
  private readonly allowances = new Map<string, EventAllowance>();
  /** Requests answered and ignored since start (tests, metrics). */
  answered = 0;
  ignored = 0;

  constructor(opts: StunResponderOptions) {
    this.opts = opts;
  }

  /** The UDP ports it answers on. */
  ports(): number[] {
    return this.sockets.map((s) => s.address().port);
  }

  async start(): Promise<void> {
    const seen = new Set<string>();
    for (const e of this.opts.endpoints()) {
      const key = `${e.host}|${e.port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const socket = createSocket({ type: e.family === 6 ? 'udp6' : 'udp4', ipv6Only: e.family === 6 });
      socket.on('message', (msg, rinfo) => this.onMessage(socket, msg, rinfo.address, rinfo.port));
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.bind(e.port, e.host, () => {
            socket.off('error', reject);
            resolve();
          });
        });
        // a send that fails (an ICMP error) must not end the agent
        socket.on('error', (err) => this.opts.log?.(`STUN responder on ${e.host}:${e.port}: ${errorMessage(err)}`));
        this.sockets.push(socket);
      } catch (err) {
        socket.close();
        this.opts.log?.(`friends get no STUN answers on UDP ${e.host}:${e.port}: ${errorMessage(err)}`);
      }
    }
  }

  async stop(): Promise<void> {
    for (const s of this.sockets.splice(0)) await new Promise<void>((r) => s.close(() => r()));
    this.allowances.clear();
  }

  private onMessage(socket: Socket, msg: Buffer, ip: string, port: number): void {
    const txId = parseBindingRequest(msg);
    if (txId === null || !this.opts.allow(ip) || !this.take(ip)) {
      this.ignored += 1;
      return;
    }
    this.answered += 1;
    socket.send(bindingResponse(txId, ip, port), port, ip);
  }

  private take(ip: string): boolean {
    let a = this.allowances.get(ip);
    if (!a) {
      if (this.allowances.size >= STUN_MAX_TRACKED_SOURCES) for (const [k, v] of this.allowances) if (v.full()) this.allowances.delete(k);
      if (this.allowances.size >= STUN_MAX_TRACKED_SOURCES) return false;
      this.allowances.set(ip, (a = new EventAllowance(this.opts.burst ?? STUN_BURST, this.opts.intervalMs ?? STUN_INTERVAL_MS, this.opts.clock)));
    }
    return a.tryTake();
  }
}
