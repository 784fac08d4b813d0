// /cairn/pair/1.0.0: the joiner proves it holds the invite's secret, bound to both PeerIds
// (Noise has authenticated them), without sending the secret: proof = HMAC-SHA256(secret,
// "cairn/v1/pair" || inviterPeerId || joinerPeerId). An invite works once; five bad proofs burn it;
// a peer with five failures in ten minutes is refused for a while. A joiner that is already a
// friend (a recovered host with the same identity) is recognised and keeps its grants.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Connection, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { inviteId, type Invite } from '../../../protocol/invite.js';
import { MAX_NAME_CHARS, parsePairRequest, PROTOCOLS, WireError, type PairAccept, type PairRequest } from '../../../protocol/mesh.js';
import { CairnError, errorMessage } from '../util/errors.js';
import { untrustedText } from '../util/untrusted-text.js';
import type { MeshContext } from './context.js';
import { Frames, RefusedError, serve } from './framing.js';
import { friendAddrs, shareableAddrs } from './addresses.js';
import { isRelayed } from './relayed-addrs.js';

const MAX_PROOF_FAILURES = 5;
const RATE_WINDOW_MS = 10 * 60_000;
const MAX_FAILURES_PER_PEER = 5;
/** Peers whose failed pairings are remembered; past it the peer that failed longest ago is forgotten. */
export const MAX_PAIRING_PEERS_TRACKED = 1024;

/**
 * Failed pairing attempts per peer in the last RATE_WINDOW_MS, for at most `maxPeers` peers (a
 * stranger can make PeerIds for free: an unbounded map grew with every one). Insertion order is
 * the order of each peer's latest failure, so the first entry is the one to evict.
 */
export class PairingFailures {
  private readonly byPeer = new Map<string, number[]>();
  private readonly maxPeers: number;
  private readonly now: () => number;

  constructor(now: () => number, maxPeers = MAX_PAIRING_PEERS_TRACKED) {
    this.now = now;
    this.maxPeers = maxPeers;
  }

  recent(peer: string): number {
    return this.live(peer).length;
  }

  add(peer: string): void {
    const times = [...this.live(peer), this.now()].slice(-MAX_FAILURES_PER_PEER);
    this.byPeer.delete(peer);
    this.byPeer.set(peer, times);
    while (this.byPeer.size > this.maxPeers) {
      const oldest = this.byPeer.keys().next().value as string;
      this.byPeer.delete(oldest);
    }
  }

  get size(): number {
    return this.byPeer.size;
  }

  private live(peer: string): number[] {
    const times = (this.byPeer.get(peer) ?? []).filter((t) => this.now() - t < RATE_WINDOW_MS);
    if (times.length === 0) this.byPeer.delete(peer);
    return times;
  }
}

export function pairProof(secretHex: string, inviterPeerId: string, joinerPeerId: string): string {
  return createHmac('sha256', Buffer.from(secretHex, 'hex')).update(`cairn/v1/pair${inviterPeerId}${joinerPeerId}`).digest('hex');
}

/** What serving pair needs. */
export type PairDeps = Pick<MeshContext, 'node' | 'friends' | 'clock' | 'name' | 'onFriend'>;

