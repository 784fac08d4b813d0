// /cairn/pack-put/1.0.0: an owner pushes one pack to a friend. The friend checks friendship,
// reserves space (grant and free-disk floor) before reading any pack byte, verifies the bytes hash
// to the pack ID, and only then stores and records it. Both sides give the transfer a deadline from
// its size (deadline.ts): a sender that drips is cut off, and its temp file and reservation go.
// A push marked `recheck` (the owner's storage challenge failed this copy) makes a friend that
// holds the pack hash its copy again: a damaged one is dropped and the pack taken anew.
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import {
  MalformedMessageError,
  PACK_FRAME_BYTES,
  parsePackPutRequest,
  PROTOCOLS,
  type PackPutDone,
  type PackPutReady,
  type PackPutRequest,
} from '../../../protocol/mesh.js';
import { limitsOf, requireFriend, type MeshContext } from './context.js';
import { Deadline, openStream, transferDeadlineMs } from './deadline.js';
import { exchange, serve } from './framing.js';
import { packIntact } from './pack-digest.js';
import { ProtocolService, type Startable } from './service.js';

/** The pack-put service: friends push their packs here, from start to stop. */
export function packPutService(ctx: MeshContext): Startable {
  return new ProtocolService(ctx.node, PROTOCOLS.packPut, packPutHandler(ctx));
}

/** What serving pack-put needs. */
export type PackPutDeps = Pick<MeshContext, 'friends' | 'hostedPacks' | 'deletes' | 'hosted' | 'limits'>;

export function packPutHandler(ctx: PackPutDeps) {
  const limits = limitsOf(ctx);
  return async (stream: Stream, connection: Connection) =>
    serve(
      stream,
      async (f) => {
        const friend = await requireFriend(ctx, connection);
        const remote = friend.peerId;
        const req = parsePackPutRequest(await f.readJson());
        // a copy the owner's challenge found wrong is hashed again, and a damaged one dropped and taken anew
        if (req.recheck && (await ctx.hostedPacks.has(remote, req.packId)) && !(await packIntact(await ctx.hosted.storeFor(remote), req.packId)))
          await ctx.hosted.remove(remote, req.packId);
        if (await ctx.hostedPacks.has(remote, req.packId)) {
          await ctx.deletes.cancelDeletion(remote, req.packId); // wanted again: a pending deletion is off
          const have: PackPutReady = { ok: true, have: true };
          await f.writeJson(have);
          return;
        }
        const release = await ctx.hosted.reserve(remote, friend.grantToPeer, req.sizeBytes);
        f.setDeadline(new Deadline(transferDeadlineMs(req.sizeBytes, limits), `receiving pack ${req.packId} (${req.sizeBytes} bytes)`));
        try {
          // what a cut push of this pack left here: the owner sends only the rest
          const offset = req.resume ? await ctx.hosted.resumeOffset(remote, req.packId, req.sizeBytes) : 0;
          const ready: PackPutReady = { ok: true, have: false, ...(offset > 0 ? { offset } : {}) };
          await f.writeJson(ready);
          await ctx.hosted.receive(remote, req.packId, req.sizeBytes, f, req.resume ? { offset } : undefined);
        } finally {
          release();
        }
        const done: PackPutDone = { ok: true, storedBytes: req.sizeBytes };
        await f.writeJson(done);
      },
      { frameTimeoutMs: limits.frameTimeoutMs, receivesPacks: true },
    );
}

/**
 * Pushes a pack of `size` bytes, read a frame at a time by `read` into a reused buffer (each
 * frame is encrypted while it is still in the CPU's cache, and no whole pack sits in memory);
 * resolves 'stored' or 'had', or throws RefusedError (quota, disk floor, ...), DeadlineError or
 * StalledError (a friend too slow to take it), or the reason of `signal`.
 */
export async function putPack(
  ctx: MeshContext,
  peer: PeerId,
  packId: string,
  size: number,
  read: (offset: number, target: Uint8Array) => Promise<void>,
  signal?: AbortSignal,
  opts: { recheck?: boolean } = {},
): Promise<'stored' | 'had'> {
  const limits = limitsOf(ctx);
  const deadline = new Deadline(transferDeadlineMs(size, limits), `pushing pack ${packId} (${size} bytes)`, signal);
  try {
    const stream = await openStream(ctx.node, peer, PROTOCOLS.packPut, limits, deadline);
    return await exchange(stream, { frameTimeoutMs: limits.frameTimeoutMs, deadline }, async (f) => {
      const req: PackPutRequest = { packId, sizeBytes: size, resume: true, ...(opts.recheck ? { recheck: true } : {}) };
      await f.writeJson(req);
      const ready = await f.readReply<PackPutReady>();
      if (ready.have) return 'had';
      // the friend holds the start of the pack from a cut push: the rest only
      const offset = ready.offset ?? 0;
      if (!Number.isSafeInteger(offset) || offset < 0 || offset >= size)
        throw new MalformedMessageError(`pack-put: the friend offered to resume pack ${packId} at ${offset}, outside its ${size} bytes`);
      await f.sendWindowed(size - offset, PACK_FRAME_BYTES, async (off, target) => {
        await ctx.throttle?.take(target.length);
        await read(offset + off, target);
      });
      await f.readReply<PackPutDone>();
      return 'stored';
    });
  } finally {
    deadline.dispose();
  }
}
