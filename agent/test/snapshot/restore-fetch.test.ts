// The restorer plans its own pack fetches (issue 17 item 3, restic's filerestorer): it fetches ahead
// exactly the packs of what it restores (its includes and excludes), in the order it reads them,
// the ones it is told to get first before them, and waits for the fetches before it returns. A
// real repository; the friends are a recording stand-in for the mesh reader.
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backupOp } from '../../src/ops/backup.js';
import type { Stores } from '../../src/compose-root.js';
import type { Repository } from '../../src/repo/repository.js';
import { initStores } from '../helpers/stores.js';
import type { PackPrefetcher } from '../../src/snapshot/restore-fetch.js';
import { Restorer } from '../../src/snapshot/restorer.js';
import { findNode } from '../../src/snapshot/tree-walk.js';
import { systemClock } from '../../src/util/clock.js';

describe('a restore fetches ahead the packs it will read', () => {
  let work = '';
  let repo: Repository;
  let stores: Stores | undefined;
  let tree = '';
  /** The snapshot's path of the source directory, relative to its root tree. */
  let base = '';
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cairn-restore-fetch-'));
    const home = join(work, 'home');
    stores = await initStores(home, 'pw', new Date('2026-01-01T00:00:00Z'));
    repo = stores.repo;
    const svc = { home, repo, ledgers: stores.ledgers, clock: systemClock };
    const src = join(work, 'src');
    mkdirSync(join(src, 'a'), { recursive: true });
    writeFileSync(join(src, 'a', 'one'), 'in a\n'.repeat(1000));
    // a's content goes into packs of its own backup; b's, added later, into new ones
    await backupOp(svc, { paths: [join(src, 'a')], tags: [] });
    mkdirSync(join(src, 'b'));
    writeFileSync(join(src, 'b', 'two'), 'in b\n'.repeat(1000));
    const r = await backupOp(svc, { paths: [src], tags: [] });
    tree = (await repo.resolveSnapshot(r.id)).snapshot.tree;
    base = src.slice(1);
  });
  afterAll(async () => {
    await stores?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const packsOf = async (rel: string) => {
    const node = await findNode(repo, tree, `${base}/${rel}`);
    return [...new Set((node?.content ?? []).map((id) => repo.index.get(id)?.packId as string))];
  };

  const restoreWith = async (target: string, includes: string[], exclude?: (rel: string) => boolean) => {
    const asked: Array<{ packs: string[]; concurrency: number }> = [];
    const from: PackPrefetcher = {
      prefetch: async (packs, concurrency) => {
        asked.push({ packs, concurrency });
        return ['pack ff: no friend has it'];
      },
    };
    const first = 'f'.repeat(64);
    const restorer = new Restorer(repo, {
      target: join(work, target),
      includes,
      overwrite: false,
      fetchAhead: { from, concurrency: 3, first: [first] },
      ...(exclude ? { exclude: (rel: string) => exclude(rel) } : {}),
    });
    await restorer.run(tree);
    return { asked, first, fetchErrors: restorer.fetchErrors };
  };

  test('all of it: every data pack once, in reading order, after the ones asked for first', async () => {
    const [a, b] = [await packsOf('a/one'), await packsOf('b/two')];
    expect(a.length).toBeGreaterThan(0);
    expect(b.length).toBeGreaterThan(0);
    expect(a.some((p) => b.includes(p))).toBe(false);
    const { asked, first, fetchErrors } = await restoreWith('all', []);
    expect(asked).toEqual([{ packs: [first, ...a, ...b], concurrency: 3 }]);
    // what could not be fetched is the restore's to report
    expect(fetchErrors).toEqual(['pack ff: no friend has it']);
  });

  test('a part of it: only the packs of the entries it restores (includes, excludes)', async () => {
    const [a, b] = [await packsOf('a/one'), await packsOf('b/two')];
    const included = await restoreWith('b-only', [`${base}/b`]);
    expect(included.asked).toEqual([{ packs: [included.first, ...b], concurrency: 3 }]);
    const excluded = await restoreWith('not-b', [], (rel) => rel === `${base}/b`);
    expect(excluded.asked).toEqual([{ packs: [excluded.first, ...a], concurrency: 3 }]);
  });
});
