// A fetch that is cut resumes (SPEC 13.4, "Resuming a fetch"): real meshes (createMesh on real
// repositories, real LevelDB and pack directories) on loopback. The friend holds a 6 MiB pack of
// the owner's (pushed with putPack); its store is made to fail mid-transfer (the friend's side
// aborts the stream: a cut). The owner keeps what arrived, and its reader's next try asks only for
// the rest (the friend's first read is at the kept offset); the pack is assembled and lands
// intact. A friend that serves altered bytes after the resume is caught by the whole-pack hash:
// nothing lands, the partial is dropped, the friend is reported. The server refuses ranges that do
// not start and end inside the pack. And a relay that cuts the fetch at its daily volume: the next
// day the fetch resumes through it, carrying only the rest.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { peerIdFromString } from '@libp2p/peer-id';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WireError } from '../../../protocol/mesh.js';
import type { Mesh } from '../../src/mesh/compose.js';
import { FetchPartials, MAX_FETCH_PARTIALS } from '../../src/mesh/fetch-partials.js';
import { RefusedError } from '../../src/mesh/framing.js';
import { fetchPack, getPackRange } from '../../src/mesh/pack-get.js';
import { putPack } from '../../src/mesh/pack-put.js';
import { MIN_PARTIAL_BYTES, PARTIAL_PACK_MAX_AGE_MS } from '../../src/mesh/partial-packs.js';
import type { LocalPackStore } from '../../src/store/local-pack-store.js';
import { systemClock } from '../../src/util/clock.js';
import { CorruptionError } from '../../src/util/errors.js';
import { befriend, LoopbackMeshes, randomPack, relayedPair } from '../helpers/loopback-meshes.js';

const MIB = 1024 * 1024;
const SIZE = 6 * MIB;

const meshes = new LoopbackMeshes();
let owner: Mesh;
let friend: Mesh;
const pack = (size = SIZE) => randomPack(size);

/** The friend takes the owner's pack (a plain push). */
async function place(p: { id: string; bytes: Buffer }, from = owner, to = friend): Promise<void> {
  const r = await putPack(from.ctx, peerIdFromString(to.peerId), p.id, p.bytes.length, async (off, target) => {
    target.set(p.bytes.subarray(off, off + target.length));
  });
  expect(r).toBe('stored');
}

/**
 * The friend's store of the owner's packs, watched: every read offset is recorded; `cutAt` makes
 * the read reaching it fail once (the friend aborts the stream: a cut fetch), `alterFrom` makes
 * every read from there serve altered bytes.
 */
async function watch(from = owner, at = friend): Promise<{ reads: number[]; cutAt?: number; alterFrom?: number }> {
  const store: LocalPackStore = await at.ctx.hosted.storeFor(from.peerId);
  const w: { reads: number[]; cutAt?: number; alterFrom?: number } = { reads: [] };
  const readInto = store.readInto.bind(store);
  store.readInto = async (id, offset, target) => {
    w.reads.push(offset);
    if (w.cutAt !== undefined && offset >= w.cutAt) {
      w.cutAt = undefined;
      throw new Error('cut for the test');
    }
    await readInto(id, offset, target);
    if (w.alterFrom !== undefined && offset >= w.alterFrom) target[0] = (target[0] as number) ^ 0x01;
  };
  return w;
}

async function localBytes(m: Mesh, id: string): Promise<Buffer | undefined> {
  const store = meshes.repoOf(m).store;
  return (await store.stat(id)) ? store.get(id) : undefined;
}

beforeAll(async () => {
  [owner, friend] = [await meshes.mesh('owner'), await meshes.mesh('friend')];
  await befriend(owner, friend);
  await befriend(friend, owner);
  for (const m of [owner, friend]) await m.presence.remember();
}, 60_000);

afterAll(() => meshes.stopAll());

