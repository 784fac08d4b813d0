// Symlink races against backup and restore (SPEC 9.3), with a real repository and real files.
// A child process swaps entries of the tree being read or written for symlinks to an outside
// directory, back and forth, thousands of times, while backups and restores run over and over:
// no byte of the outside secret may ever land in a snapshot, and nothing outside the restore
// target may change (names, contents, modes, owners, times of an outside canary directory).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { backupOp } from '../../src/ops/backup.js';
import { restoreOp } from '../../src/ops/restore.js';
import type { Services } from '../../src/ops/services.js';
import { BlobType } from '../../src/repo/blob.js';
import type { Stores } from '../../src/compose-root.js';
import { initStores } from '../helpers/stores.js';
import type { ArchiveProgress } from '../../src/snapshot/archiver.js';
import { walkTree } from '../../src/snapshot/tree-walk.js';
import { mountpointEntries, VolumeTreeBuilder } from '../../src/snapshot/volume-archiver.js';
import { systemClock } from '../../src/util/clock.js';

/** Swaps each racing entry of this many at least. */
const MIN_SWAPS = 2000;
/**
 * Bounds on the backup (restore) runs while the swapper works: at least MIN_RUNS, then on until
 * the swapper has done MIN_SWAPS, for at most RACE_MS (a busy machine slows the swapper, so the
 * bound is time, not a run count).
 */
const MIN_RUNS = 8;
const RACE_MS = 200_000;
/** True while another run is wanted. */
const racing = (run: number, swapper: Swapper, started: number) => run < MIN_RUNS || (swapper.swaps() < MIN_SWAPS && performance.now() - started < RACE_MS);
const FILES = 12;
const DIRS = 4;

/**
 * The swapper: turns `dir/fNN` into a symlink to `outside/fNN` and back, and `dir/dN` into a
 * symlink to `outside` and back (staging what is not in place under `stage`), until it has done
 * `max` swaps or stdin closes. Prints its swap count now and then. Errors (ENOENT while the
 * archiver or restorer replaced an entry) are ignored: the next round puts things back.
 */
const SWAPPER = `
const fs = require('node:fs');
const [dir, stage, outside, files, dirs, max] = process.argv.slice(1);
let swaps = 0, stop = false;
process.stdin.on('end', () => { stop = true; }); process.stdin.resume();
const tryIt = (f) => { try { f(); } catch {} };
let phase = 0;
function round() {
  // even rounds put the symlinks in, odd rounds the real entries back: each state lasts a round
  const links = phase++ % 2 === 0;
  for (let i = 0; i < Number(files); i++) {
    const n = 'f' + String(i).padStart(2, '0');
    if (links) tryIt(() => { fs.rmSync(stage + '/' + n + '.l', { force: true }); fs.symlinkSync(outside + '/' + n, stage + '/' + n + '.l'); fs.renameSync(stage + '/' + n + '.l', dir + '/' + n); });
    else tryIt(() => { fs.writeFileSync(stage + '/' + n + '.f', 'innocent ' + n); fs.renameSync(stage + '/' + n + '.f', dir + '/' + n); });
    swaps += 1;
  }
  for (let i = 0; i < Number(dirs); i++) {
    const n = 'd' + i;
    if (links) {
      tryIt(() => fs.renameSync(dir + '/' + n, stage + '/' + n + '.d'));
      tryIt(() => { fs.rmSync(stage + '/' + n + '.l', { force: true }); fs.symlinkSync(outside, stage + '/' + n + '.l'); fs.renameSync(stage + '/' + n + '.l', dir + '/' + n); });
    } else {
      tryIt(() => { const st = fs.lstatSync(dir + '/' + n); if (st.isSymbolicLink()) fs.unlinkSync(dir + '/' + n); });
      tryIt(() => fs.mkdirSync(stage + '/' + n + '.d', { recursive: true }));
      tryIt(() => fs.renameSync(stage + '/' + n + '.d', dir + '/' + n));
    }
    swaps += 1;
  }
  if (phase % 8 === 0) process.stdout.write(swaps + '\\n');
  if (!stop && swaps < Number(max)) setImmediate(round); else { process.stdout.write(swaps + '\\n'); process.exit(0); }
}
round();
`;

