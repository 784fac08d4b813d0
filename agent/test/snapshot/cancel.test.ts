// Cancelling a backup or a restore (the job's AbortSignal) on a real repository and real files: a
// cancelled backup commits no snapshot, the packs it had already written stay indexed and the next
// backup stores only the rest; a cancelled restore stops and leaves no file cut short under its name.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Stores } from '../../src/compose-root.js';
import type { Repository } from '../../src/repo/repository.js';
import { initStores } from '../helpers/stores.js';
import { Archiver } from '../../src/snapshot/archiver.js';
import { Restorer } from '../../src/snapshot/restorer.js';
import { systemClock } from '../../src/util/clock.js';
import { CancelledError } from '../../src/util/errors.js';

const MIB = 1024 * 1024;
const FILES = 48;

/** Aborts `c` once `reached()` holds, checked on every turn of the event loop (the engine awaits its workers between chunks). */
function abortWhen(reached: () => boolean, c: AbortController): () => void {
  let stop = false;
  const tick = () => {
    if (stop) return;
    if (reached()) c.abort(new CancelledError('cancelled by the test'));
    else setImmediate(tick);
  };
  setImmediate(tick);
  return () => (stop = true);
}

describe('cancel', () => {
  let work: string;
  let src: string;
  let repo: Repository;
  let stores: Stores | undefined;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cairn-cancel-'));
    src = join(work, 'src');
    await mkdir(src);
    // incompressible, so packs fill (PACK_TARGET_BYTES 16 MiB) while the backup runs
    for (let i = 0; i < FILES; i++) await writeFile(join(src, `f${String(i).padStart(2, '0')}.bin`), randomBytes(MIB));
    stores = await initStores(join(work, 'home'), 'pw', new Date('2026-01-01T00:00:00Z'));
    repo = stores.repo;
  });
  afterAll(async () => {
    await stores?.close();
    await rm(work, { recursive: true, force: true });
  });

  test('a cancelled backup commits no snapshot; what it stored stays, and the next backup adds only the rest', async () => {
    const c = new AbortController();
    const archiver = new Archiver(repo, { paths: [src], tags: [], clock: systemClock, signal: c.signal });
    const stop = abortWhen(() => archiver.progress.bytesDone >= 36 * MIB, c);
    const run = repo.writeLock.with(1, () => archiver.run());
    await expect(run).rejects.toBeInstanceOf(CancelledError);
    stop();
    expect(await repo.listSnapshots()).toHaveLength(0);
    const kept = repo.index.size;
    expect(kept).toBeGreaterThan(0); // whole packs were written and indexed before the cancel

    const again = await repo.writeLock.with(1, () => new Archiver(repo, { paths: [src], tags: [], clock: systemClock }).run());
    expect(await repo.listSnapshots()).toHaveLength(1);
    expect(again.snapshot.summary.files).toBe(FILES);
    expect(again.snapshot.summary.addedBytes).toBeLessThan(FILES * MIB - 15 * MIB); // at least a pack's worth was reused
  });

  test('a cancelled restore stops, and every file it left in the target is whole', async () => {
    const [only] = await repo.listSnapshots();
    const target = join(work, 'restored');
    const c = new AbortController();
    const restorer = new Restorer(repo, { target, includes: [], overwrite: false, signal: c.signal });
    const stop = abortWhen(() => restorer.progress.bytesDone >= 8 * MIB, c);
    await expect(restorer.run(only!.snapshot.tree)).rejects.toBeInstanceOf(CancelledError);
    stop();
    const left = (await readdir(join(target, src))).filter((n) => n.endsWith('.bin'));
    expect(left.length).toBeLessThan(FILES);
    for (const name of left) expect((await readFile(join(target, src, name))).equals(await readFile(join(src, name))), name).toBe(true);
    expect((await readdir(join(target, src))).filter((n) => n.startsWith('.cairn-restore-'))).toEqual([]);
  });
});
