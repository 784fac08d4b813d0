// Crash safety: a backup killed with SIGKILL at any moment must leave a repository that passes
// `check --read-data`, accepts the next backup, and restores exactly. The kill moments are seeded
// (CAIRN_TEST_SEED) and spread over the measured duration of a full backup.
import { mkdir, open, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cairn, cairnJson, initHome, tempDir } from '../helpers/cli.js';
import { collect, describeResult, killGroup, spawnCairnGroup } from '../helpers/damage-cli.js';
import { listPacks, strayPackFiles } from '../helpers/damage-packs.js';
import { compareTree, compressibleText, mixedTreeSpec, Rng, snapshotTree, writeSampleTree } from '../helpers/sample-tree.js';

const SEED = Number(process.env.CAIRN_TEST_SEED ?? 424242);
const ITERATIONS = Number(process.env.CAIRN_CRASH_ITERATIONS ?? 50);
const MiB = 1024 * 1024;
const FIRST_BACKUP_KILLS = Number(process.env.CAIRN_CRASH_FIRST_KILLS ?? 4);

let work: string;
let src: string;
let home: string;
let fullBackupMs = 0;

interface BackupJson {
  id: string;
  addedBytes: number;
  sizeBytes: number;
}

async function listFiles(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(root, r)));
    else if (e.isFile()) out.push(r);
  }
  return out.sort();
}

beforeAll(async () => {
  work = await tempDir('cairn-crash-');
  src = join(work, 'src');
  // ~24 MiB: 12 MiB incompressible, 8 MiB compressible text, 2000 small files (~4 MiB) in 40
  // directories. On a 2-core machine a full backup of this takes 2-3 s, process start-up included.
  await writeSampleTree(
    src,
    mixedTreeSpec({
      seed: SEED,
      bigRandom: Array<number>(2).fill(6 * MiB),
      bigText: Array<number>(2).fill(4 * MiB),
      smallFiles: 2000,
      smallMax: 4 * 1024,
      dirs: 40,
    }),
  );
  // Measure one full backup in a scratch home.
  const scratch = await initHome();
  const t0 = performance.now();
  await cairnJson<BackupJson>(['backup', src], { home: scratch });
  fullBackupMs = performance.now() - t0;
  await rm(dirname(scratch), { recursive: true, force: true });
  home = await initHome();
}, 600_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
  if (home) await rm(dirname(home), { recursive: true, force: true });
});

/** Changes the source so that the next backup has new data to write and old files to re-read. */
async function mutate(rng: Rng, iteration: number): Promise<void> {
  const files = await listFiles(src);
  const big = files.filter((f) => f.startsWith('big-') || f.startsWith('media/') || f.startsWith('logs/'));
  const small = files.filter((f) => f.startsWith('small/') || f.startsWith('new/'));
  // Overwrite 256 KiB - 1 MiB somewhere inside one big file (new chunks around it).
  const victim = join(src, rng.pick(big));
  const fh = await open(victim, 'r+');
  try {
    const size = (await fh.stat()).size;
    const len = rng.range(MiB / 4, MiB);
    await fh.write(rng.bytes(len), 0, len, rng.int(Math.max(1, size - len)));
  } finally {
    await fh.close();
  }
  // Touch about half of the big files (new mtime and ctime), so the backup must read them again.
  const when = new Date(Date.UTC(2026, 0, 1) + iteration * 1000);
  for (const f of big) if (rng.next() < 0.5) await utimes(join(src, f), when, when);
  // Rewrite some small files, delete a few, add a few.
  for (let i = 0; i < 10; i++) await writeFile(join(src, rng.pick(small)), rng.bytes(rng.range(1, 8192)));
  for (let i = 0; i < 3; i++) await rm(join(src, rng.pick(small)), { force: true });
  const dir = join(src, 'new', `iter-${iteration}`);
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < 5; i++) await writeFile(join(dir, `n${i}.txt`), compressibleText(rng, rng.range(100, 64 * 1024)));
}

