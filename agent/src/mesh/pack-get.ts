// /cairn/pack-get/1.0.0: an owner fetches one of its packs (or a byte range of it) from a friend.
// The friend serves what it holds; the owner verifies (pack ID = SHA-256 of the bytes) before use.
// Both sides give the transfer a deadline from its size (deadline.ts): a friend that drips a pack
// fails the fetch, and the reader tries the next holder. A whole-pack fetch that is cut keeps what
// arrived (fetch-partials.ts), and the next fetch from that friend asks only for the rest: a range
// request, so a friend of any version serves it; the whole pack is still hashed before it is used.
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
import type { FetchPartials } from './fetch-partials.js';
import { exchange, RefusedError, serve, type Frames } from './framing.js';
import { PackHashMismatchError, receivePack } from './pack-receive.js';

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
        // a range starts inside the pack (0 <= offset < size) and ends in it
        if (offset >= info.sizeBytes || offset + length > info.sizeBytes)
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
    return await exchange(stream, { frameTimeoutMs: limits.frameTimeoutMs, deadline, receivesPacks: true }, async (f) => {
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
 * to its ID (else PackHashMismatchError, and nothing is left behind). With `partials`, a fetch that
 * is cut keeps what arrived, and a fetch that finds bytes kept from this friend asks it only for
 * the rest; the kept bytes and the rest are hashed whole all the same, and a pack that does not
 * hash to its ID (or a friend that refuses the rest) leaves no partial behind.
 */
export async function fetchPack(ctx: MeshContext, peer: PeerId, packId: string, store: LocalPackStore, partials?: FetchPartials): Promise<void> {
  if (!partials) {
    await requestPack(ctx, peer, { packId }, (f, sizeBytes) => receivePack(store, packId, sizeBytes, f, { dropCache: false }));
    return;
  }
  const friend = peer.toString();
  const kept = await partials.find(friend, packId);
  const req: PackGetRequest = kept ? { packId, offset: kept.offset, length: kept.sizeBytes - kept.offset } : { packId };
  try {
    await requestPack(ctx, peer, req, async (f, announced) => {
      if (kept && announced !== kept.sizeBytes - kept.offset)
        throw new MalformedMessageError(`friend announced ${announced} bytes for the last ${kept.sizeBytes - kept.offset} of pack ${packId}`);
      const size = kept?.sizeBytes ?? announced;
      const resume = {
        offset: kept?.offset ?? 0,
        replay: (write: (parts: Uint8Array[], length: number) => Promise<void>) => (kept ? partials.replay(friend, packId, kept, write) : Promise.resolve()),
        keep: (tmp: string) => partials.keep(friend, packId, size, tmp),
      };
      await receivePack(store, packId, size, f, { dropCache: false, resume });
    });
  } catch (err) {
    // damaged bytes, a refusal or a bad answer: whatever was kept of this pack is not resumed
    if (err instanceof PackHashMismatchError || err instanceof RefusedError || err instanceof MalformedMessageError) await partials.drop(packId);
    throw err;
  }
  await partials.drop(packId);
}
