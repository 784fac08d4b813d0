// A push that is cut resumes (SPEC 13.4, "Resuming a push"): two real meshes (createMesh on real
// repositories, real LevelDB and pack directories) on loopback. The owner's push of a 6 MiB pack is
// cut after a few MiB; the friend keeps what arrived, and the next push sends only the rest (its
// first read is at the friend's offset), and the friend stores the pack whole and intact. A partial
// whose bytes were altered makes the resumed pack fail its hash: refused, the partial dropped, and
// the push after that starts from 0 and succeeds. Partials are bounded per owner and by age.
import { mkdtemp, open, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { peerIdFromString } from '@libp2p/peer-id';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mesh } from '../../src/mesh/compose.js';
import { putPack } from '../../src/mesh/pack-put.js';
import { packIntact } from '../../src/mesh/pack-digest.js';
import { MAX_PARTIAL_PACKS_PER_OWNER, MIN_PARTIAL_BYTES, PARTIAL_PACK_MAX_AGE_MS, PartialPacks } from '../../src/mesh/partial-packs.js';
import { systemClock } from '../../src/util/clock.js';
import { befriend, LoopbackMeshes, randomPack, relayedPair } from '../helpers/loopback-meshes.js';

const MIB = 1024 * 1024;
const SIZE = 6 * MIB;

const meshes = new LoopbackMeshes();
let owner: Mesh;
let friend: Mesh;
const pack = () => randomPack(SIZE);

/** Pushes `p` to the friend; `cutAt`: the push is aborted once a read reaches it. Returns the offsets read. */
async function push(
  p: { id: string; bytes: Buffer },
  cutAt?: number,
  from = owner,
  to = friend,
): Promise<{ result: 'stored' | 'had' | Error; reads: number[] }> {
  const reads: number[] = [];
  const cut = new AbortController();
  const result = await putPack(
    from.ctx,
    peerIdFromString(to.peerId),
    p.id,
    SIZE,
    async (off, target) => {
      reads.push(off);
      if (cutAt !== undefined && off >= cutAt) cut.abort(new Error('cut for the test'));
      target.set(p.bytes.subarray(off, off + target.length));
    },
    cut.signal,
  ).catch((err: unknown) => err as Error);
  return { result, reads };
}

/** Waits until the friend kept what the cut push brought (it notices the reset after the owner does). */
async function partialAtFriend(id: string, from = owner, to = friend): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const n = await to.ctx.hosted.resumeOffset(from.peerId, id, SIZE);
    if (n > 0) return n;
    await sleep(100);
  }
  return 0;
}

beforeAll(async () => {
  [owner, friend] = [await meshes.mesh('owner'), await meshes.mesh('friend')];
  await befriend(owner, friend);
  await befriend(friend, owner);
  for (const m of [owner, friend]) await m.presence.remember();
}, 60_000);

afterAll(() => meshes.stopAll());

describe('resuming a cut push', () => {
  it('sends only what the friend does not have yet, and the friend stores the pack intact', async () => {
    const p = pack();
    const first = await push(p, 3 * MIB);
    expect(first.result).toBeInstanceOf(Error);
    const kept = await partialAtFriend(p.id);
    expect(kept).toBeGreaterThanOrEqual(MIN_PARTIAL_BYTES);
    expect(kept).toBeLessThan(SIZE);
    const second = await push(p);
    expect(second.result).toBe('stored');
    expect(Math.min(...second.reads)).toBe(kept);
    expect(await friend.ledgers.hostedPacks.has(owner.peerId, p.id)).toBe(true);
    expect(await packIntact(await friend.ctx.hosted.storeFor(owner.peerId), p.id)).toBe(true);
    expect(await friend.ctx.hosted.resumeOffset(owner.peerId, p.id, SIZE)).toBe(0);
  });

  it('a partial with altered bytes fails the hash: refused, dropped, and the next push starts from 0', async () => {
    const p = pack();
    expect((await push(p, 3 * MIB)).result).toBeInstanceOf(Error);
    expect(await partialAtFriend(p.id)).toBeGreaterThan(0);
    const file = join(friend.ctx.hosted.dir, '.partial', owner.peerId, p.id);
    const fh = await open(file, 'r+');
    await fh.write(Buffer.alloc(4096, 0xee), 0, 4096, 1000);
    await fh.close();
    const bad = await push(p);
    expect(bad.result).toMatchObject({ wireCode: 'E_BAD_PACK' });
    expect(await friend.ctx.hosted.resumeOffset(owner.peerId, p.id, SIZE)).toBe(0);
    const again = await push(p);
    expect(again.result).toBe('stored');
    expect(Math.min(...again.reads)).toBe(0);
    expect(await packIntact(await friend.ctx.hosted.storeFor(owner.peerId), p.id)).toBe(true);
  });
});

