// The hosted-packs ledger's bytes held per friend (and the friends and deletes ledgers' rules), on a real LevelDB: the running totals (kept so a pack-put
// reservation does not scan every pack a friend has here) must always equal a fresh sum, across
// adds, overwrites, removals, concurrent writes, a second ledger on the same database, and a
// reopen of the database. Bytes are charged bytes: each pack at least MIN_PACK_CHARGE_BYTES.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MIN_PACK_CHARGE_BYTES, packChargeBytes } from '../../../protocol/mesh.js';
import { Friends, MAX_SEEN_FROM } from '../../src/mesh/friend-ledger.js';
import { HostedPacks } from '../../src/mesh/hosted-ledger.js';
import { openLedgers } from '../../src/mesh/ledgers.js';
import { openStateDb, type StateDb, type Sublevels } from '../../src/state/db.js';

const A = '12D3KooWalice';
const B = '12D3KooWbob';
const pack = (i: number) => i.toString(16).padStart(64, '0');

let dir: string;
let db: StateDb | undefined;

async function open(): Promise<Sublevels> {
  dir ??= await mkdtemp(join(tmpdir(), 'cairn-friendbook-'));
  const opened = await openStateDb(join(dir, 'state'));
  db = opened.db;
  return opened.sub;
}

/** What a scan of the database says, independent of any cached total: bytes charged and packs. */
async function scannedUsage(sub: Sublevels, peerId: string): Promise<{ chargedBytes: number; packs: number }> {
  let chargedBytes = 0;
  let packs = 0;
  for await (const v of sub.hosted.values({ gte: `${peerId}!`, lt: `${peerId}!~` })) {
    chargedBytes += packChargeBytes(Number(v));
    packs += 1;
  }
  return { chargedBytes, packs };
}

afterEach(async () => {
  await db?.close();
  db = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined as unknown as string;
});

describe('HostedPacks hosted bytes', () => {
  it('follows adds, overwrites and removals, per friend', async () => {
    const sub = await open();
    const book = new HostedPacks(sub);
    expect(await book.bytes(A)).toBe(0); // sums (nothing) and keeps the total from here on
    await book.add(A, pack(1), 100_000);
    await book.add(A, pack(2), 250_000);
    await book.add(B, pack(1), 7);
    expect(await book.bytes(A)).toBe(350_000);
    await book.add(A, pack(2), 300_000); // the same pack again, another size: replaced, not added
    expect(await book.bytes(A)).toBe(400_000);
    await book.remove(A, pack(1));
    await book.remove(A, pack(99)); // never held: no change
    expect(await book.bytes(A)).toBe(300_000);
    expect(await book.bytes(B)).toBe(MIN_PACK_CHARGE_BYTES); // 7 bytes, charged the minimum
    expect(await book.usage(A)).toEqual({ chargedBytes: 300_000, packs: 1 });
    expect(await book.usage(A)).toEqual(await scannedUsage(sub, A));
    expect(await book.usage(B)).toEqual(await scannedUsage(sub, B));
  });

  it('does not keep a first sum that a write raced', async () => {
    const sub = await open();
    const book = new HostedPacks(sub);
    // held before this process started: the first sum has many entries to read
    await sub.hosted.batch(Array.from({ length: 5000 }, (_, i) => ({ type: 'put' as const, key: `${A}!${pack(i)}`, value: '10' })));
    const sum = book.bytes(A);
    for (let i = 5000; i < 5050; i++) await book.add(A, pack(i), 1); // while the sum reads
    await sum;
    expect(await book.usage(A)).toEqual(await scannedUsage(sub, A));
  });

  it('stays exact when writes to the same pack race each other', async () => {
    const sub = await open();
    const book = new HostedPacks(sub);
    expect(await book.bytes(A)).toBe(0);
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 100; i++) {
      writes.push(book.add(A, pack(i % 7), 100 + i)); // the same few packs, other sizes
      if (i % 3 === 0) writes.push(book.remove(A, pack((i + 1) % 7)));
    }
    await Promise.all(writes);
    expect(await book.usage(A)).toEqual(await scannedUsage(sub, A));
  });

  it('is shared by every HostedPacks on the database and rebuilt after a reopen', async () => {
    let sub = await open();
    const one = new HostedPacks(sub);
    const two = new HostedPacks(sub); // as prune's book next to the mesh's
    expect(await one.bytes(A)).toBe(0);
    await two.add(A, pack(1), 100_000);
    expect(await one.bytes(A)).toBe(100_000);
    await db?.close();
    sub = await open();
    expect(await new HostedPacks(sub).bytes(A)).toBe(100_000);
  });
});