describe('resuming a cut fetch', () => {
  it("the reader's next try asks only for the rest, and the pack lands intact", async () => {
    const p = pack();
    await place(p);
    const w = await watch();
    w.cutAt = 3 * MIB;
    await owner.packGet.reader.fetchFromFriends(p.id);
    // the first request read 0.. until the cut; the second began where the owner's kept bytes end
    const cutIndex = w.reads.indexOf(3 * MIB);
    expect(w.reads[0]).toBe(0);
    const resumedAt = w.reads[cutIndex + 1] as number;
    expect(resumedAt).toBeGreaterThanOrEqual(MIN_PARTIAL_BYTES);
    expect(resumedAt).toBeLessThanOrEqual(3 * MIB);
    expect(Math.min(...w.reads.slice(cutIndex + 1))).toBe(resumedAt);
    expect(Buffer.compare((await localBytes(owner, p.id)) as Buffer, p.bytes)).toBe(0);
    expect(await readdir(owner.packGet.partials.dir)).toEqual([]);
    expect((await owner.ledgers.friends.get(friend.peerId))?.problems).toEqual([]);
  });

  it('a friend that serves altered bytes after the resume: the pack fails its hash, nothing lands, the partial goes, the friend is reported', async () => {
    const p = pack();
    await place(p);
    const w = await watch();
    w.cutAt = 3 * MIB;
    const store = meshes.repoOf(owner).store;
    // the first fetch alone (not the reader, which would try again at once): cut, the start kept
    await expect(fetchPack(owner.ctx, peerIdFromString(friend.peerId), p.id, store, owner.packGet.partials)).rejects.toThrow();
    const kept = await owner.packGet.partials.find(friend.peerId, p.id);
    expect(kept?.offset).toBeGreaterThanOrEqual(MIN_PARTIAL_BYTES);
    w.alterFrom = kept?.offset;
    const err = await owner.packGet.reader.fetchFromFriends(p.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptionError);
    expect(await localBytes(owner, p.id)).toBeUndefined();
    expect(await readdir(owner.packGet.partials.dir)).toEqual([]);
    expect((await owner.ledgers.friends.get(friend.peerId))?.problems).toEqual([expect.stringContaining(`served a damaged copy of pack ${p.id}`)]);
    // the friend then serves honestly: the next fetch starts from 0 and lands intact
    w.alterFrom = undefined;
    w.reads.length = 0;
    await fetchPack(owner.ctx, peerIdFromString(friend.peerId), p.id, store, owner.packGet.partials);
    expect(w.reads[0]).toBe(0);
    expect(Buffer.compare((await localBytes(owner, p.id)) as Buffer, p.bytes)).toBe(0);
  });

  it('the friend refuses ranges that do not start and end inside the pack', async () => {
    const p = pack(2 * MIB);
    await place(p);
    const peer = peerIdFromString(friend.peerId);
    const refusal = (offset: number, length: number) =>
      getPackRange(owner.ctx, peer, p.id, { offset, length }).then(
        () => 'served',
        (e: unknown) => (e instanceof RefusedError ? e.wireCode : String(e)),
      );
    const size = p.bytes.length;
    expect(await refusal(size, 0)).toBe(WireError.notFound);
    expect(await refusal(size, 1)).toBe(WireError.notFound);
    expect(await refusal(size - 10, 11)).toBe(WireError.notFound);
    expect(await refusal(-1, 10)).toBe(WireError.malformed);
    expect(await refusal(1.5, 10)).toBe(WireError.malformed);
    expect(await refusal(2 ** 60, 1)).toBe(WireError.malformed);
    expect(await refusal(Number.MAX_SAFE_INTEGER, 1)).toBe(WireError.malformed);
    // the last bytes are served
    const tail = await getPackRange(owner.ctx, peer, p.id, { offset: size - 10, length: 10 });
    expect(Buffer.compare(tail, p.bytes.subarray(size - 10))).toBe(0);
  });
});