describe('SIGKILL during backup', () => {
  test(`${ITERATIONS} backups killed at random moments leave a sound, usable repository`, async () => {
    const rng = new Rng(SEED ^ 0xc4a5);
    let killedWhileRunning = 0;
    const log: string[] = [];
    // Kill moments are spread over how long this kind of backup takes: the measured full backup for
    // the first one, then the last uninterrupted backup after a mutation (same kind of work).
    let expectedMs = fullBackupMs;
    for (let i = 0; i < ITERATIONS; i++) {
      if (i > 0) await mutate(rng, i);
      const delayMs = rng.next() * expectedMs * 1.1;
      const child = spawnCairnGroup(['backup', src, '--json'], { home });
      const done = collect(child);
      await sleep(delayMs);
      const running = child.exitCode === null && child.signalCode === null;
      await killGroup(child);
      const killed = await done;
      if (running && killed.signal === 'SIGKILL') killedWhileRunning++;
      else if (killed.code !== 0) throw new Error(`iteration ${i}: backup failed before it was killed: ${describeResult(killed)}`);

      const tc = performance.now();
      const check = await cairn(['check', '--read-data'], { home });
      const checkMs = performance.now() - tc;
      expect(check.code, `iteration ${i}: check --read-data after a kill at ${delayMs.toFixed(0)} ms: ${describeResult(check)}`).toBe(0);

      const t0 = performance.now();
      const next = await cairn(['backup', src, '--json'], { home });
      expect(next.code, `iteration ${i}: backup after a kill at ${delayMs.toFixed(0)} ms: ${describeResult(next)}`).toBe(0);
      const b = JSON.parse(next.stdout) as BackupJson;
      expect(b.id).toMatch(/^[0-9a-f]{8,64}$/);
      const nextMs = performance.now() - t0;
      if (i > 0) expectedMs = nextMs;
      log.push(
        `#${i} kill@${delayMs.toFixed(0)}ms ${running ? 'mid-backup' : 'after-exit'}, check ${checkMs.toFixed(0)} ms, next backup ${nextMs.toFixed(0)} ms, +${b.addedBytes} B`,
      );
    }
    console.log(`full backup ${fullBackupMs.toFixed(0)} ms; ${killedWhileRunning}/${ITERATIONS} kills hit a running backup\n${log.join('\n')}`);

    // The kills must actually interrupt backups most of the time, or this test proves little.
    expect(killedWhileRunning).toBeGreaterThanOrEqual(Math.ceil(ITERATIONS * 0.4));

    // Crashes must not leave garbage behind once the repository has been opened again.
    expect(await strayPackFiles(home)).toEqual([]);
    expect((await listPacks(home)).length).toBeGreaterThan(0);

    const final = await cairn(['check', '--read-data'], { home });
    expect(final.code, describeResult(final)).toBe(0);
    const target = join(work, 'restore');
    const r = await cairn(['restore', 'latest', '--target', target], { home });
    expect(r.code, describeResult(r)).toBe(0);
    expect(await compareTree(await snapshotTree(src), join(target, src), { allowMissing: false })).toEqual([]);
  }, 1_200_000); // ~6 min on an idle 2-core machine; generous for a loaded one

  test(`${FIRST_BACKUP_KILLS} first backups of fresh repositories, killed at random moments`, async () => {
    // A first backup writes full 16 MiB data packs all along (the incremental backups above write
    // small packs at the end), and there is no earlier snapshot to fall back on.
    const rng = new Rng(SEED ^ 0xf1e57);
    const source = await snapshotTree(src);
    for (let i = 0; i < FIRST_BACKUP_KILLS; i++) {
      const fresh = await initHome();
      try {
        const delayMs = rng.next() * fullBackupMs;
        const child = spawnCairnGroup(['backup', src, '--json'], { home: fresh });
        const done = collect(child);
        await sleep(delayMs);
        await killGroup(child);
        const killed = await done;
        if (killed.signal !== 'SIGKILL' && killed.code !== 0) throw new Error(`first backup #${i} failed before it was killed: ${describeResult(killed)}`);
        const check = await cairn(['check', '--read-data'], { home: fresh });
        expect(check.code, `fresh repository #${i}, kill at ${delayMs.toFixed(0)} ms: ${describeResult(check)}`).toBe(0);
        const next = await cairn(['backup', src, '--json'], { home: fresh });
        expect(next.code, `fresh repository #${i}: backup after the kill: ${describeResult(next)}`).toBe(0);
        if (i === FIRST_BACKUP_KILLS - 1) {
          const again = await cairn(['check', '--read-data'], { home: fresh });
          expect(again.code, describeResult(again)).toBe(0);
          const target = join(work, `restore-fresh-${i}`);
          const r = await cairn(['restore', 'latest', '--target', target], { home: fresh });
          expect(r.code, describeResult(r)).toBe(0);
          expect(await compareTree(source, join(target, src), { allowMissing: false })).toEqual([]);
        }
      } finally {
        await rm(dirname(fresh), { recursive: true, force: true });
      }
    }
  }, 600_000);
});
