// The audit's sweep for packs a friend holds that our index no longer names (mesh/orphan-packs.ts),
// on a real repository made by a real backup: such packs get a delete request queued, indexed
// ones never do, and nothing is queued while our index lacks a blob our snapshots need.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { Ledgers } from '../../src/mesh/ledgers.js';
import { ORPHAN_REASK_MS, queueOrphanDeletes } from '../../src/mesh/orphan-packs.js';
import { backupOp } from '../../src/ops/backup.js';
import type { Stores } from '../../src/compose-root.js';
import type { Repository } from '../../src/repo/repository.js';
import { initStores } from '../helpers/stores.js';
import { systemClock } from '../../src/util/clock.js';

let open: Stores[] = [];
afterEach(async () => {
  for (const r of open) await r.close();
  open = [];
});

const FRIEND = '12D3KooWFriendFriendFriendFriendFriendFriendFriend';
const unknownPack = (c: string) => c.repeat(64);

async function backedUp(): Promise<{ repo: Repository; book: Ledgers; snapshotId: string; packs: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-orphans-'));
  const src = join(dir, 'src');
  await mkdir(src);
  for (let i = 0; i < 5; i++) await writeFile(join(src, `f${i}`), `file ${i} `.repeat(1000));
  const stores = await initStores(join(dir, 'home'), 'pw', new Date('2026-01-01T00:00:00Z'));
  open.push(stores);
  const { repo, ledgers } = stores;
  const { id } = await backupOp({ home: join(dir, 'home'), repo, clock: systemClock }, { paths: [src], tags: [] });
  const packs = [...new Set([...repo.index.all()].map(([, e]) => e.packId))].sort();
  return { repo, book: ledgers, snapshotId: id, packs };
}

describe('queueOrphanDeletes', () => {
  test('queues the packs our index does not name, once, and never an indexed one', async () => {
    const { repo, book, packs } = await backedUp();
    expect(packs.length).toBeGreaterThan(0);
    const held = new Set([...packs, unknownPack('a'), unknownPack('b')]);
    const t0 = Date.parse('2026-03-01T00:00:00Z');
    expect(await queueOrphanDeletes(book, repo, FRIEND, held, t0)).toEqual({ queued: 2 });
    expect([...((await book.deletes.outbox()).get(FRIEND)?.keys() ?? [])].sort()).toEqual([unknownPack('a'), unknownPack('b')]);
    // already queued: not again
    expect(await queueOrphanDeletes(book, repo, FRIEND, held, t0 + 1000)).toEqual({ queued: 0 });
    // sent and accepted: the friend still lists them through its grace; asked again only a day later
    await book.deletes.deletesAccepted(FRIEND, [unknownPack('a'), unknownPack('b')]);
    expect(await queueOrphanDeletes(book, repo, FRIEND, held, t0 + ORPHAN_REASK_MS - 1)).toEqual({ queued: 0 });
    expect(await queueOrphanDeletes(book, repo, FRIEND, held, t0 + ORPHAN_REASK_MS)).toEqual({ queued: 2 });
    // once the friend no longer lists a pack, the record of having asked goes too
    await queueOrphanDeletes(book, repo, FRIEND, new Set(packs), t0 + 2 * ORPHAN_REASK_MS);
    expect((await book.deletes.deletesAsked(FRIEND)).size).toBe(0);
  });

  test('queues nothing while the index lacks a blob a snapshot needs (a recovery that missed a pack header)', async () => {
    const { repo, book, snapshotId } = await backedUp();
    const snapshot = (await repo.listSnapshots()).find((s) => s.id === snapshotId)?.snapshot;
    await repo.forgetBlobs([snapshot?.tree as string]);
    const r = await queueOrphanDeletes(book, repo, FRIEND, new Set([unknownPack('c')]), Date.parse('2026-03-01T00:00:00Z'));
    expect(r.queued).toBe(0);
    expect(r.problem).toMatch(/^holds 1 packs our index does not name, kept there because our index is incomplete/);
    expect((await book.deletes.outbox()).get(FRIEND)).toBeUndefined();
  });
});
