// The challenge rotation riding on real replication rounds (two real meshes on real repositories,
// TCP on loopback), with the owner's clock advanced an hour per round: the first round challenges
// nothing (the budget starts empty), then every pack at the friend passes within the audit
// period; a pack the friend garbles behind its agent's back is caught within a period by a plain
// replication round, named in the round's problems, and copied to the friend again in that round.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../src/mesh/compose.js';
import { BlobType } from '../../src/repo/blob.js';
import type { Stores } from '../../src/compose-root.js';
import type { Repository } from '../../src/repo/repository.js';
import { initStores } from '../helpers/stores.js';
import { systemClock } from '../../src/util/clock.js';
import { hostedPacks } from '../helpers/mesh-hosted.js';

const GiB = 1024 ** 3;
const HOUR_MS = 3_600_000;
const PERIOD_MS = 2 * 24 * HOUR_MS;

let work: string;
let ownerRepo: Repository;
let ownerStores: Stores | undefined;
let friendRepo: Repository;
let friendStores: Stores | undefined;
let owner: Mesh;
let friend: Mesh;
let now = systemClock.now();
const packs: string[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'cairn-challenge-round-'));
  ownerStores = await initStores(join(work, 'owner'), 'pw', new Date());
  ownerRepo = ownerStores.repo;
  friendStores = await initStores(join(work, 'friend'), 'pw', new Date());
  friendRepo = friendStores.repo;
  const base = { listen: ['/ip4/127.0.0.1/tcp/0'], replicas: 1, diskFloorBytes: 0 };
  owner = await createMesh(ownerStores, { ...base, name: 'owner', clock: { now: () => now }, audit: { periodMs: PERIOD_MS, dailyShare: 0.5 } });
  friend = await createMesh(friendStores, { ...base, name: 'friend', clock: systemClock });
  await owner.pairing.pair((await friend.pairing.invite(GiB, 600_000)).code, GiB);
  for (let i = 0; i < 6; i++) {
    const { id } = await ownerRepo.saveBlob(BlobType.data, randomBytes(200_000));
    await ownerRepo.flush();
    packs.push(ownerRepo.index.get(id)?.packId as string);
  }
}, 60_000);

afterAll(async () => {
  await owner?.stop();
  await friend?.stop();
  await ownerStores?.close();
  await friendStores?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

const friendHolds = () => hostedPacks(friendRepo.paths.home, owner.peerId);

describe('challenges riding on replication rounds', () => {
  it('every pack passes within the audit period; a garbled one is caught by a later round and copied again in it', async () => {
    const first = await owner.replication.replicate();
    expect(first.underReplicated).toBe(0);
    expect(await owner.ledgers.challenges.lastPassed(friend.peerId)).toEqual(new Map()); // the budget starts empty

    const start = now;
    let passed = new Map<string, number>();
    for (let round = 0; round < 60 && passed.size < packs.length; round++) {
      now += HOUR_MS;
      const r = await owner.replication.replicate();
      expect(r.problems).toEqual([]);
      passed = await owner.ledgers.challenges.lastPassed(friend.peerId);
    }
    expect([...passed.keys()].sort()).toEqual([...packs].sort());
    expect(Math.max(...passed.values()) - start).toBeLessThanOrEqual(PERIOD_MS);

    // the friend's disk garbles one pack; its records still say it holds it
    const victim = (await friendHolds())[0];
    if (!victim) throw new Error('the friend holds nothing');
    await writeFile(victim.path, randomBytes(victim.size));
    const garbledAt = now;
    let caught: string[] = [];
    for (let round = 0; round < 80 && caught.length === 0; round++) {
      now += HOUR_MS;
      const r = await owner.replication.replicate();
      caught = r.problems.filter((p) => p.startsWith('friend failed storage challenges for 1 of our packs') && p.includes(victim.id.slice(0, 12)));
      if (caught.length > 0) expect(r.underReplicated).toBe(0); // copied again in the same round
    }
    expect(caught).toHaveLength(1);
    expect(now - garbledAt).toBeLessThanOrEqual(PERIOD_MS + HOUR_MS);
    expect(
      createHash('sha256')
        .update(await readFile(victim.path))
        .digest('hex'),
    ).toBe(victim.id);
    expect(await owner.ledgers.challenges.failures()).toEqual([]);
    expect(await owner.ledgers.copies.holders(victim.id)).toEqual([friend.peerId]);
  });

  it('a damaged local copy never convicts an honest friend: the audit passes it (the whole pack settles it)', async () => {
    const victim = packs[1] as string;
    const path = join(ownerRepo.paths.home, 'repo', 'packs', victim.slice(0, 2), victim);
    const original = await readFile(path);
    await writeFile(path, randomBytes(original.length));
    try {
      const { reports } = await owner.replication.audit();
      const report = reports.find((r) => r.peerId === friend.peerId);
      expect(report?.failed).toEqual([]);
      expect(report?.passed).toBe(report?.challenged);
      expect(await owner.ledgers.challenges.failures()).toEqual([]);
    } finally {
      await writeFile(path, original);
    }
  });
});