describe('resuming a push cut by a relay', () => {
  it("a friend's relay cuts the push at its daily volume; the next day the push resumes through it and the pack is stored intact", async () => {
    const clock = { t: systemClock.now(), now: () => clock.t };
    // the relay carries 5 MiB a day for each friend (both directions): the 6 MiB pack does not fit in one day
    const { relay, alice, bob, onlyRelayed } = await relayedPair(meshes, clock, { bytesPerSec: 0, bytesPerDay: 5 * MIB });
    const p = pack();
    const cut = await push(p, undefined, alice, bob);
    expect(cut.result).toBeInstanceOf(Error);
    expect(relay.relayBudget.exhausted(bob.peerId)).toBe(true);
    const kept = await partialAtFriend(p.id, alice, bob);
    expect(kept).toBeGreaterThanOrEqual(MIN_PARTIAL_BYTES);
    clock.t += 86_400_000;
    await onlyRelayed();
    const resumed = await push(p, undefined, alice, bob);
    expect(resumed.result).toBe('stored');
    expect(Math.min(...resumed.reads)).toBe(kept);
    expect(await packIntact(await bob.ctx.hosted.storeFor(alice.peerId), p.id)).toBe(true);
    // the rest of the pack crossed the relay on the second day, and only the rest
    const day2 = relay.relayBudget.count(bob.peerId).todayBytes;
    expect(day2).toBeGreaterThanOrEqual(SIZE - kept);
    expect(day2).toBeLessThan(SIZE - kept + MIB);
  });
});

describe('partial packs are bounded', () => {
  it(`keeps at most ${MAX_PARTIAL_PACKS_PER_OWNER} per owner (the newest), none below ${MIN_PARTIAL_BYTES} bytes, none older than a day`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-partials-'));
    const clock = { t: systemClock.now(), now: () => clock.t };
    const partials = new PartialPacks(dir, clock);
    const ids = ['a', 'b', 'c'].map((c) => c.repeat(64));
    for (const [i, id] of ids.entries()) {
      const f = join(dir, `tmp-${i}`);
      await writeFile(f, Buffer.alloc(MIN_PARTIAL_BYTES + i));
      await partials.keep('owner', id, f);
      await sleep(20); // distinct modification times
    }
    expect((await readdir(join(dir, '.partial', 'owner'))).sort()).toEqual(ids.slice(1));
    expect(await partials.length('owner', ids[2] as string, 10 * MIB)).toBe(MIN_PARTIAL_BYTES + 2);
    const small = join(dir, 'small');
    await writeFile(small, Buffer.alloc(100));
    await partials.keep('owner', 'd'.repeat(64), small);
    expect(await partials.length('owner', 'd'.repeat(64), 10 * MIB)).toBe(0);
    clock.t += PARTIAL_PACK_MAX_AGE_MS + 60_000;
    expect(await partials.length('owner', ids[2] as string, 10 * MIB)).toBe(0);
    expect(await readdir(join(dir, '.partial', 'owner'))).toEqual([ids[1]]);
    await rm(dir, { recursive: true, force: true });
  });
});