describe('resuming a fetch cut by a relay', () => {
  it("a friend's relay cuts the fetch at its daily volume; the next day the fetch resumes through it, carrying only the rest", async () => {
    const clock = { t: systemClock.now(), now: () => clock.t };
    // 10 MiB a day for each friend (both directions): the 6 MiB push fits, the 6 MiB fetch after it does not
    const { relay, alice, bob, bobId, onlyRelayed } = await relayedPair(meshes, clock, { bytesPerSec: 0, bytesPerDay: 10 * MIB });
    const p = pack();
    await place(p, alice, bob);
    const w = await watch(alice, bob);
    const store = meshes.repoOf(alice).store;
    await expect(fetchPack(alice.ctx, bobId, p.id, store, alice.packGet.partials)).rejects.toThrow();
    expect(relay.relayBudget.exhausted(bob.peerId)).toBe(true);
    const kept = (await alice.packGet.partials.find(bob.peerId, p.id))?.offset ?? 0;
    expect(kept).toBeGreaterThanOrEqual(MIN_PARTIAL_BYTES);
    clock.t += 86_400_000;
    await onlyRelayed();
    w.reads.length = 0;
    await fetchPack(alice.ctx, bobId, p.id, store, alice.packGet.partials);
    expect(Math.min(...w.reads)).toBe(kept);
    expect(Buffer.compare((await localBytes(alice, p.id)) as Buffer, p.bytes)).toBe(0);
    const day2 = relay.relayBudget.count(bob.peerId).todayBytes;
    expect(day2).toBeGreaterThanOrEqual(SIZE - kept);
    expect(day2).toBeLessThan(SIZE - kept + MIB);
  });
});

describe('partial fetches are bounded', () => {
  it(`keeps one per pack, at most ${MAX_FETCH_PARTIALS} in all (the newest), none below ${MIN_PARTIAL_BYTES} bytes, none older than a day`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-fetch-partials-'));
    const clock = { t: systemClock.now(), now: () => clock.t };
    const partials = new FetchPartials(dir, clock);
    const f = '12D3KooWAbc';
    const ids = Array.from({ length: MAX_FETCH_PARTIALS + 1 }, (_, i) => i.toString(16).repeat(64));
    for (const [i, id] of ids.entries()) {
      const file = join(dir, `tmp-${i}`);
      await writeFile(file, Buffer.alloc(MIN_PARTIAL_BYTES + i));
      await partials.keep(f, id, 10 * MIB, file);
      clock.t += 10;
      await new Promise((r) => setTimeout(r, 20)); // distinct modification times
    }
    expect(await partials.find(f, ids[0] as string)).toBeUndefined();
    expect((await readdir(partials.dir)).length).toBe(MAX_FETCH_PARTIALS);
    expect(await partials.find(f, ids[1] as string)).toEqual({ offset: MIN_PARTIAL_BYTES + 1, sizeBytes: 10 * MIB });
    // only the friend that served the start is asked for the rest
    expect(await partials.find('12D3KooWBob', ids[1] as string)).toBeUndefined();
    // a newer partial of the same pack (from another friend) replaces it
    const other = join(dir, 'other');
    await writeFile(other, Buffer.alloc(MIN_PARTIAL_BYTES));
    await partials.keep('12D3KooWBob', ids[1] as string, 10 * MIB, other);
    expect(await partials.find(f, ids[1] as string)).toBeUndefined();
    expect(await partials.find('12D3KooWBob', ids[1] as string)).toEqual({ offset: MIN_PARTIAL_BYTES, sizeBytes: 10 * MIB });
    const small = join(dir, 'small');
    await writeFile(small, Buffer.alloc(100));
    await partials.keep(f, 'e'.repeat(64), 10 * MIB, small);
    expect(await partials.find(f, 'e'.repeat(64))).toBeUndefined();
    clock.t += PARTIAL_PACK_MAX_AGE_MS + 60_000;
    expect(await partials.find(f, ids[2] as string)).toBeUndefined();
    await rm(dir, { recursive: true, force: true });
  });
});