describe('Friends source IPs of a friend', () => {
  it('keeps the last MAX_SEEN_FROM distinct IPs, newest last, and nothing for a stranger', async () => {
    const sub = await open();
    const book = new Friends(sub);
    await book.put({ peerId: A, name: 'alice', addrs: [], grantToPeer: 0, grantFromPeer: 0, createdAt: '', lastSeen: null, shortfall: null, problems: [] });
    for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.1', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.5']) await book.sawFriendAt(A, ip);
    expect((await book.get(A))?.seenFrom).toEqual(['10.0.0.1', '10.0.0.3', '10.0.0.4', '10.0.0.5'].slice(-MAX_SEEN_FROM));
    await book.sawFriendAt(B, '10.0.0.9');
    expect(await book.get(B)).toBeUndefined();
  });
});

describe('Friends records kept in memory', () => {
  const friend = (name: string, grantToPeer = 0) => ({
    peerId: A,
    name,
    addrs: [],
    grantToPeer,
    grantFromPeer: 0,
    createdAt: '',
    lastSeen: null,
    shortfall: null,
    problems: [],
  });

  /** Counts the LevelDB reads of the friends sublevel. */
  function countReads(sub: Sublevels): () => number {
    let n = 0;
    const get = sub.friends.get.bind(sub.friends) as (k: string) => Promise<string | undefined>;
    (sub.friends as unknown as { get: (k: string) => Promise<string | undefined> }).get = (k: string) => {
      n++;
      return get(k);
    };
    return () => n;
  }

  it('reads a friend from the database once, however many streams ask, and a stranger every time', async () => {
    const sub = await open();
    const book = new Friends(sub);
    await book.put(friend('alice'));
    const reads = countReads(sub);
    for (let i = 0; i < 100; i++) expect((await book.get(A))?.name).toBe('alice');
    for (let i = 0; i < 3; i++) expect(await book.get(B)).toBeUndefined();
    expect(reads()).toBe(3);
  });

  it('gives each caller a copy of its own, and what the last write wrote, through every Friends on the database', async () => {
    const sub = await open();
    const one = new Friends(sub);
    const two = new Friends(sub);
    await one.put(friend('alice'));
    const mine = (await one.get(A))!;
    mine.name = 'changed by a caller';
    expect((await one.get(A))?.name).toBe('alice');
    await two.update(A, (f) => (f.grantToPeer = 5));
    expect((await one.get(A))?.grantToPeer).toBe(5);
    await two.remove(A);
    expect(await one.get(A)).toBeUndefined();
  });

  it('keeps nothing the database does not hold when reads and writes race', async () => {
    const sub = await open();
    const book = new Friends(sub);
    await book.put(friend('v0'));
    for (let round = 1; round <= 50; round++) {
      // reads started before, during and after writes; the writes themselves at once
      const reads = [book.get(A), book.put(friend(`a${round}`)), book.get(A), book.put(friend(`b${round}`)), book.get(A)];
      await Promise.all(reads);
      const stored = JSON.parse((await sub.friends.get(A))!) as { name: string };
      expect((await book.get(A))?.name).toBe(stored.name);
    }
  });

  it('does not keep what a read found when a write ended while it read', async () => {
    const sub = await open();
    // stored without the ledger, so nothing is cached: the next get reads the database
    await sub.friends.put(A, JSON.stringify(friend('old')));
    const book = new Friends(sub);
    const get = sub.friends.get.bind(sub.friends) as (k: string) => Promise<string | undefined>;
    let release!: () => void;
    const slowed = new Promise<void>((r) => (release = r));
    (sub.friends as unknown as { get: unknown }).get = async (k: string) => {
      const v = await get(k); // read before the write below lands
      await slowed;
      return v;
    };
    const reading = book.get(A);
    await book.put(friend('new'));
    release();
    expect((await reading)?.name).toBe('old');
    (sub.friends as unknown as { get: unknown }).get = get;
    expect((await book.get(A))?.name).toBe('new');
  });

  it('forgets a record whose write failed', async () => {
    const sub = await open();
    const book = new Friends(sub);
    await book.put(friend('before'));
    expect((await book.get(A))?.name).toBe('before');
    const put = sub.friends.put.bind(sub.friends);
    (sub.friends as unknown as { put: unknown }).put = () => Promise.reject(new Error('EIO: i/o error, write'));
    await expect(book.put(friend('lost'))).rejects.toThrow(/EIO/);
    (sub.friends as unknown as { put: unknown }).put = put;
    expect((await book.get(A))?.name).toBe('before');
  });
});

describe('Deletes pending deletions', () => {
  afterEach(async () => {
    await db?.close();
    db = undefined;
  });

  it('a repeated delete request does not postpone a pending deletion', async () => {
    const book = openLedgers(await open()).deletes;
    await book.addPendingDeletions(A, [pack(1)], 1_000, 1);
    // the owner's audit asks again each round while we still list the pack during its grace
    await book.addPendingDeletions(A, [pack(1), pack(2)], 5_000, 2);
    const due = new Map((await book.pendingDeletions()).map((d) => [d.packId, d.dueMs]));
    expect(due.get(pack(1))).toBe(1_000);
    expect(due.get(pack(2))).toBe(5_000);
  });
});
