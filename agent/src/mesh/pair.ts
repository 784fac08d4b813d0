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
import type { MeshContext } from './context.js';
import { Frames, RefusedError, serve } from './framing.js';

const MAX_PROOF_FAILURES = 5;
const RATE_WINDOW_MS = 10 * 60_000;
const MAX_FAILURES_PER_PEER = 5;

export function pairProof(secretHex: string, inviterPeerId: string, joinerPeerId: string): string {
  return createHmac('sha256', Buffer.from(secretHex, 'hex')).update(`cairn/v1/pair${inviterPeerId}${joinerPeerId}`).digest('hex');
}

export function pairHandler(ctx: MeshContext) {
  const failures = new Map<string, number[]>();
  const recentFailures = (peer: string) => (failures.get(peer) ?? []).filter((t) => ctx.clock.now() - t < RATE_WINDOW_MS);
  const fail = (peer: string, code: (typeof WireError)[keyof typeof WireError], message: string): never => {
    failures.set(peer, [...recentFailures(peer), ctx.clock.now()]);
    throw new RefusedError(code, message);
  };
  return async (stream: Stream, connection: Connection) =>
    serve(stream, async (f) => {
      const remote = connection.remotePeer.toString();
      if (recentFailures(remote).length >= MAX_FAILURES_PER_PEER) throw new RefusedError(WireError.rateLimited, 'too many failed pairing attempts: wait ten minutes');
      const req = parsePairRequest(await f.readJson());
      const inv = await ctx.book.getInvite(req.inviteId);
      if (!inv) return fail(remote, WireError.inviteUnknown, 'unknown invite (never issued here, or from another agent)');
      if (inv.used) return fail(remote, WireError.inviteUsed, 'this invite was already used; ask for a new one');
      if (inv.expiresAt * 1000 <= ctx.clock.now()) return fail(remote, WireError.inviteExpired, 'this invite has expired; ask for a new one');
      const expected = Buffer.from(pairProof(inv.secret, ctx.node.peerId.toString(), remote), 'hex');
      if (!timingSafeEqual(expected, Buffer.from(req.proof, 'hex'))) {
        inv.failures += 1;
        if (inv.failures >= MAX_PROOF_FAILURES) inv.used = true;
        await ctx.book.putInvite(inv);
        return fail(remote, WireError.inviteBadProof, 'the invite proof does not match (wrong or altered code)');
      }
      inv.used = true;
      await ctx.book.putInvite(inv);
      const existing = await ctx.book.get(remote);
      const addrs = req.addrs.length > 0 ? req.addrs : [connection.remoteAddr.toString()];
      if (existing) {
        await ctx.book.put({ ...existing, addrs, lastSeen: new Date(ctx.clock.now()).toISOString() });
      } else {
        await ctx.book.put({
          peerId: remote,
          name: req.name.slice(0, MAX_NAME_CHARS) || remote.slice(-8),
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
    throw new CairnError('E_UNREACHABLE', `cannot reach the inviter at ${invite.addrs.join(', ') || '(no address)'}: ${errorMessage(err)} (the invite may be used or expired, or the agent stopped)`);
  }
}

/** Joiner side: returns the inviter's acceptance. */
export async function pairWith(ctx: MeshContext, invite: Invite, grantBytes: number): Promise<PairAccept> {
  if (invite.expiresAt * 1000 <= ctx.clock.now()) throw new CairnError(WireError.inviteExpired, 'this invite has expired; ask for a new one');
  const stream = await dialInviter(ctx, invite, PROTOCOLS.pair);
  const f = new Frames(stream);
  const addrs = ctx.node.getMultiaddrs().map((a) => a.toString().replace(/\/p2p\/[^/]+$/, ''));
  const req: PairRequest = { inviteId: inviteId(invite.secret), proof: pairProof(invite.secret, invite.peerId, ctx.node.peerId.toString()), name: ctx.name, grantBytes, addrs };
  await f.writeJson(req);
  const reply = await f.readReply<PairAccept>();
  await stream.close().catch(() => undefined);
  if (typeof reply.name !== 'string' || !Number.isSafeInteger(reply.grantBytes)) throw new CairnError(WireError.malformed, 'the inviter sent a malformed acceptance');
  return reply;
}
