// /cairn/pack-list/1.0.0: which of our packs a friend holds (paged), so an owner can resume
// replication and a recovering host can find its packs.
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { MAX_LIST_PAGE, parsePackListRequest, PROTOCOLS, type PackListPage } from '../../../protocol/mesh.js';
import { requireFriend, type MeshContext } from './context.js';
import { Frames, serve } from './framing.js';

export function packListHandler(ctx: MeshContext) {
  return async (stream: Stream, connection: Connection) =>
    serve(stream, async (f) => {
      await requireFriend(ctx, connection);
      const remote = connection.remotePeer.toString();
      const req = parsePackListRequest(await f.readJson());
      const packs: PackListPage['packs'] = [];
      let more = false;
      for await (const [key, size] of await ctx.book.hostedPacks(remote, req.after)) {
        if (packs.length === MAX_LIST_PAGE) {
          more = true;
          break;
        }
        packs.push({ id: key.slice(remote.length + 1), sizeBytes: Number(size) });
      }
      const page: PackListPage = { ok: true, packs, more };
      await f.writeJson(page);
    });
}

export async function listPacks(ctx: MeshContext, peer: PeerId): Promise<Array<{ id: string; sizeBytes: number }>> {
  const out: Array<{ id: string; sizeBytes: number }> = [];
  let after: string | undefined;
  for (;;) {
    const stream = await ctx.node.dialProtocol(peer, PROTOCOLS.packList, { signal: AbortSignal.timeout(15_000) });
    const f = new Frames(stream);
    try {
      await f.writeJson(after ? { after } : {});
      const page = await f.readReply<PackListPage>();
      out.push(...page.packs.filter((p) => /^[0-9a-f]{64}$/.test(p.id) && Number.isSafeInteger(p.sizeBytes)));
      if (!page.more || page.packs.length === 0) return out;
      after = page.packs.at(-1)?.id;
    } finally {
      await stream.close().catch(() => undefined);
    }
  }
}
