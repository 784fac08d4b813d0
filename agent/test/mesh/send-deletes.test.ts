// Delete requests sent twice at once (prune's own sending and a replication round's, mesh/deletion.ts):
// real meshes on loopback. The second sending waits for the first, finds the outbox empty and sends
// nothing: each pack is asked for once, and neither report says "not sent".
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Mesh } from '../../src/mesh/compose.js';
import { systemClock } from '../../src/util/clock.js';
import { LoopbackMeshes, ownerAndFriend } from '../helpers/loopback-meshes.js';

const PACKS = 6;
const meshes = new LoopbackMeshes();
let owner: Mesh;
let friend: Mesh;

beforeAll(async () => {
  ({ owner, friend } = await ownerAndFriend(meshes, PACKS, 50_000));
  expect((await owner.replication.replicate()).underReplicated).toBe(0);
}, 60_000);

afterAll(() => meshes.stopAll());

it('two sendings at once: the packs are asked for once, and both report what they did truthfully', async () => {
  const packs = [...(await owner.ledgers.copies.map()).byPack.keys()];
  expect(packs).toHaveLength(PACKS);
  await owner.ledgers.deletes.queueDeletesAt(friend.peerId, new Map(packs.map((p) => [p, 50_000])), systemClock.now());
  const [a, b] = await Promise.all([owner.deletion.sendDeletes(), owner.deletion.sendDeletes()]);
  const all = [...a, ...b];
  expect(all.filter((d) => !d.sent)).toEqual([]);
  expect(all.reduce((n, d) => n + d.packs, 0)).toBe(PACKS);
  expect((await owner.ledgers.deletes.outbox()).size).toBe(0);
});
