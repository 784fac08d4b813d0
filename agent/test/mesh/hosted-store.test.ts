// HostedStore's per-friend pack stores, on a real directory and a real LevelDB. Opening a store
// sweeps the temp files a crash left, so it must happen once per friend: two packs from a friend
// arriving at once after a start used to open the store twice, and the second open deleted the
// first pack's temp file while it was being received (seen as "ENOENT ... rename" and a reset
// stream during replication).
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_HOSTED_PACKS_PER_OWNER, MIN_PACK_CHARGE_BYTES, WireError } from '../../../protocol/mesh.js';
import { RefusedError } from '../../src/mesh/framing.js';
import { HostedPacks } from '../../src/mesh/hosted-ledger.js';
import { HostedStore, MIN_FREE_INODES, type DiskSpace } from '../../src/mesh/hosted-store.js';
import { openStateDb, type StateDb } from '../../src/state/db.js';

const FRIEND = '12D3KooWfriend';
const packId = (i: number) => i.toString(16).padStart(64, '0');

let dir: string;
let db: StateDb;
let book: HostedPacks;
let hosted: HostedStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-hosted-'));
  const opened = await openStateDb(join(dir, 'state'));
  db = opened.db;
  book = new HostedPacks(opened.sub);
  hosted = new HostedStore(join(dir, 'hosted'), book, { floorBytes: 0 });
});

