// /cairn/pack-get/1.0.0: an owner fetches one of its packs (or a byte range of it) from a friend.
// The friend serves what it holds; the owner verifies (pack ID = SHA-256 of the bytes) before use.
// Both sides give the transfer a deadline from its size (deadline.ts): a friend that drips a pack
// fails the fetch, and the reader tries the next holder.
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import {
  MalformedMessageError,
  MAX_PACK_BYTES,
  PACK_FRAME_BYTES,
  parsePackGetRequest,
  PROTOCOLS,
  WireError,
  type PackGetReady,
  type PackGetRequest,
} from '../../../protocol/mesh.js';
import type { LocalPackStore } from '../store/local-pack-store.js';
import { limitsOf, requireFriend, type MeshContext } from './context.js';
import { Deadline, openStream, transferDeadlineMs } from './deadline.js';
import { exchange, RefusedError, serve, type Frames } from './framing.js';
import { receivePack } from './pack-receive.js';

/** What serving pack-get needs. */
export type PackGetDeps = Pick<MeshContext, 'friends' | 'hostedPacks' | 'hosted' | 'limits'>;

export function packGetHandler(ctx: PackGetDeps) {
  const limits = limitsOf(ctx);
  return async (stream: Stream, connection: Connection) =>
    serve(
      stream,
      async (f) => {
        await requireFriend(ctx, connection);
        const remote = connection.remotePeer.toString();
        const req = parsePackGetRequest(await f.readJson());
        const store = await ctx.hosted.storeFor(remote);
        const info = (await ctx.hostedPacks.has(remote, req.packId)) ? await store.stat(req.packId) : undefined;
        if (!info) throw new RefusedError(WireError.notFound, `pack ${req.packId} is not held here`);
        const offset = req.offset ?? 0;
        const length = req.length ?? info.sizeBytes - offset;
        if (offset + length > info.sizeBytes)
          throw new RefusedError(WireError.notFound, `range ${offset}+${length} is beyond the pack's ${info.sizeBytes} bytes`);
        const ready: PackGetReady = { ok: true, sizeBytes: length };
        f.setDeadline(new Deadline(transferDeadlineMs(length, limits), `serving ${length} bytes of pack ${req.packId}`));
        await f.writeJson(ready);
        await f.sendWindowed(length, PACK_FRAME_BYTES, (off, target) => store.readInto(req.packId, offset + off, target));
      },
      { frameTimeoutMs: limits.frameTimeoutMs },
    );
}

/** Asks a friend for a pack (or a range) and hands the stream to `receive` once the friend has announced the byte count. */
async function requestPack<T>(ctx: MeshContext, peer: PeerId, req: PackGetRequest, receive: (f: Frames, sizeBytes: number) => Promise<T>): Promise<T> {
  const limits = limitsOf(ctx);
  const limit = req.length ?? MAX_PACK_BYTES;
  // until the friend announces the size: the grace; then what that many bytes may take
  const deadline = new Deadline(limits.graceMs, `asking for pack ${req.packId}`);
  try {
    const stream = await openStream(ctx.node, peer, PROTOCOLS.packGet, limits, deadline);
    return await exchange(stream, { frameTimeoutMs: limits.frameTimeoutMs, deadline }, async (f) => {
      await f.writeJson(req);
      const ready = await f.readReply<PackGetReady>();
      if (!Number.isSafeInteger(ready.sizeBytes) || ready.sizeBytes < 0 || ready.sizeBytes > limit) {
        throw new MalformedMessageError(
          `friend announced ${ready.sizeBytes} bytes for ${req.length === undefined ? `a pack (at most ${MAX_PACK_BYTES})` : `a ${req.length}-byte range`}`,
        );
      }
      f.setDeadline(new Deadline(transferDeadlineMs(ready.sizeBytes, limits), `fetching ${ready.sizeBytes} bytes of pack ${req.packId}`));
      return receive(f, ready.sizeBytes);
    });
  } finally {
    deadline.dispose();
  }
}

/** Fetches a range of a pack; the caller verifies it. */
export async function getPackRange(ctx: MeshContext, peer: PeerId, packId: string, range: { offset: number; length: number }): Promise<Buffer> {
  return requestPack(ctx, peer, { packId, ...range }, async (f, sizeBytes) => {
    const out = Buffer.allocUnsafe(sizeBytes);
    let got = 0;
    await f.receiveWindowed(sizeBytes, async (parts) => {
      for (const part of parts) {
        out.set(part, got);
        got += part.length;
      }
    });
    return out;
  });
}

/**
 * Fetches a whole pack into `store`, verified as it arrives: it lands there only if its bytes hash
 * to its ID (else PackHashMismatchError, and nothing is left behind).
 */
export async function fetchPack(ctx: MeshContext, peer: PeerId, packId: string, store: LocalPackStore): Promise<void> {
  await requestPack(ctx, peer, { packId }, (f, sizeBytes) => receivePack(store, packId, sizeBytes, f, { dropCache: false }));
}
