// /cairn/head/1.0.0: an owner stores its signed head at a friend ("put") or asks for the newest the
// friend keeps ("get"). The friend verifies the signature with the owner's PeerId (Ed25519 public
// key) and refuses a head whose sequence number is lower than one it already has. Puts are
// rate-limited per friend (HEAD_PUT_BURST, then one per HEAD_PUT_INTERVAL_MS): each rewrites up to
// 256 KiB in our LevelDB.
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import {
  HEAD_PUT_BURST,
  HEAD_PUT_INTERVAL_MS,
  parseHeadRequest,
  parseSignedHead,
  PROTOCOLS,
  WireError,
  type HeadResponse,
  type SignedHead,
} from '../../../protocol/mesh.js';
import { EventAllowance } from '../util/rate-limit.js';
import { requireFriend, type MeshContext } from './context.js';
import { RefusedError, serve } from './framing.js';
import { verifyHead } from './head-chain.js';
import { requestJson } from './request.js';
import { ProtocolService, type Startable } from './service.js';

/** Friends whose head-put allowance is remembered before the full ones are forgotten. */
const MAX_TRACKED_ALLOWANCES = 256;

/** The head service: friends store and fetch their signed heads here, from start to stop. */
export function headService(ctx: MeshContext): Startable {
  return new ProtocolService(ctx.node, PROTOCOLS.head, headHandler(ctx));
}

/** What serving head needs. */
export type HeadDeps = Pick<MeshContext, 'friends' | 'hostedPacks' | 'clock'>;

export function headHandler(ctx: HeadDeps, limits = { burst: HEAD_PUT_BURST, intervalMs: HEAD_PUT_INTERVAL_MS }) {
  const allowances = new Map<string, EventAllowance>();
  const allowPut = (peerId: string): boolean => {
    let a = allowances.get(peerId);
    if (!a) {
      // a friend back at a full burst has nothing to remember (only friends get here)
      if (allowances.size >= MAX_TRACKED_ALLOWANCES) for (const [k, v] of allowances) if (v.full()) allowances.delete(k);
      allowances.set(peerId, (a = new EventAllowance(limits.burst, limits.intervalMs, ctx.clock)));
    }
    return a.tryTake();
  };
  return async (stream: Stream, connection: Connection) =>
    serve(stream, async (f) => {
      await requireFriend(ctx, connection);
      const remote = connection.remotePeer;
      const req = parseHeadRequest(await f.readJson());
      const storedJson = await ctx.hostedPacks.head(remote.toString());
      const stored = storedJson ? (JSON.parse(storedJson) as SignedHead) : null;
      if (req.op === 'get') {
        const reply: HeadResponse = { ok: true, head: stored };
        await f.writeJson(reply);
        return;
      }
      // the head we already keep, sent again (every round sends it): nothing to verify or write
      if (storedJson !== undefined && JSON.stringify(req.head) === storedJson) {
        const same: HeadResponse = { ok: true, head: stored };
        await f.writeJson(same);
        return;
      }
      // only a put that would rewrite what we keep spends the friend's allowance
      if (!allowPut(remote.toString())) {
        throw new RefusedError(WireError.rateLimited, `too many head puts: at most ${limits.burst} at once, then one every ${limits.intervalMs / 1000} s`);
      }
      if (!remote.publicKey || !(await verifyHead(remote.publicKey, req.head)))
        throw new RefusedError(WireError.badSignature, 'head signature does not verify with your peer key');
      if (stored && req.head.head.seq < stored.head.seq) {
        throw new RefusedError(WireError.staleHead, `head seq ${req.head.head.seq} is older than seq ${stored.head.seq} already kept here`);
      }
      if (stored && req.head.head.seq === stored.head.seq && JSON.stringify(req.head) !== storedJson) {
        throw new RefusedError(WireError.staleHead, `a different head with seq ${stored.head.seq} is already kept here`);
      }
      await ctx.hostedPacks.putHead(remote.toString(), JSON.stringify(req.head));
      const reply: HeadResponse = { ok: true, head: req.head };
      await f.writeJson(reply);
    });
}

async function headRequest(ctx: MeshContext, peer: PeerId, body: unknown): Promise<SignedHead | null> {
  const reply = await requestJson<HeadResponse>(ctx, peer, PROTOCOLS.head, body);
  return reply.head === null ? null : parseSignedHead(reply.head);
}

export async function putHead(ctx: MeshContext, peer: PeerId, head: SignedHead): Promise<void> {
  await headRequest(ctx, peer, { op: 'put', head });
}

export async function getHead(ctx: MeshContext, peer: PeerId): Promise<SignedHead | null> {
  return headRequest(ctx, peer, { op: 'get' });
}
