// SPEC 7, the parent rule: a configured source's parent is its own latest snapshot, whatever its
// paths; an ad-hoc backup's parent is the latest snapshot without a source and with the same paths.
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { backupOp } from '../../src/ops/backup.js';
import type { Services } from '../../src/ops/services.js';
import type { Stores } from '../../src/compose-root.js';
import type { Repository } from '../../src/repo/repository.js';
import { initStores } from '../helpers/stores.js';
import { systemClock } from '../../src/util/clock.js';

describe('the parent of a snapshot (SPEC 7)', () => {
  let work = '';
  let repo: Repository | undefined;
  let stores: Stores | undefined;
  afterAll(async () => {
    await stores?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('configured sources reuse their own files; ad-hoc backups of the same paths chain among themselves', async () => {
    work = await mkdtemp(join(tmpdir(), 'cairn-parent-'));
    const home = join(work, 'home');
    stores = await initStores(home, 'pw', new Date('2026-01-01T00:00:00Z'));
    repo = stores.repo;
    const svc: Services = { home, repo, ledgers: stores.ledgers, clock: systemClock };
    const src = join(work, 'src');
    mkdirSync(src);
    for (let i = 0; i < 5; i++) writeFileSync(join(src, `f${i}`), `file ${i}`);

    const s1 = await backupOp(svc, { paths: [src], tags: [], source: 'docs' });
    expect(s1.parent).toBeNull();
    const s2 = await backupOp(svc, { paths: [src], tags: [], source: 'docs' });
    expect(s2.parent).toBe(s1.id);
    expect(s2.filesReused).toBe(5);
    expect(s2.filesRead).toBe(0);
    // an ad-hoc backup of the very same paths is not a run of the source: no parent
    const a1 = await backupOp(svc, { paths: [src], tags: [] });
    expect(a1.parent).toBeNull();
    const a2 = await backupOp(svc, { paths: [src], tags: [] });
    expect(a2.parent).toBe(a1.id);
    // another source over the same paths starts its own chain
    const o1 = await backupOp(svc, { paths: [src], tags: [], source: 'other' });
    expect(o1.parent).toBeNull();
    // and the stored snapshot has no `parent` key at all when there is none (never null)
    const { snapshot } = await repo.resolveSnapshot(o1.id);
    expect('parent' in snapshot).toBe(false);
    expect(snapshot.source).toBe('other');
  });
});
