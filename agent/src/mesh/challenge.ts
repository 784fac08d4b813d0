// /cairn/challenge/1.0.0: an owner asks a friend to prove it still holds one of its packs. The
// owner sends the pack ID, a fresh random nonce and up to MAX_CHALLENGE_RANGES byte ranges (at most
// MAX_CHALLENGE_BYTES in all); the friend answers SHA-256(nonce || the ranges' bytes), read from
// its disk a bounded buffer at a time, or says plainly that it does not hold the pack. A fresh
// nonce makes every answer new: an answer kept from an earlier challenge, or made up for a pack
// never held, does not match. Both sides keep a deadline from the bytes the ranges cover.
import { UnsupportedProtocolError, type Connection, type PeerId, type Stream } from '@libp2p/interface';
import {
  MalformedMessageError,
  MAX_MESSAGE_BYTES,
  parseChallengeRequest,
  PROTOCOLS,
  WireError,
  type ChallengeAnswer,
  type ChallengeRequest,
} from '../../../protocol/mesh.js';
import { limitsOf, requireFriend, type MeshContext } from './context.js';
import { Deadline, openStream, transferDeadlineMs } from './deadline.js';
import { exchange, RefusedError, serve } from './framing.js';
import { challengeDigest } from './pack-digest.js';
import { ProtocolService, type Startable } from './service.js';

/** The challenge service: friends challenge the packs we hold for them, from start to stop. */
export function challengeService(ctx: MeshContext): Startable {
  return new ProtocolService(ctx.node, PROTOCOLS.challenge, challengeHandler(ctx));
}

/** What serving challenges needs. */
export type ChallengeDeps = Pick<MeshContext, 'friends' | 'hostedPacks' | 'hosted' | 'limits'>;

/** How long a challenge covering `bytes` may take, on either side: as a transfer of its two messages and those bytes (SPEC 13.2). */
export function challengeDeadlineMs(bytes: number, ctx: Pick<MeshContext, 'limits'>): number {
  return transferDeadlineMs(2 * MAX_MESSAGE_BYTES + bytes, limitsOf(ctx));
}

const totalBytes = (req: ChallengeRequest) => req.ranges.reduce((n, r) => n + r.length, 0);

export function challengeHandler(ctx: ChallengeDeps) {
  const limits = limitsOf(ctx);
  return async (stream: Stream, connection: Connection) =>
    serve(
      stream,
      async (f) => {
        await requireFriend(ctx, connection);
        const remote = connection.remotePeer.toString();
        const req = parseChallengeRequest(await f.readJson());
        f.setDeadline(new Deadline(challengeDeadlineMs(totalBytes(req), ctx), `answering a challenge for pack ${req.packId}`));
        const store = await ctx.hosted.storeFor(remote);
        const info = (await ctx.hostedPacks.has(remote, req.packId)) ? await store.stat(req.packId) : undefined;
        if (!info) {
          const notHeld: ChallengeAnswer = { ok: true, held: false };
          await f.writeJson(notHeld);
          return;
        }
        for (const r of req.ranges)
          if (r.offset + r.length > info.sizeBytes)
            throw new RefusedError(WireError.notFound, `range ${r.offset}+${r.length} is beyond the ${info.sizeBytes} bytes held of pack ${req.packId}`);
        const digest = await challengeDigest(store, req.packId, Buffer.from(req.nonce, 'hex'), req.ranges);
        const answer: ChallengeAnswer = { ok: true, held: true, digest };
        await f.writeJson(answer);
      },
      { frameTimeoutMs: limits.frameTimeoutMs },
    );
}

/** The friend could not be reached to be challenged (no stream opened): its copies are not judged. */
export class ChallengeUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChallengeUnreachableError';
  }
}

/** The friend was reached but does not serve the challenge protocol: a failure, not an absence. */
export class ChallengeRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChallengeRefusedError';
  }
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Sends a challenge and returns the friend's answer, checked for shape. Throws
 * ChallengeUnreachableError when no stream opens (ChallengeRefusedError when the friend was reached
 * but does not serve the protocol); anything else it throws (a refusal, a deadline,
 * a malformed answer) is the friend's failure to answer.
 */
export async function askChallenge(ctx: MeshContext, peer: PeerId, req: ChallengeRequest, signal?: AbortSignal): Promise<ChallengeAnswer> {
  const limits = limitsOf(ctx);
  const deadline = new Deadline(challengeDeadlineMs(totalBytes(req), ctx), `a challenge for pack ${req.packId}`, signal);
  try {
    let stream: Stream;
    try {
      stream = await openStream(ctx.node, peer, PROTOCOLS.challenge, limits, deadline);
    } catch (err) {
      // reached, but it does not take challenges: that is no proof, so it fails (deny by default)
      if (err instanceof UnsupportedProtocolError || (err as Error | undefined)?.name === 'UnsupportedProtocolError')
        throw new ChallengeRefusedError(`it does not answer storage challenges (${PROTOCOLS.challenge})`);
      throw new ChallengeUnreachableError(err instanceof Error ? err.message : String(err));
    }
    return await exchange(stream, { frameTimeoutMs: limits.frameTimeoutMs, deadline }, async (f) => {
      await f.writeJson(req);
      const a = await f.readReply<ChallengeAnswer>();
      if (a.held === false) return { ok: true, held: false };
      if (a.held !== true || typeof a.digest !== 'string' || !HEX64.test(a.digest))
        throw new MalformedMessageError('challenge answer: neither held with a SHA-256 digest nor not held');
      return { ok: true, held: true, digest: a.digest };
    });
  } finally {
    deadline.dispose();
  }
}
