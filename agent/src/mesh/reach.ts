// /cairn/reach/1.0.0: a friend dials us back. AutoNAT wants dial-backs from several unrelated
// networks, which a mesh of a few friends does not have; here one friend is asked "can you reach me
// at these addresses?" and answers which ones it reached, each on a new connection that must prove
// our PeerId (Noise). Only friends ask; a friend dials back only addresses on the IP its request
// came from (it cannot make us dial anyone else's hosts), at most MAX_REACH_ADDRS, each within
// REACH_DIAL_TIMEOUT_MS, and answers a few requests per friend (REACH_BURST, then one per
// REACH_INTERVAL_MS).
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import {
  parseReachReply,
  parseReachRequest,
  PROTOCOLS,
  REACH_BURST,
  REACH_DEADLINE_MS,
  REACH_DIAL_TIMEOUT_MS,
  REACH_INTERVAL_MS,
  WireError,
  type ReachReply,
} from '../../../protocol/mesh.js';
import { EventAllowance } from '../util/rate-limit.js';
import { ipOf } from './admission.js';
import { requireFriend, type MeshContext } from './context.js';
import { Deadline, openStream } from './deadline.js';
import { exchange, RefusedError, serve } from './framing.js';
import { isLoopbackAddr } from './addresses.js';
import { isRelayed, linkOf } from './relayed-addrs.js';
import { ProtocolService, type Startable } from './service.js';

/** Friends whose reach allowance is remembered before the full ones are forgotten. */
const MAX_TRACKED_ALLOWANCES = 256;

/** A direct TCP address we may ask a friend to dial back: IPv4/IPv6, a TCP port, no relay, no PeerId. */
export function dialBackCandidate(addr: string): boolean {
  try {
    const ma = multiaddr(addr);
    return !isRelayed(addr) && ipOf(ma) !== null && ma.getComponents().some((c) => c.name === 'tcp') && !ma.getComponents().some((c) => c.name === 'p2p');
  } catch {
    return false;
  }
}

export type ReachDeps = Pick<MeshContext, 'node' | 'friends' | 'clock'>;

export interface ReachServiceOptions {
  dialTimeoutMs?: number;
  burst?: number;
  intervalMs?: number;
}

/** Serves reach to friends, from start to stop. */
export function reachService(ctx: ReachDeps, opts: ReachServiceOptions = {}): Startable {
  return new ProtocolService(ctx.node, PROTOCOLS.reach, reachHandler(ctx, opts));
}

export function reachHandler(ctx: ReachDeps, opts: ReachServiceOptions = {}) {
  const dialTimeoutMs = opts.dialTimeoutMs ?? REACH_DIAL_TIMEOUT_MS;
  const burst = opts.burst ?? REACH_BURST;
  const intervalMs = opts.intervalMs ?? REACH_INTERVAL_MS;
  const allowances = new Map<string, EventAllowance>();
  const allow = (peerId: string): boolean => {
    let a = allowances.get(peerId);
    if (!a) {
      if (allowances.size >= MAX_TRACKED_ALLOWANCES) for (const [k, v] of allowances) if (v.full()) allowances.delete(k);
      allowances.set(peerId, (a = new EventAllowance(burst, intervalMs, ctx.clock)));
    }
    return a.tryTake();
  };
  return async (stream: Stream, connection: Connection) =>
    serve(stream, async (f) => {
      await requireFriend(ctx, connection);
      const remote = connection.remotePeer;
      const req = parseReachRequest(await f.readJson());
      if (!allow(remote.toString()))
        throw new RefusedError(WireError.rateLimited, `too many reach requests: at most ${burst} at once, then one every ${intervalMs / 1000} s`);
      // a relayed or WebRTC connection's address names the relay's IP, not the friend's
      const seenIp = linkOf(connection.remoteAddr) === 'direct' ? ipOf(connection.remoteAddr) : null;
      const fromLoopback = isLoopbackAddr(connection.remoteAddr.toString());
      // only the address the request came from: a friend cannot point our dials at other hosts
      const wanted = [...new Set(req.addrs)].filter((a) => {
        if (seenIp === null || !dialBackCandidate(a)) return false;
        return ipOf(multiaddr(a)) === seenIp && (fromLoopback || !isLoopbackAddr(a));
      });
      const confirmed = (await Promise.all(wanted.map(async (a) => ((await dialBack(ctx, remote, a, dialTimeoutMs)) ? a : null)))).filter(
        (a): a is string => a !== null,
      );
      const reply: ReachReply = { ok: true, confirmed };
      await f.writeJson(reply);
    });
}

/** Dials `addr` as `peer` on a new connection; true when it answered as that peer. The connection is closed again. */
async function dialBack(ctx: ReachDeps, peer: PeerId, addr: string, timeoutMs: number): Promise<boolean> {
  let conn: Connection | undefined;
  try {
    conn = await ctx.node.dial(multiaddr(`${addr}/p2p/${peer.toString()}`), { force: true, signal: AbortSignal.timeout(timeoutMs) });
    return conn.remotePeer.equals(peer) && !isRelayed(conn.remoteAddr);
  } catch {
    return false;
  } finally {
    await conn?.close().catch(() => undefined);
  }
}

/** Asks a friend to dial us back at `addrs` (at most MAX_REACH_ADDRS); the addresses it confirmed. */
export async function askReach(ctx: Pick<MeshContext, 'node'>, peer: PeerId, addrs: string[], deadlineMs = REACH_DEADLINE_MS): Promise<string[]> {
  const deadline = new Deadline(deadlineMs, `${PROTOCOLS.reach} request`);
  try {
    const limits = { frameTimeoutMs: deadlineMs, minBytesPerSec: 1, graceMs: deadlineMs };
    const stream = await openStream(ctx.node, peer, PROTOCOLS.reach, limits, deadline);
    const reply = await exchange(stream, { frameTimeoutMs: deadlineMs, deadline }, async (f) => {
      await f.writeJson({ addrs });
      return parseReachReply(await f.readReply<ReachReply>());
    });
    // only what we asked about counts
    return reply.confirmed.filter((a) => addrs.includes(a));
  } finally {
    deadline.dispose();
  }
}
