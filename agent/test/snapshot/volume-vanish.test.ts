// A live database creates and removes files while its volume is read through the mountpoint. A file
// that vanishes between listing and reading is skipped, a directory that vanishes before it is
// listed is kept empty, each with a warning naming it; the rest of the volume is backed up, and the
// backup does not fail.
import { link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { ArchiveProgress } from '../../src/snapshot/archiver.js';
import { mountpointEntries, VolumeTreeBuilder, type VolumeEntry } from '../../src/snapshot/volume-archiver.js';
import type { Stores } from '../../src/compose-root.js';
import type { Repository } from '../../src/repo/repository.js';
import { initStores } from '../helpers/stores.js';
import { loadTree } from '../../src/repo/trees.js';

describe('a volume changing under the mountpoint read', () => {
  let repo: Repository | undefined;
  let stores: Stores | undefined;
  afterAll(async () => stores?.close());

  test('a vanished file is skipped and a vanished directory kept empty, with warnings; the rest is kept', async () => {
    const work = await mkdtemp(join(tmpdir(), 'cairn-vanish-'));
    const vol = join(work, '_data');
    await mkdir(join(vol, 'base'), { recursive: true });
    await mkdir(join(vol, 'pg_stat_tmp'));
    await writeFile(join(vol, 'pg_stat_tmp', 'db.stat'), 'stats');
    await writeFile(join(vol, 'a-gone.tmp'), 'temporary');
    await link(join(vol, 'a-gone.tmp'), join(vol, 'b-link.tmp'));
    await writeFile(join(vol, 'base', 'table'), 'rows'.repeat(1000));
    await symlink('base/table', join(vol, 'c-sym'));
    await writeFile(join(vol, 'z-kept'), 'kept');
    stores = await initStores(join(work, 'home'), 'pw', new Date('2026-01-01T00:00:00Z'));
    repo = stores.repo;

    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);
    // delete each victim right after its entry was listed, before the builder or the walk reads it
    async function* racing(): AsyncGenerator<VolumeEntry> {
      for await (const e of mountpointEntries(vol, { warn })) {
        if (e.rel === 'a-gone.tmp') await rm(join(vol, 'a-gone.tmp'));
        if (e.rel === 'pg_stat_tmp') await rm(join(vol, 'pg_stat_tmp'), { recursive: true });
        yield e;
      }
    }
    const progress: ArchiveProgress = { filesDone: 0, bytesDone: 0, filesRead: 0, filesReused: 0, dirs: 0, addedBytes: 0, currentPath: '' };
    const builder = new VolumeTreeBuilder(repo, progress, warn, () => undefined);
    const root = await builder.build('_data', racing(), vol);
    await repo.flush();

    const names = (await loadTree(repo, root.subtree as string)).nodes.map((n) => n.name);
    // b-link.tmp is a plain file once its other name is gone, and is kept with its content
    expect(names).toEqual(['b-link.tmp', 'base', 'c-sym', 'pg_stat_tmp', 'z-kept']);
    const statDir = (await loadTree(repo, root.subtree as string)).nodes.find((n) => n.name === 'pg_stat_tmp');
    expect((await loadTree(repo, statDir?.subtree as string)).nodes).toEqual([]);
    expect(warnings).toEqual([
      `${join(vol, 'a-gone.tmp')}: vanished during backup`,
      `${join(vol, 'pg_stat_tmp')}: vanished during backup (kept as an empty directory)`,
    ]);
  });
});
