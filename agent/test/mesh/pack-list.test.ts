// listPacks (which of our packs a friend holds) against a friend that lists honestly, endlessly,
// out of order, past the cursor's back, not at all, or a page at a time too slowly; real libp2p
// nodes on loopback. The owner takes at most what it allows (entries and pages), and ends every
// listing with a clear error within its bounds: the friend cannot hold it or make it allocate.
import type { Libp2p } from '@libp2p/interface';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_LIST_PAGE, PROTOCOLS } from '../../../protocol/mesh.js';
import type { MeshContext } from '../../src/mesh/context.js';
import { DeadlineError, StalledError, type TransferLimits } from '../../src/mesh/deadline.js';
import { serve } from '../../src/mesh/framing.js';
import { listPacks, PackListFaultError } from '../../src/mesh/pack-list.js';
import { startWireNode } from '../helpers/mesh-wire.js';

type Behaviour = 'honest' | 'endless' | 'trickle' | 'repeat' | 'unsorted' | 'behind' | 'empty-more' | 'silent' | 'slow';

const HONEST_PACKS = 4500;
const idOf = (n: bigint) => n.toString(16).padStart(64, '0');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let behaviour: Behaviour = 'honest';
/** Pages and entries the friend sent since the last reset. */
let served = { pages: 0, entries: 0 };
let owner: Libp2p;
let friend: Libp2p;

/** The page a friend answers to `after`. */
function pageFor(after: string | undefined): { packs: Array<{ id: string; sizeBytes: number }>; more: boolean } {
  const start = after === undefined ? 0n : BigInt(`0x${after}`) + 1n;
  const run = (from: bigint, n: number) => Array.from({ length: n }, (_, i) => ({ id: idOf(from + BigInt(i)), sizeBytes: 1000 }));
  switch (behaviour) {
    case 'honest': {
      const n = Math.max(0, Math.min(MAX_LIST_PAGE, HONEST_PACKS - Number(start)));
      return { packs: run(start, n), more: Number(start) + n < HONEST_PACKS };
    }
    case 'endless':
    case 'slow':
      return { packs: run(start, MAX_LIST_PAGE), more: true };
    case 'trickle':
      return { packs: run(start, 1), more: true };
    case 'repeat':
      // the second page starts again with the cursor's own ID
      return { packs: run(after === undefined ? 0n : start - 1n, MAX_LIST_PAGE), more: true };
    case 'unsorted':
      return { packs: [...run(start, 5), ...run(start, 1)], more: false };
    case 'behind':
      return after === undefined ? { packs: run(1000n, MAX_LIST_PAGE), more: true } : { packs: run(10n, 3), more: false };
    case 'empty-more':
      return { packs: [], more: true };
    default:
      throw new Error(`no page for ${behaviour}`);
  }
}

beforeAll(async () => {
  owner = (await startWireNode()).node;
  friend = (await startWireNode()).node;
  await friend.handle(
    PROTOCOLS.packList,
    (stream) =>
      serve(stream, async (f) => {
        const req = (await f.readJson()) as { after?: string };
        if (behaviour === 'silent') {
          // never answers: waits until the owner gives up and resets the stream
          await new Promise<void>((resolve) => stream.addEventListener('close', () => resolve(), { once: true }));
          return;
        }
        if (behaviour === 'slow') await sleep(400);
        const page = pageFor(req.after);
        served = { pages: served.pages + 1, entries: served.entries + page.packs.length };
        await f.writeJson({ ok: true, ...page });
      }),
    { maxInboundStreams: 64 },
  );
  await owner.dial(friend.getMultiaddrs());
});

afterAll(async () => {
  await owner?.stop();
  await friend?.stop();
});

const ctx = (limits?: Partial<TransferLimits>): MeshContext => ({ node: owner, ...(limits ? { limits } : {}) }) as unknown as MeshContext;

async function list(b: Behaviour, maxEntries: number, limits?: Partial<TransferLimits>): Promise<unknown> {
  behaviour = b;
  served = { pages: 0, entries: 0 };
  return listPacks(ctx(limits), friend.peerId, maxEntries).catch((e: unknown) => e);
}

describe('listPacks from a friend', () => {
  it('an honest friend: every pack, in order, over three pages', async () => {
    const r = (await list('honest', 10_000)) as Array<{ id: string }>;
    expect(r).toHaveLength(HONEST_PACKS);
    expect(r.map((p) => p.id)).toEqual(Array.from({ length: HONEST_PACKS }, (_, i) => idOf(BigInt(i))));
    expect(served.pages).toBe(3);
  });

  it('more: true forever stops at the entry cap: a clear error, and no more than the cap was asked for', async () => {
    const err = await list('endless', 5000);
    expect(err).toBeInstanceOf(PackListFaultError);
    expect((err as Error).message).toBe('the friend listed more than the 5000 packs it can hold for us');
    expect(served.pages).toBe(3);
    expect(served.entries).toBeLessThanOrEqual(5000 + MAX_LIST_PAGE);
  });

  it('one entry per page forever stops at the page cap', async () => {
    const err = await list('trickle', 5000);
    expect(err).toBeInstanceOf(PackListFaultError);
    expect((err as Error).message).toBe("the friend's pack-list went on past 4 pages");
    expect(served.pages).toBe(4);
  });

  it.each([
    ['repeat', /listed pack 0{61}7cf after 0{61}7cf: pack IDs must strictly increase past the cursor/],
    ['unsorted', /listed pack 0{64} after 0{63}4: pack IDs must strictly increase/],
    ['behind', /listed pack 0{63}a after 0{61}bb7: pack IDs must strictly increase past the cursor/],
    ['empty-more', /empty pack-list page that says more follow/],
  ] as const)("%s IDs: the listing is refused as the friend's fault", async (b, message) => {
    const err = await list(b, 100_000);
    expect(err).toBeInstanceOf(PackListFaultError);
    expect((err as Error).message).toMatch(message);
  });

  it('a friend that never answers: StalledError after the inactivity timeout', async () => {
    const err = await list('silent', 5000, { frameTimeoutMs: 500 });
    expect(err).toBeInstanceOf(StalledError);
    expect((err as Error).message).toMatch(/waiting for a frame from the peer: nothing happened for 0\.5 s/);
  });

  it('pages that each come in time but too slowly in all: DeadlineError, within the pages allowed', async () => {
    // 4 pages allowed; the deadline is 300 ms + 4 x (256 KiB at 16 MiB/s = 16 ms); each page takes 400 ms
    const err = await list('slow', 5000, { frameTimeoutMs: 5000, graceMs: 300, minBytesPerSec: 16 * 1024 * 1024 });
    expect(err).toBeInstanceOf(DeadlineError);
    expect((err as Error).message).toMatch(/^listing the packs held there \(up to 5000 in 4 pages\) did not finish within 0\.363 s$/);
    expect(served.pages).toBeLessThan(3);
  });
});
