// /cairn/pack-delete/1.0.0: an owner asks a friend to delete packs it pruned. The request is
// signed with the owner's peer key and sequence-numbered; the friend checks both, records the packs
// it holds for that owner as pending, keeps serving them for its deletion grace (so a stolen or
// mistaken key cannot wipe the backups at once), then deletes them and releases the space.
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import {
  canonicalDeleteRequest,
  parseSignedDeleteRequest,
  PROTOCOLS,
  WireError,
  type DeleteAccepted,
  type DeleteRequest,
  type SignedDeleteRequest,
} from '../../../protocol/mesh.js';
import { untrustedText } from '../util/untrusted-text.js';
import { requireFriend, type MeshContext } from './context.js';
import { RefusedError, serve } from './framing.js';
import { requestJson } from './request.js';
import { ProtocolService, type Startable } from './service.js';

/** The pack-delete service: friends ask us to delete their packs, from start to stop. */
export function packDeleteService(ctx: MeshContext): Startable {
  return new ProtocolService(ctx.node, PROTOCOLS.packDelete, packDeleteHandler(ctx));
}

/** What serving pack-delete needs. */
export type PackDeleteDeps = Pick<MeshContext, 'friends' | 'hostedPacks' | 'deletes' | 'clock' | 'deletionGraceMs'>;

export function packDeleteHandler(ctx: PackDeleteDeps) {
  return async (stream: Stream, connection: Connection) =>
    serve(stream, async (f) => {
      const friend = await requireFriend(ctx, connection);
      const { request: req, signature } = parseSignedDeleteRequest(await f.readJson());
      const remote = connection.remotePeer;
      if (req.owner !== friend.peerId) throw new RefusedError(WireError.badSignature, `the request names owner ${req.owner}, not you`);
      let valid = false;
      try {
        valid = remote.publicKey !== undefined && (await remote.publicKey.verify(canonicalDeleteRequest(req), Buffer.from(signature, 'base64')));
      } catch {
        valid = false;
      }
      if (!valid) throw new RefusedError(WireError.badSignature, 'delete request signature does not verify with your peer key');
      if (req.seq <= (friend.lastDeleteSeq ?? 0))
        throw new RefusedError(WireError.staleRequest, `delete request seq ${req.seq} is not newer than ${friend.lastDeleteSeq ?? 0}`);
      const held: string[] = [];
      const notHeld: string[] = [];
      for (const p of new Set(req.packs)) ((await ctx.hostedPacks.has(friend.peerId, p)) ? held : notHeld).push(p);
      const dueMs = ctx.clock.now() + ctx.deletionGraceMs;
      await ctx.deletes.addPendingDeletions(friend.peerId, held, dueMs, req.seq);
      await ctx.friends.update(friend.peerId, (x) => (x.lastDeleteSeq = req.seq));
      const reply: DeleteAccepted = { ok: true, accepted: held.length, notHeld, dueAt: new Date(dueMs).toISOString() };
      await f.writeJson(reply);
    });
}

/** Signs and sends one delete request; resolves with the friend's answer or throws RefusedError. */
export async function requestDeletes(ctx: MeshContext, peer: PeerId, packs: string[], seq: number): Promise<DeleteAccepted> {
  const request: DeleteRequest = { version: 1, owner: ctx.node.peerId.toString(), seq, time: new Date(ctx.clock.now()).toISOString(), packs };
  const signed: SignedDeleteRequest = { request, signature: Buffer.from(await ctx.privateKey.sign(canonicalDeleteRequest(request))).toString('base64') };
  const reply = await requestJson<DeleteAccepted>(ctx, peer, PROTOCOLS.packDelete, signed);
  // the friend's words: shown in prune's report
  return { ...reply, dueAt: untrustedText(reply.dueAt, 40) };
}

/** Deletes the friends' packs whose grace has passed; returns how many went. */
export async function applyDueDeletions(ctx: MeshContext): Promise<number> {
  const now = ctx.clock.now();
  let n = 0;
  for (const d of await ctx.deletes.pendingDeletions()) {
    if (d.dueMs > now) continue;
    if (await ctx.hostedPacks.has(d.owner, d.packId)) await ctx.hosted.remove(d.owner, d.packId);
    await ctx.deletes.deletionDone(d.owner, d.packId);
    n += 1;
  }
  return n;
}