/**
 * Lets the event loop reach its poll phase, where the swapper's progress lines are read: a run on
 * a small tree can finish in microtasks alone, and back-to-back runs would then never see them.
 */
const pollPhase = () => new Promise<void>((r) => setImmediate(r));

interface Swapper {
  child: ChildProcess;
  swaps: () => number;
  stop: () => Promise<number>;
}

function startSwapper(dir: string, stage: string, outside: string): Swapper {
  const child = spawn(process.execPath, ['-e', SWAPPER, dir, stage, outside, String(FILES), String(DIRS), String(MIN_SWAPS * 100)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let last = 0;
  child.stdout?.on('data', (d: Buffer) => {
    const lines = d.toString().trim().split('\n');
    last = Number(lines.at(-1)) || last;
  });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  return {
    child,
    swaps: () => last,
    stop: async () => {
      child.stdin?.end();
      await exited;
      return last;
    },
  };
}

/** Everything about a directory tree that a stray write would change: names, types, modes, owners, times, contents. */
function fingerprint(root: string): string {
  const out: string[] = [];
  const visit = (p: string) => {
    const st = lstatSync(p, { bigint: true });
    const body = st.isFile() ? createHash('sha256').update(readFileSync(p)).digest('hex') : '';
    out.push(`${relative(root, p)} ${st.mode} ${st.uid} ${st.gid} ${st.mtimeNs} ${st.size} ${st.ino} ${body}`);
    if (st.isDirectory()) for (const n of readdirSync(p).sort()) visit(join(p, n));
  };
  visit(root);
  return out.join('\n');
}

/** An outside directory holding a secret under every name the race may point at. */
function makeOutside(dir: string, secret: string): void {
  mkdirSync(dir, { mode: 0o700 });
  for (let i = 0; i < FILES; i++) writeFileSync(join(dir, `f${String(i).padStart(2, '0')}`), secret, { mode: 0o600 });
  for (let i = 0; i < 4; i++) writeFileSync(join(dir, `g${i}`), secret, { mode: 0o600 });
}

/** The racing tree: files fNN, directories dN each with files gN. */
function makeTree(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < FILES; i++) writeFileSync(join(dir, `f${String(i).padStart(2, '0')}`), `innocent f${i}`, { mode: 0o644 });
  for (let d = 0; d < DIRS; d++) {
    mkdirSync(join(dir, `d${d}`));
    for (let i = 0; i < 4; i++) writeFileSync(join(dir, `d${d}`, `g${i}`), `innocent g${i}`, { mode: 0o666 });
  }
}

describe('symlink races', () => {
  const repos: Stores[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    for (const r of repos) await r.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  async function setup(prefix: string) {
    const work = await mkdtemp(join(tmpdir(), prefix));
    dirs.push(work);
    const home = join(work, 'home');
    const stores = await initStores(home, 'pw', new Date('2026-01-01T00:00:00Z'));
    repos.push(stores);
    const { repo, ledgers } = stores;
    const svc: Services = { home, repo, ledgers, clock: systemClock };
    mkdirSync(join(work, 'stage'));
    return { work, svc, repo };
  }

  test(`backup never stores what a symlink swapped in points to (${MIN_SWAPS}+ swaps)`, async () => {
    const { work, svc, repo } = await setup('cairn-race-backup-');
    const secret = `SECRET-${randomBytes(16).toString('hex')}`;
    makeOutside(join(work, 'outside'), secret);
    const src = join(work, 'src');
    makeTree(src);
    const swapper = startSwapper(src, join(work, 'stage'), join(work, 'outside'));
    const ids: string[] = [];
    const failures: string[] = [];
    let swaps = 0;
    try {
      for (let run = 0, started = performance.now(); racing(run, swapper, started); run++) {
        await pollPhase();
        try {
          const r = await backupOp(svc, { paths: [src], tags: [] });
          ids.push(r.id);
          // every entry not stored is named in a warning and counted (the CLI then exits 3)
          expect(r.unreadable).toBe(r.warnings.filter((w) => w.includes('not stored')).length);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    } finally {
      swaps = await swapper.stop();
    }
    let files = 0;
    let symlinks = 0;
    for (const id of ids) {
      const { snapshot } = await repo.resolveSnapshot(id);
      for await (const { rel, node } of walkTree(repo, snapshot.tree, [])) {
        if (node.type === 'symlink') symlinks++;
        if (node.type !== 'file') continue;
        files++;
        const body = Buffer.concat(await Promise.all((node.content ?? []).map((c) => repo.loadBlob(c, BlobType.data)))).toString();
        expect(body, `${id.slice(0, 8)} ${rel}`).not.toContain('SECRET');
      }
    }
    // the race was real: symlinks were seen and stored as symlinks, and files were read
    expect(swaps).toBeGreaterThanOrEqual(MIN_SWAPS);
    expect(symlinks).toBeGreaterThan(0);
    expect(files).toBeGreaterThan(0);
    // and no backup failed over it (a swapped entry is stored as what it became, or not stored and counted)
    expect(failures).toEqual([]);
  }, 300_000);

  test(`a volume read through its mountpoint never stores what a symlink swapped in points to (${MIN_SWAPS}+ swaps)`, async () => {
    const { work, repo } = await setup('cairn-race-volume-');
    const secret = `SECRET-${randomBytes(16).toString('hex')}`;
    makeOutside(join(work, 'outside'), secret);
    const vol = join(work, 'vol');
    makeTree(vol);
    const swapper = startSwapper(vol, join(work, 'stage'), join(work, 'outside'));
    const roots: string[] = [];
    const failures: string[] = [];
    let notStored = 0;
    let notStoredWarnings = 0;
    let swaps = 0;
    try {
      for (let run = 0, started = performance.now(); racing(run, swapper, started); run++) {
        await pollPhase();
        const progress: ArchiveProgress = { filesDone: 0, bytesDone: 0, filesRead: 0, filesReused: 0, dirs: 0, addedBytes: 0, currentPath: '' };
        const warn = (m: string) => void (m.includes('not stored') && notStoredWarnings++);
        const counted = () => void notStored++;
        try {
          const builder = new VolumeTreeBuilder(repo, progress, warn, counted);
          roots.push((await builder.build('_data', mountpointEntries(vol, { warn, notStored: counted }), vol)).subtree as string);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    } finally {
      swaps = await swapper.stop();
    }
    await repo.flush();
    let symlinks = 0;
    for (const root of roots) {
      for await (const { rel, node } of walkTree(repo, root, [])) {
        if (node.type === 'symlink') symlinks++;
        if (node.type !== 'file') continue;
        const body = Buffer.concat(await Promise.all((node.content ?? []).map((c) => repo.loadBlob(c, BlobType.data)))).toString();
        expect(body, rel).not.toContain('SECRET');
      }
    }
    expect(swaps).toBeGreaterThanOrEqual(MIN_SWAPS);
    expect(symlinks).toBeGreaterThan(0);
    expect(failures).toEqual([]);
    expect(notStored).toBe(notStoredWarnings);
  }, 300_000);

  test(`restore never writes through a symlink swapped in (${MIN_SWAPS}+ swaps)`, async () => {
    const { work, svc } = await setup('cairn-race-restore-');
    const src = join(work, 'src');
    makeTree(src);
    const snap = await backupOp(svc, { paths: [src], tags: [] });
    const canary = join(work, 'canary');
    makeOutside(canary, 'canary');
    symlinkSync(join(canary, 'f00'), join(canary, 'link')); // something a followed chmod/chown would change
    const before = fingerprint(canary);
    const target = join(work, 'target');
    makeTree(target);
    const swapper = startSwapper(target, join(work, 'stage'), canary);
    let runs = 0;
    let swaps = 0;
    try {
      for (const started = performance.now(); racing(runs, swapper, started); runs++) {
        await pollPhase();
        try {
          await restoreOp(svc, { snapshot: snap.id, target, include: [], overwrite: true, from: relative('/', src) });
        } catch {
          // a restore may fail on what the swapper did: only writes outside the target matter
        }
      }
    } finally {
      swaps = await swapper.stop();
    }
    expect(swaps).toBeGreaterThanOrEqual(MIN_SWAPS);
    expect(runs).toBeGreaterThanOrEqual(MIN_RUNS);
    expect(fingerprint(canary)).toBe(before);
  }, 300_000);
});