afterEach(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

describe('HostedStore.storeFor', () => {
  it('callers arriving at once share one store, opened once: a pack being received keeps its temp file', async () => {
    const first = hosted.storeFor(FRIEND);
    const second = hosted.storeFor(FRIEND);
    const store = await first;
    const tmp = await store.tempPathFor(packId(1));
    await writeFile(tmp, 'half a pack');
    expect(await second).toBe(store);
    expect(await hosted.storeFor(FRIEND)).toBe(store);
    expect(existsSync(tmp), 'the temp file of a pack in flight was swept').toBe(true);
  });

  it('temp files a crash left are swept when the store is first opened', async () => {
    const store = await hosted.storeFor(FRIEND);
    const tmp = await store.tempPathFor(packId(2));
    await writeFile(tmp, 'left by a crash');
    // a restarted agent: a new HostedStore on the same directory
    const restarted = new HostedStore(join(dir, 'hosted'), book, { floorBytes: 0 });
    await restarted.storeFor(FRIEND);
    expect(existsSync(tmp)).toBe(false);
  });

  it('a store that failed to open is opened again by the next caller', async () => {
    await hosted.storeFor('placeholder'); // creates the hosted directory
    const blocker = join(dir, 'hosted', FRIEND);
    await writeFile(blocker, 'a file where the directory goes');
    await expect(hosted.storeFor(FRIEND)).rejects.toThrow();
    await rm(blocker);
    const store = await hosted.storeFor(FRIEND);
    expect(existsSync(join(dir, 'hosted', FRIEND))).toBe(true);
    expect(await hosted.storeFor(FRIEND)).toBe(store);
  });
});

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/** A reservation's outcome: its release, or the wire code it was refused with. */
async function tryReserve(store: HostedStore, peer: string, grant: number, size: number): Promise<(() => void) | string> {
  try {
    return await store.reserve(peer, grant, size);
  } catch (err) {
    if (err instanceof RefusedError) return err.wireCode;
    throw err;
  }
}

/** A disk that reports `free` whatever is reserved (nothing lands while uploads are in flight). */
const disk = (space: DiskSpace) => async () => space;

describe('HostedStore.reserve', () => {
  it('uploads in flight from every friend count against the disk floor', async () => {
    const store = new HostedStore(join(dir, 'hosted'), book, { floorBytes: 100 * MIB, space: disk({ freeBytes: GIB, freeInodes: null }) });
    const friends = ['12D3KooWa', '12D3KooWb', '12D3KooWc', '12D3KooWd'];
    // 4 friends x 8 puts of 64 MiB at once, each well within its own 10 GiB grant
    const outcomes = await Promise.all(friends.flatMap((f) => Array.from({ length: 8 }, () => tryReserve(store, f, 10 * GIB, 64 * MIB))));
    const admitted = outcomes.filter((o) => typeof o === 'function');
    expect(admitted.length).toBe(Math.floor((GIB - 100 * MIB) / (64 * MIB))); // 14: no more fit above the floor
    expect(outcomes.filter((o) => o === WireError.diskFloor).length).toBe(32 - admitted.length);
    // released (stored or failed): the room is there again
    for (const release of admitted) release();
    expect(typeof (await tryReserve(store, friends[0]!, 10 * GIB, 64 * MIB))).toBe('function');
  });

  it('the real disk: a floor above what is free refuses, a floor of zero admits', async () => {
    const full = new HostedStore(join(dir, 'hosted'), book, { floorBytes: Number.MAX_SAFE_INTEGER, minFreeInodes: 0 });
    expect(await tryReserve(full, FRIEND, GIB, 1000)).toBe(WireError.diskFloor);
    const open = new HostedStore(join(dir, 'hosted'), book, { floorBytes: 0, minFreeInodes: 0 });
    expect(typeof (await tryReserve(open, FRIEND, GIB, 1000))).toBe('function');
  });

  it('a tiny pack is charged the minimum: a grant of ten minimum charges takes ten 100-byte packs, and usage shows what the grant counted', async () => {
    const store = new HostedStore(join(dir, 'hosted'), book, { floorBytes: 0, space: disk({ freeBytes: GIB, freeInodes: null }) });
    const grant = 10 * MIN_PACK_CHARGE_BYTES;
    let stored = 0;
    for (let i = 0; i < 600; i++) {
      const r = await tryReserve(store, FRIEND, grant, 100);
      if (typeof r !== 'function') {
        expect(r).toBe(WireError.quota);
        break;
      }
      await book.add(FRIEND, packId(i), 100);
      r();
      stored += 1;
    }
    expect(stored).toBe(10);
    expect(await book.bytes(FRIEND)).toBe(grant);
    expect(await book.usage(FRIEND)).toEqual({ chargedBytes: grant, packs: 10 });
  });

  it('packs per friend are capped, counting those in flight', async () => {
    expect(MAX_HOSTED_PACKS_PER_OWNER).toBeGreaterThan(0);
    const store = new HostedStore(join(dir, 'hosted'), book, { floorBytes: 0, maxPacksPerOwner: 5, space: disk({ freeBytes: GIB, freeInodes: null }) });
    for (let i = 0; i < 3; i++) await book.add(FRIEND, packId(i), MIB);
    const inFlight = [await tryReserve(store, FRIEND, GIB, MIB), await tryReserve(store, FRIEND, GIB, MIB)];
    expect(inFlight.every((r) => typeof r === 'function')).toBe(true);
    expect(await tryReserve(store, FRIEND, GIB, MIB)).toBe(WireError.quota);
    // another friend has a cap of its own
    expect(typeof (await tryReserve(store, '12D3KooWother', GIB, MIB))).toBe('function');
  });

  it('free inodes are kept above the floor, counting uploads in flight; a file system without inode counts is not limited', async () => {
    const store = new HostedStore(join(dir, 'hosted'), book, { floorBytes: 0, space: disk({ freeBytes: GIB, freeInodes: MIN_FREE_INODES + 5 }) });
    const outcomes = [];
    for (let i = 0; i < 7; i++) outcomes.push(await tryReserve(store, FRIEND, GIB, MIB));
    expect(outcomes.map((o) => (typeof o === 'function' ? 'ok' : o))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', WireError.diskFloor, WireError.diskFloor]);
    const uncounted = new HostedStore(join(dir, 'hosted'), book, { floorBytes: 0, space: disk({ freeBytes: GIB, freeInodes: null }) });
    for (let i = 0; i < 7; i++) expect(typeof (await tryReserve(uncounted, FRIEND, GIB, MIB))).toBe('function');
  });
});
