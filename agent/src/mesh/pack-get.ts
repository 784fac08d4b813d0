// /cairn/pack-get/1.0.0: an owner fetches one of its packs (or a byte range of it) from a friend.
// The friend serves what it holds; the owner verifies (pack ID = SHA-256 of the bytes) before use.
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { PACK_FRAME_BYTES, parsePackGetRequest, PROTOCOLS, WireError, type PackGetReady, type PackGetRequest } from '../../../protocol/mesh.js';
import { CairnError } from '../util/errors.js';
import { requireFriend, type MeshContext } from './context.js';
import { Frames, RefusedError, serve } from './framing.js';

export function packGetHandler(ctx: MeshContext) {
  return async (stream: Stream, connection: Connection) =>
    serve(stream, async (f) => {
      await requireFriend(ctx, connection);
      const remote = connection.remotePeer.toString();
      const req = parsePackGetRequest(await f.readJson());
      const store = await ctx.hosted.storeFor(remote);
      const info = (await ctx.book.hasHosted(remote, req.packId)) ? await store.stat(req.packId) : undefined;
      if (!info) throw new RefusedError(WireError.notFound, `pack ${req.packId} is not held here`);
      const offset = req.offset ?? 0;
      const length = req.length ?? info.sizeBytes - offset;
      if (offset + length > info.sizeBytes) throw new RefusedError(WireError.notFound, `range ${offset}+${length} is beyond the pack's ${info.sizeBytes} bytes`);
      const ready: PackGetReady = { ok: true, sizeBytes: length };
      await f.writeJson(ready);
      await f.sendWindowed(length, PACK_FRAME_BYTES, (off, target) => store.readInto(req.packId, offset + off, target));
    });
}

/** Fetches a pack (or a range); the caller verifies it. */
export async function getPack(ctx: MeshContext, peer: PeerId, packId: string, range?: { offset: number; length: number }): Promise<Buffer> {
  const stream = await ctx.node.dialProtocol(peer, PROTOCOLS.packGet, { signal: AbortSignal.timeout(15_000) });
  const f = new Frames(stream);
  try {
    const req: PackGetRequest = { packId, ...(range ?? {}) };
    await f.writeJson(req);
    const ready = await f.readReply<PackGetReady>();
    if (ready.sizeBytes > (range?.length ?? Number.MAX_SAFE_INTEGER)) throw new CairnError(WireError.malformed, `friend announced ${ready.sizeBytes} bytes for a ${range?.length}-byte range`);
    const out = Buffer.allocUnsafe(ready.sizeBytes);
    let got = 0;
    await f.receiveWindowed(ready.sizeBytes, async (parts) => {
      for (const part of parts) {
        out.set(part, got);
        got += part.length;
      }
    });
    return out;
  } finally {
    await stream.close().catch(() => undefined);
  }
}
