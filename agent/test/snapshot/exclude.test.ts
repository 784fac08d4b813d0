// Exclude patterns on a real tree, backed up into a real repository and listed back from the snapshot.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { backupOp } from '../../src/ops/backup.js';
import { lsOp } from '../../src/ops/browse.js';
import type { Services } from '../../src/ops/services.js';
import type { Stores } from '../../src/compose-root.js';
import type { Repository } from '../../src/repo/repository.js';
import { initStores } from '../helpers/stores.js';
import { systemClock } from '../../src/util/clock.js';

describe('archiver excludes', () => {
  let stores: Stores | undefined;
  afterAll(async () => stores?.close());

  test('names, directories only, absolute paths, paths with a slash inside; nothing else is lost', async () => {
    const work = await mkdtemp(join(tmpdir(), 'cairn-exclude-'));
    const home = join(work, 'home');
    const data = join(work, 'data');
    const files: Record<string, string> = {
      'keep.txt': 'k',
      'scratch.tmp': 'x', // *.tmp
      'sub/deep/also.tmp': 'x', // *.tmp at depth
      'sub/deep/keep.tmpl': 'k', // not *.tmp
      'cache/big.bin': 'x', // cache/ (a directory)
      'sub/cache/nested.bin': 'x', // cache/ at depth
      'notes/cache': 'k', // a FILE named cache: "cache/" matches directories only
      'private/secret.txt': 'x', // /abs/private
      'other/private/kept.txt': 'k', // the absolute pattern names only data/private
      'logs/old.gz': 'x', // logs/*.gz
      'app/logs/older.gz': 'x', // logs/*.gz at depth
      'logs/today.log': 'k',
      'gz/keep.gz': 'k',
    };
    for (const [rel, body] of Object.entries(files)) {
      await mkdir(join(data, rel, '..'), { recursive: true });
      await writeFile(join(data, rel), body);
    }
    stores = await initStores(home, 'pw', new Date('2026-01-01T00:00:00Z'));
    const repo: Repository = stores.repo;
    const svc: Services = { home, repo, ledgers: stores.ledgers, clock: systemClock };
    const r = await backupOp(svc, { paths: [data], tags: [], exclude: ['*.tmp', 'cache/', `${data}/private`, 'logs/*.gz'] });
    const listed = new Set((await lsOp(svc, { snapshot: r.id })).filter((e) => e.type === 'file').map((e) => e.path.slice(data.length + 1)));
    const expected = Object.entries(files)
      .filter(([, body]) => body === 'k')
      .map(([rel]) => rel)
      .sort();
    expect([...listed].sort()).toEqual(expected);
    // the excluded directories are absent too, not just their files
    const dirs = (await lsOp(svc, { snapshot: r.id })).filter((e) => e.type === 'dir').map((e) => e.path.slice(data.length + 1));
    expect(dirs).not.toContain('cache');
    expect(dirs).not.toContain('sub/cache');
    expect(dirs).not.toContain('private');
    expect(dirs).toContain('other/private');
    expect(r.files).toBe(expected.length);

    // without excludes, everything is there (the patterns, not the tree, made the difference)
    const all = await backupOp(svc, { paths: [data], tags: [] });
    expect(all.files).toBe(Object.keys(files).length);
  });
});
