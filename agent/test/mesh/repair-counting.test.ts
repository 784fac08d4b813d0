// Which copies count in a round and which are released (mesh/repair.ts), on the real ledgers in a
// real LevelDB: a friend marked away counts for nothing, a copy queued for deletion does not count,
// a friend whose grant shrank has its largest copies moved first, and after the pushes surplus
// copies go at the friend with the least room while over-grant copies go only once their pack has
// its copies elsewhere.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { Friendship } from '../../src/mesh/friend-ledger.js';
import { openLedgers, type Ledgers } from '../../src/mesh/ledgers.js';
import { countingCopies, releaseExtras } from '../../src/mesh/repair.js';
import { openStateDb, type StateDb } from '../../src/state/db.js';

const MIB = 1024 * 1024;
const friend = (peerId: string, grantFromPeer: number, over: Partial<Friendship> = {}): Friendship => ({
  peerId,
  name: peerId,
  addrs: [],
  grantToPeer: 0,
  grantFromPeer,
  createdAt: '',
  lastSeen: null,
  shortfall: null,
  problems: [],
  ...over,
});
const pack = (c: string) => c.repeat(64);

let dir: string | undefined;
let db: StateDb | undefined;
async function ledgers(): Promise<Ledgers> {
  dir = await mkdtemp(join(tmpdir(), 'cairn-repair-counting-'));
  const opened = await openStateDb(join(dir, 'state'));
  db = opened.db;
  return openLedgers(opened.sub);
}
afterEach(async () => {
  await db?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  db = dir = undefined;
});

describe('counting copies for repair', () => {
  test('away friends, copies queued for deletion and copies beyond a shrunk grant do not count', async () => {
    const l = await ledgers();
    const [a, b, c] = [pack('a'), pack('b'), pack('c')];
    for (const p of [a, b, c]) await l.copies.add(p, 'bob', 10 * MIB);
    await l.copies.add(a, 'away', 10 * MIB);
    await l.copies.add(c, 'carol', 2 * MIB);
    await l.copies.add(b, 'carol', 4 * MIB);
    await l.deletes.queueDeletesAt('bob', new Map([[a, 10 * MIB]]), 0);
    // carol now grants 3 MiB: her larger copy (b, 4 MiB) is moved first; c (2 MiB) then fits
    const friends = [friend('bob', 1024 * MIB), friend('away', 1024 * MIB, { awaySince: '2026-01-01T00:00:00Z' }), friend('carol', 3 * MIB)];
    const plan = await countingCopies(l, friends, await l.copies.map());
    expect([...(plan.byPack.get(a) ?? [])]).toEqual([]); // bob's is leaving, the away friend's does not count
    expect([...(plan.byPack.get(b) ?? [])]).toEqual(['bob']);
    expect([...(plan.byPack.get(c) ?? [])].sort()).toEqual(['bob', 'carol']);
    expect([...plan.overGrant]).toEqual([`${b}!carol`]);
  });

  test('after the pushes: surplus released at the friend with least room; an over-grant copy only once its pack has its copies elsewhere', async () => {
    const l = await ledgers();
    const [a, b, c] = [pack('a'), pack('b'), pack('c')];
    await l.copies.add(a, 'bob', MIB);
    await l.copies.add(a, 'carol', MIB);
    await l.copies.add(b, 'carol', 8 * MIB);
    await l.copies.add(c, 'carol', 8 * MIB);
    await l.copies.add(c, 'bob', 8 * MIB);
    const friends = [friend('bob', 1024 * MIB), friend('carol', 4 * MIB)];
    const counted = await l.copies.map();
    const plan = await countingCopies(l, friends, counted);
    // carol holds 17 MiB of a 4 MiB grant: b and c (the largest, in ID order) do not count there, a fits
    expect([...plan.overGrant].sort()).toEqual([`${b}!carol`, `${c}!carol`]);
    const clock = { now: () => 5000 };
    const released = await releaseExtras({ deletes: l.deletes, clock }, friends, plan, new Set([a, b, c]), counted, 1);
    // a: counted at both, one wanted -> carol's (least room) goes; c: counted at bob, carol's
    // over-grant copy goes; b: nowhere else yet -> carol keeps it
    expect(released).toBe(2);
    expect([...((await l.deletes.outbox()).get('carol')?.keys() ?? [])].sort()).toEqual([a, c].sort());
    expect((await l.deletes.outbox()).get('bob')).toBeUndefined();
  });

  test('a release called off when the copy is pushed again', async () => {
    const l = await ledgers();
    await l.deletes.queueDeletesAt('bob', new Map([[pack('d'), MIB]]), 0);
    await l.deletes.unqueue('bob', pack('d'));
    expect((await l.deletes.outbox()).size).toBe(0);
    expect((await l.deletes.deletesAsked('bob')).size).toBe(0);
  });
});
