// The storage-challenge ledger and the challenger's bookkeeping around it, on a real LevelDB
// (reopened, as after a kill): a failure recorded while its copy still counted (an agent killed
// between the two writes) drops the copy at the next round; failures are cleared only once the
// pack has its copies again or is gone from the index; forgetting a friend forgets its records.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Challenger } from '../../src/mesh/challenger.js';
import type { MeshContext } from '../../src/mesh/context.js';
import type { Friendship } from '../../src/mesh/friend-ledger.js';
import { openLedgers, forgetFriend, type Ledgers } from '../../src/mesh/ledgers.js';
import type { Repository } from '../../src/repo/repository.js';
import { openStateDb, type StateDb } from '../../src/state/db.js';

const BOB = '12D3KooWbob';
const CAROL = '12D3KooWcarol';
const pack = (i: number) => i.toString(16).padStart(64, '0');
const friend = (peerId: string): Friendship => ({
  peerId,
  name: peerId.slice(8),
  addrs: [],
  grantToPeer: 1,
  grantFromPeer: 1,
  createdAt: '',
  lastSeen: null,
  shortfall: null,
  problems: [],
});

let dir: string | undefined;
let db: StateDb | undefined;

async function open(): Promise<{ ledgers: Ledgers; challenger: Challenger }> {
  dir ??= await mkdtemp(join(tmpdir(), 'cairn-challenge-ledger-'));
  const opened = await openStateDb(join(dir, 'state'));
  db = opened.db;
  const ledgers = openLedgers(opened.sub);
  const ctx = { ...ledgers, clock: { now: () => 1000 } } as unknown as MeshContext;
  const repo = { paths: { home: dir } } as unknown as Repository;
  return { ledgers, challenger: new Challenger(ctx, repo, { periodMs: 86_400_000, dailyShare: 0.01 }) };
}

afterEach(async () => {
  await db?.close();
  db = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('challenge bookkeeping across a kill', () => {
  it('a failure recorded while its copy still counts (killed between the writes) drops the copy at the next round; the failure stays', async () => {
    let { ledgers, challenger } = await open();
    await ledgers.copies.add(pack(1), BOB, 100);
    await ledgers.copies.add(pack(2), BOB, 100);
    await ledgers.challenges.failed({ packId: pack(1), peerId: BOB, atMs: 5, reason: 'wrong answer' });
    // the agent dies here, before the copy stops counting; it starts again
    await db?.close();
    ({ ledgers, challenger } = await open());
    expect(await challenger.reconcile([friend(BOB)], await ledgers.copies.map())).toBe(true);
    expect(await ledgers.copies.holders(pack(1))).toEqual([]);
    expect(await ledgers.copies.holders(pack(2))).toEqual([BOB]);
    expect(await ledgers.challenges.failures()).toEqual([{ packId: pack(1), peerId: BOB, atMs: 5, reason: 'wrong answer' }]);
    // nothing more to do the next time
    expect(await challenger.reconcile([friend(BOB)], await ledgers.copies.map())).toBe(false);
  });

  it('a failure at a friend no longer ours is forgotten', async () => {
    const { ledgers, challenger } = await open();
    await ledgers.challenges.failed({ packId: pack(1), peerId: CAROL, atMs: 5, reason: 'x' });
    await challenger.reconcile([friend(BOB)], await ledgers.copies.map());
    expect(await ledgers.challenges.failures()).toEqual([]);
  });

  it('a failure is cleared only once its pack has its copies again, is held there again, or left the index', async () => {
    const { ledgers, challenger } = await open();
    for (const i of [1, 2, 3, 4]) await ledgers.challenges.failed({ packId: pack(i), peerId: BOB, atMs: 5, reason: 'x' });
    const byPack = new Map([
      [pack(1), new Set([CAROL])], // has its 1 wanted copy elsewhere
      [pack(2), new Set<string>()], // no copy yet: still at risk
      [pack(3), new Set([BOB])], // bob took it anew
    ]);
    await challenger.clearRepaired(new Set([pack(1), pack(2), pack(3)]), byPack, 1); // pack 4 was pruned
    expect((await ledgers.challenges.failures()).map((f) => f.packId)).toEqual([pack(2)]);
    await challenger.clearRepaired(new Set([pack(2)]), new Map([[pack(2), new Set([CAROL])]]), 2); // 1 of 2 copies: still at risk
    expect((await ledgers.challenges.failures()).map((f) => f.packId)).toEqual([pack(2)]);
  });

  it('forgetting a friend forgets its passes, failures and budget, and only its', async () => {
    const { ledgers } = await open();
    for (const p of [BOB, CAROL]) {
      await ledgers.friends.put(friend(p));
      await ledgers.challenges.passed(p, pack(1), 7);
      await ledgers.challenges.failed({ packId: pack(2), peerId: p, atMs: 5, reason: 'x' });
      await ledgers.challenges.setBudget(p, { tokens: 3, atMs: 4 });
    }
    await forgetFriend(ledgers, BOB);
    expect(await ledgers.challenges.lastPassed(BOB)).toEqual(new Map());
    expect(await ledgers.challenges.budget(BOB)).toBeUndefined();
    expect(await ledgers.challenges.lastPassed(CAROL)).toEqual(new Map([[pack(1), 7]]));
    expect((await ledgers.challenges.failures()).map((f) => f.peerId)).toEqual([CAROL]);
    expect(await ledgers.challenges.budget(CAROL)).toEqual({ tokens: 3, atMs: 4 });
  });
});
