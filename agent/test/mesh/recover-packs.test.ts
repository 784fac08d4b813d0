// Recovery's pack phase (friends as read-only pack stores, the engine indexing their headers) with
// one friend lying about a pack's size and one honest friend: real repositories (the recovering one made from the same root secret), real libp2p nodes serving the
// real pack bytes over pack-list and pack-get. The liar is asked first; its header fetch fails for
// the size it gave, and the honest friend is asked with the size it listed, so the pack is indexed.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Libp2p } from '@libp2p/interface';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACK_FRAME_BYTES, PROTOCOLS, WireError } from '../../../protocol/mesh.js';
import { ROOT_SECRET_BYTES } from '../../src/crypto/kdf.js';
import type { MeshContext } from '../../src/mesh/context.js';
import { RefusedError, serve } from '../../src/mesh/framing.js';
import { FriendPackStore, openFriendPackStores } from '../../src/mesh/friend-pack-store.js';
import { indexFromPacks } from '../../src/repo/index-from-packs.js';
import { BlobType } from '../../src/repo/blob.js';
import { PackMissingError } from '../../src/store/pack-store.js';
import type { Stores } from '../../src/compose-root.js';
import type { Repository } from '../../src/repo/repository.js';
import { initStores } from '../helpers/stores.js';
import { startWireNode } from '../helpers/mesh-wire.js';

let work: string;
let original: Repository;
let originalStores: Stores | undefined;
let recovering: Repository;
let recoveringStores: Stores | undefined;
let blobId: string;
let packId: string;
let packBytes: Buffer;
let owner: Libp2p;
let liar: Libp2p;
let honest: Libp2p;

/** A friend holding `packBytes`, listing it with `listedSize`, serving byte ranges of what it really has. */
async function friendNode(listedSize: () => number): Promise<Libp2p> {
  const { node } = await startWireNode();
  await node.handle(PROTOCOLS.packList, (stream) =>
    serve(stream, async (f) => {
      await f.readJson();
      await f.writeJson({ ok: true, packs: [{ id: packId, sizeBytes: listedSize() }], more: false });
    }),
  );
  await node.handle(PROTOCOLS.packGet, (stream) =>
    serve(stream, async (f) => {
      const req = (await f.readJson()) as { offset: number; length: number };
      if (req.offset + req.length > packBytes.length)
        throw new RefusedError(WireError.notFound, `range ${req.offset}+${req.length} is beyond the pack's ${packBytes.length} bytes`);
      await f.writeJson({ ok: true, sizeBytes: req.length });
      await f.sendWindowed(req.length, PACK_FRAME_BYTES, async (off, target) =>
        target.set(packBytes.subarray(req.offset + off, req.offset + off + target.length)),
      );
    }),
  );
  return node;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'cairn-recover-packs-'));
  const root = randomBytes(ROOT_SECRET_BYTES);
  const now = new Date();
  originalStores = await initStores(join(work, 'original'), 'pw', now, { root: root });
  original = originalStores.repo;
  recoveringStores = await initStores(join(work, 'recovering'), 'pw', now, { root: root });
  recovering = recoveringStores.repo;
  blobId = (await original.saveBlob(BlobType.data, randomBytes(300_000))).id;
  await original.flush();
  packId = original.index.get(blobId)?.packId as string;
  packBytes = await original.store.get(packId);
  owner = (await startWireNode()).node;
  // the liar says the pack is 1000 bytes longer than it is
  liar = await friendNode(() => packBytes.length + 1000);
  honest = await friendNode(() => packBytes.length);
  await owner.dial(liar.getMultiaddrs());
  await owner.dial(honest.getMultiaddrs());
}, 60_000);

afterAll(async () => {
  await Promise.all([owner?.stop(), liar?.stop(), honest?.stop()]);
  await originalStores?.close();
  await recoveringStores?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('recovery when one friend lies about pack sizes', () => {
  it("keeps each holder's size: the liar's header fetch fails, the honest holder's succeeds, the pack is indexed", async () => {
    const ctx = { node: owner, ...recoveringStores!.ledgers } as unknown as MeshContext;
    const warnings: string[] = [];
    const stores = await openFriendPackStores(
      ctx,
      [
        { peerId: liar.peerId.toString(), name: 'liar' },
        { peerId: honest.peerId.toString(), name: 'honest' },
      ],
      warnings,
    );
    // each friend's store keeps the size that friend listed
    const holdings = await Promise.all(stores.map(async (s) => ({ peerId: s.peerId, sizeBytes: (await s.stat(packId))?.sizeBytes })));
    expect(holdings).toEqual([
      { peerId: liar.peerId.toString(), sizeBytes: packBytes.length + 1000 },
      { peerId: honest.peerId.toString(), sizeBytes: packBytes.length },
    ]);
    expect(recovering.index.get(blobId)).toBeUndefined();
    expect(
      (
        await indexFromPacks(
          recovering,
          stores.map((s) => ({ name: s.peerId, store: s })),
          warnings,
          'friend',
        )
      ).indexed,
    ).toBe(1);
    expect(recovering.index.get(blobId)?.packId).toBe(packId);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(new RegExp(`^pack ${packId} header from ${liar.peerId.toString()}: `));
    // the index is whole: the blob reads back through the honest friend's bytes
    await recovering.store.put(packId, [packBytes]);
    expect((await recovering.loadBlob(blobId, BlobType.data)).length).toBe(300_000);
  }, 60_000);

  it("a friend's store serves what it listed, whole or as a range, and nothing else", async () => {
    const ctx = { node: owner, ...recoveringStores!.ledgers } as unknown as MeshContext;
    const store = await FriendPackStore.open(ctx, { peerId: honest.peerId.toString(), name: 'honest' });
    expect(await store.stat(packId)).toEqual({ id: packId, sizeBytes: packBytes.length });
    expect((await store.get(packId)).equals(packBytes)).toBe(true);
    expect((await store.getRange(packId, 10, 100)).equals(packBytes.subarray(10, 110))).toBe(true);
    const unlisted = 'ef'.repeat(32);
    expect(await store.stat(unlisted)).toBeUndefined();
    await expect(store.getRange(unlisted, 0, 4)).rejects.toBeInstanceOf(PackMissingError);
  }, 60_000);
});
