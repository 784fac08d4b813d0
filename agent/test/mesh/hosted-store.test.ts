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
import { FriendBook } from '../../src/mesh/friends.js';
import { HostedStore } from '../../src/mesh/hosted-store.js';
import { openStateDb, type StateDb } from '../../src/state/db.js';

const FRIEND = '12D3KooWfriend';
const packId = (i: number) => i.toString(16).padStart(64, '0');

let dir: string;
let db: StateDb;
let book: FriendBook;
let hosted: HostedStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-hosted-'));
  const opened = await openStateDb(join(dir, 'state'));
  db = opened.db;
  book = new FriendBook(opened.sub);
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
