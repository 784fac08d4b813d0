// /cairn/pack-list/1.0.0: which of our packs a friend holds (paged), so an owner can resume
// replication and a recovering host can find its packs. The owner believes a listing only within
// bounds: IDs strictly increasing past the cursor, at most `maxEntries` entries (and the pages
// they need), all within a deadline; anything else is the friend's fault and the listing is dropped.
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { MAX_LIST_PAGE, MAX_PACK_BYTES, parsePackListRequest, PROTOCOLS, type PackListPage } from '../../../protocol/mesh.js';
import { CairnError } from '../util/errors.js';
import { limitsOf, requireFriend, type MeshContext } from './context.js';
import { Deadline, listingDeadlineMs, openStream } from './deadline.js';
import { exchange, serve } from './framing.js';
import { ProtocolService, type Startable } from './service.js';

/** The pack-list service: friends list what we hold for them, from start to stop. */
export function packListService(ctx: MeshContext): Startable {
  return new ProtocolService(ctx.node, PROTOCOLS.packList, packListHandler(ctx));
}

/** What serving pack-list needs. */
export type PackListDeps = Pick<MeshContext, 'friends' | 'hostedPacks' | 'limits'>;

export function packListHandler(ctx: PackListDeps) {
  return async (stream: Stream, connection: Connection) =>
    serve(
      stream,
      async (f) => {
        await requireFriend(ctx, connection);
        const remote = connection.remotePeer.toString();
        const req = parsePackListRequest(await f.readJson());
        const packs: PackListPage['packs'] = [];
        let more = false;
        for await (const [key, size] of await ctx.hostedPacks.list(remote, req.after)) {
          if (packs.length === MAX_LIST_PAGE) {
            more = true;
            break;
          }
          packs.push({ id: key.slice(remote.length + 1), sizeBytes: Number(size) });
        }
        const page: PackListPage = { ok: true, packs, more };
        await f.writeJson(page);
      },
      { frameTimeoutMs: limitsOf(ctx).frameTimeoutMs },
    );
}

/** A friend's pack listing broke the protocol (out of order, too long, malformed): none of it is used. */
export class PackListFaultError extends CairnError {
  constructor(message: string) {
    super('E_LIST_FAULT', message);
    this.name = 'PackListFaultError';
  }
}

export interface ListedPack {
  id: string;
  sizeBytes: number;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** The entries of one page, checked: well-formed, strictly increasing, each after `after`. */
function checkPage(page: PackListPage, after: string | undefined): ListedPack[] {
  if (!Array.isArray(page.packs) || typeof page.more !== 'boolean')
    throw new PackListFaultError('the friend sent a pack-list page without a packs array and a more flag');
  if (page.packs.length > MAX_LIST_PAGE)
    throw new PackListFaultError(`the friend sent a pack-list page of ${page.packs.length} entries (at most ${MAX_LIST_PAGE})`);
  if (page.more && page.packs.length === 0) throw new PackListFaultError('the friend sent an empty pack-list page that says more follow');
  let prev = after;
  const out: ListedPack[] = [];
  for (const p of page.packs as unknown[]) {
    const { id, sizeBytes } = (typeof p === 'object' && p !== null ? p : {}) as { id?: unknown; sizeBytes?: unknown };
    if (
      typeof id !== 'string' ||
      !HEX64.test(id) ||
      typeof sizeBytes !== 'number' ||
      !Number.isSafeInteger(sizeBytes) ||
      sizeBytes < 0 ||
      sizeBytes > MAX_PACK_BYTES
    ) {
      throw new PackListFaultError(`the friend listed a malformed entry ${JSON.stringify(p).slice(0, 160)}`);
    }
    if (prev !== undefined && id <= prev)
      throw new PackListFaultError(`the friend listed pack ${id} after ${prev}: pack IDs must strictly increase past the cursor`);
    out.push({ id, sizeBytes });
    prev = id;
  }
  return out;
}

/**
 * The packs a friend says it holds for us, in ID order. At most `maxEntries` are taken (what the
 * caller believes the friend holds plus a margin; MAX_RECOVERY_LIST_PACKS when it believes
 * nothing), in at most ceil(maxEntries / MAX_LIST_PAGE) + 1 pages, within listingDeadlineMs of
 * those pages; `signal` ends it early. Throws PackListFaultError when the friend breaks the
 * protocol, DeadlineError / StalledError when it is too slow.
 */
export async function listPacks(ctx: MeshContext, peer: PeerId, maxEntries: number, signal?: AbortSignal): Promise<ListedPack[]> {
  const limits = limitsOf(ctx);
  const maxPages = Math.ceil(maxEntries / MAX_LIST_PAGE) + 1;
  const deadline = new Deadline(listingDeadlineMs(maxPages, limits), `listing the packs held there (up to ${maxEntries} in ${maxPages} pages)`, signal);
  try {
    const out: ListedPack[] = [];
    let after: string | undefined;
    for (let pages = 1; ; pages++) {
      const stream = await openStream(ctx.node, peer, PROTOCOLS.packList, limits, deadline);
      const page = await exchange(stream, { frameTimeoutMs: limits.frameTimeoutMs, deadline }, async (f) => {
        await f.writeJson(after ? { after } : {});
        return f.readReply<PackListPage>();
      });
      const entries = checkPage(page, after);
      if (out.length + entries.length > maxEntries) throw new PackListFaultError(`the friend listed more than the ${maxEntries} packs it can hold for us`);
      for (const e of entries) out.push(e);
      if (!page.more) return out;
      if (pages === maxPages) throw new PackListFaultError(`the friend's pack-list went on past ${maxPages} pages`);
      after = out.at(-1)?.id;
    }
  } finally {
    deadline.dispose();
  }
}