export function pairHandler(ctx: PairDeps, failures = new PairingFailures(() => ctx.clock.now())) {
  const fail = (peer: string, code: (typeof WireError)[keyof typeof WireError], message: string): never => {
    failures.add(peer);
    throw new RefusedError(code, message);
  };
  return async (stream: Stream, connection: Connection) =>
    serve(stream, async (f) => {
      const remote = connection.remotePeer.toString();
      if (failures.recent(remote) >= MAX_FAILURES_PER_PEER) throw new RefusedError(WireError.rateLimited, 'too many failed pairing attempts: wait ten minutes');
      const req = parsePairRequest(await f.readJson());
      // checked and marked used (durably) under one lock: of several pairings at once with one
      // code, one is accepted and every other sees it used
      const { claim, invite: inv } = await ctx.friends.claimInvite(
        req.inviteId,
        ctx.clock.now() / 1000,
        (i) => timingSafeEqual(Buffer.from(pairProof(i.secret, ctx.node.peerId.toString(), remote), 'hex'), Buffer.from(req.proof, 'hex')),
        MAX_PROOF_FAILURES,
      );
      if (claim === 'unknown' || !inv) return fail(remote, WireError.inviteUnknown, 'unknown invite (never issued here, or from another agent)');
      if (claim === 'used') return fail(remote, WireError.inviteUsed, 'this invite was already used; ask for a new one');
      if (claim === 'expired') return fail(remote, WireError.inviteExpired, 'this invite has expired; ask for a new one');
      if (claim === 'bad-proof') return fail(remote, WireError.inviteBadProof, 'the invite proof does not match (wrong or altered code)');
      const existing = await ctx.friends.get(remote);
      const reported = friendAddrs(req.addrs, connection.remoteAddr.toString());
      const addrs = reported.length > 0 ? reported : [connection.remoteAddr.toString()];
      if (existing) {
        await ctx.friends.put({ ...existing, addrs, lastSeen: new Date(ctx.clock.now()).toISOString() });
      } else {
        await ctx.friends.put({
          peerId: remote,
          // cleaned (controls, escapes, bidi overrides) by the friends ledger, as every friend's text
          name: untrustedText(req.name, MAX_NAME_CHARS) || remote.slice(-8),
          addrs,
          grantToPeer: inv.quotaBytes,
          grantFromPeer: req.grantBytes,
          createdAt: new Date(ctx.clock.now()).toISOString(),
          lastSeen: new Date(ctx.clock.now()).toISOString(),
          shortfall: null,
          problems: [],
        });
      }
      await ctx.onFriend(remote);
      const reply: PairAccept = { ok: true, name: ctx.name, grantBytes: existing ? existing.grantToPeer : inv.quotaBytes, known: existing !== undefined };
      await f.writeJson(reply);
    });
}

/** Registers an invite's addresses for its peer and dials it. */
export async function dialInviter(ctx: MeshContext, invite: Invite, protocol: string): Promise<Stream> {
  const peer = peerIdFromString(invite.peerId);
  await ctx.node.peerStore.merge(peer, { multiaddrs: invite.addrs.map((a) => multiaddr(a)) });
  try {
    return await ctx.node.dialProtocol(peer, protocol, { signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    // an inviter behind NAT that holds no relay reservation gives only addresses nobody outside reaches
    const noRelay = invite.addrs.some(isRelayed)
      ? ''
      : '; the invite names no relayed address: if the inviter is behind NAT or CGNAT and no friend of it is reachable, neither can pair until both pair with a `cairn relay` on a public server (README: When friends need a relay)';
    throw new CairnError(
      'E_UNREACHABLE',
      `cannot reach the inviter at ${invite.addrs.join(', ') || '(no address)'}: ${errorMessage(err)}${noRelay} (the invite may be used or expired, or the agent stopped)`,
    );
  }
}

/** Joiner side: returns the inviter's acceptance. */
export async function pairWith(ctx: MeshContext, invite: Invite, grantBytes: number): Promise<PairAccept> {
  if (invite.expiresAt * 1000 <= ctx.clock.now()) throw new CairnError(WireError.inviteExpired, 'this invite has expired; ask for a new one');
  const stream = await dialInviter(ctx, invite, PROTOCOLS.pair);
  const f = new Frames(stream);
  const addrs = shareableAddrs(ctx.node.getMultiaddrs());
  const req: PairRequest = {
    inviteId: inviteId(invite.secret),
    proof: pairProof(invite.secret, invite.peerId, ctx.node.peerId.toString()),
    name: ctx.name,
    grantBytes,
    addrs,
  };
  await f.writeJson(req);
  const reply = await f.readReply<PairAccept>();
  await stream.close().catch(() => undefined);
  if (typeof reply.name !== 'string' || !Number.isSafeInteger(reply.grantBytes))
    throw new CairnError(WireError.malformed, 'the inviter sent a malformed acceptance');
  return { ...reply, name: untrustedText(reply.name, MAX_NAME_CHARS) };
}
