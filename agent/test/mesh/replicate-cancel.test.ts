// A replication round can be cancelled (a `cairn replicate` job stopped by Ctrl-C, `cairn jobs
// cancel` or the console): real meshes on loopback. The owner's signal fires as its first pack is
// read for a push: the round starts no more pushes, the ones under way finish and count, and it
// ends with a CancelledError; the next round copies the rest.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Mesh } from '../../src/mesh/compose.js';
import { CancelledError } from '../../src/util/errors.js';
import { LoopbackMeshes, ownerAndFriend } from '../helpers/loopback-meshes.js';

const PACKS = 24;
const meshes = new LoopbackMeshes();
let owner: Mesh;

beforeAll(async () => {
  ({ owner } = await ownerAndFriend(meshes, PACKS, 100_000));
}, 60_000);

afterAll(() => meshes.stopAll());

it('a cancelled round starts no more pushes, ends cancelled, and the next round copies the rest', async () => {
  const store = meshes.repoOf(owner).store;
  const readInto = store.readInto.bind(store);
  const cancel = new AbortController();
  store.readInto = async (id, offset, target) => {
    cancel.abort(new CancelledError('cancelled by the test'));
    await readInto(id, offset, target);
  };
  try {
    await expect(owner.replication.replicate(cancel.signal)).rejects.toBeInstanceOf(CancelledError);
  } finally {
    store.readInto = readInto;
  }
  const copied = (await owner.ledgers.copies.map()).byPack.size;
  expect(copied).toBeGreaterThan(0); // the pushes under way finished and count
  expect(copied).toBeLessThan(PACKS);
  const next = await owner.replication.replicate();
  expect(next.underReplicated).toBe(0);
  expect((await owner.ledgers.copies.map()).byPack.size).toBe(PACKS);
});
