// cairn prune on a real repository through the real binary: space comes back down to what the kept
// snapshots need (within the repack threshold), every kept snapshot still restores and passes
// check --read-data, and 20 kill -9 at random points of a prune never lose a kept snapshot.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, test } from 'vitest';
import type { PruneResult, SnapshotsResult } from '../../../protocol/api.js';
import { cairn, cairnJson, cairnOk, collect, initHome, spawnCairn, tempDir } from '../helpers/cli.js';
import { copyDir } from '../helpers/mesh-hosted.js';
import { compareTree, duBytes, mixedTreeSpec, Rng, snapshotTree, writeSampleTree, type FileFacts } from '../helpers/sample-tree.js';

const MIB = 1024 * 1024;

/** Two versions of a tree: v2 drops most of v1's big files and adds new ones. */
async function twoVersions(root: string): Promise<{ v1: string; v2: string }> {
  const v1 = join(root, 'v1');
  const v2 = join(root, 'v2');
  await writeSampleTree(v1, mixedTreeSpec({ seed: 11, bigRandom: [4 * MIB, 4 * MIB, 4 * MIB, 4 * MIB, 4 * MIB, 4 * MIB], bigText: [MIB], smallFiles: 120 }));
  // v2 keeps the small files and two big ones (same bytes), adds two new big files
  await writeSampleTree(v2, mixedTreeSpec({ seed: 11, bigRandom: [4 * MIB, 4 * MIB], bigText: [MIB], smallFiles: 120 }));
  await writeSampleTree(join(v2, 'new'), mixedTreeSpec({ seed: 12, bigRandom: [3 * MIB, 3 * MIB], bigText: [], smallFiles: 5 }));
  return { v1, v2 };
}

/** Backs up v1 then v2 as the same source path (the directory `data`), then forgets v1. */
async function historyWithGarbage(home: string, work: string): Promise<{ data: string; v2facts: Map<string, FileFacts> }> {
  const { v1, v2 } = await twoVersions(work);
  const data = join(work, 'data');
  await copyDir(v1, data);
  await cairnOk(['backup', data], { home });
  await rm(data, { recursive: true });
  await copyDir(v2, data);
  await cairnOk(['backup', data], { home });
  await cairnOk(['forget', '--keep-last', '1'], { home });
  return { data, v2facts: await snapshotTree(v2) };
}

async function restoresIdentical(home: string, facts: Map<string, FileFacts>, data: string, where: string): Promise<string[]> {
  const target = join(where, `restore-${Math.random().toString(36).slice(2)}`);
  await cairnOk(['restore', 'latest', '--target', target], { home });
  const problems = await compareTree(facts, join(target, data), { allowMissing: false });
  await rm(target, { recursive: true, force: true });
  return problems;
}

async function checkReadData(home: string): Promise<{ code: number | null; out: string }> {
  const r = await cairn(['check', '--read-data'], { home });
  return { code: r.code, out: `${r.stdout}${r.stderr}` };
}

describe('cairn prune', () => {
  let work: string;
  beforeAll(async () => {
    work = await tempDir('cairn-prune-');
  });

  test('gives back what no kept snapshot needs; the rest restores and checks clean', async () => {
    const home = await initHome();
    const { data, v2facts } = await historyWithGarbage(home, join(work, 'a'));
    const packsDir = join(home, 'repo', 'packs');
    const before = await duBytes(packsDir);

    const dry = await cairnJson<PruneResult>(['prune', '--dry-run'], { home });
    expect(dry.dryRun).toBe(true);
    expect(dry.packsDeleted + dry.packsRepacked).toBeGreaterThan(0);
    expect(await duBytes(packsDir)).toBe(before); // a dry run changes nothing

    const r = await cairnJson<PruneResult>(['prune'], { home });
    expect(r.snapshots).toBe(1);
    expect(r.blobsForgotten).toBeGreaterThan(0);
    const after = await duBytes(packsDir);
    expect(after).toBe(r.storedBytesAfter);
    expect(after).toBeLessThan(before);

    // the bound: a fresh repository holding only the kept data, plus the 20% repack threshold
    const fresh = await initHome();
    await cairnOk(['backup', data], { home: fresh });
    const needed = await duBytes(join(fresh, 'repo', 'packs'));
    expect(after).toBeLessThanOrEqual(Math.ceil(needed / 0.8) + 256 * 1024);

    // nothing left to do, and everything kept is intact
    const again = await cairnJson<PruneResult>(['prune', '--dry-run'], { home });
    expect([again.packsDeleted, again.packsRepacked, again.strayPacks]).toEqual([0, 0, 0]);
    const check = await checkReadData(home);
    expect(check.code, check.out).toBe(0);
    expect(check.out).not.toMatch(/warning/);
    expect(await restoresIdentical(home, v2facts, data, work)).toEqual([]);
  });

  test('20 kill -9 at random points of a prune never lose a kept snapshot', async () => {
    const template = await initHome();
    const { data, v2facts } = await historyWithGarbage(template, join(work, 'b'));
    const rng = new Rng(2026);
    const outcomes = { killed: 0, finished: 0 };
    for (let i = 0; i < 20; i++) {
      const home = join(work, `kill-${i}`, 'home');
      await mkdir(join(work, `kill-${i}`));
      await copyDir(template, home);
      const child = spawnCairn(['prune'], { home });
      const done = collect(child);
      // the CLI needs ~0.3-0.6 s to start; prune itself runs for a similar time: spread kills over both
      await sleep(150 + Math.floor(rng.next() * 1500));
      child.kill('SIGKILL');
      const r = await done;
      if (r.signal === 'SIGKILL') outcomes.killed += 1;
      else outcomes.finished += 1;
      const check = await checkReadData(home);
      expect(check.code, `round ${i}: ${check.out}`).toBe(0);
      expect(await restoresIdentical(home, v2facts, data, work), `round ${i}`).toEqual([]);
      // a later prune finishes the job: nothing stray is left, and still everything restores
      await cairnOk(['prune'], { home });
      const again = await cairnJson<PruneResult>(['prune', '--dry-run'], { home });
      expect([again.packsDeleted, again.packsRepacked, again.strayPacks], `round ${i}`).toEqual([0, 0, 0]);
      const final = await checkReadData(home);
      expect(final.code, `round ${i}: ${final.out}`).toBe(0);
      const snaps = await cairnJson<SnapshotsResult>(['snapshots'], { home });
      expect(snaps).toHaveLength(1);
      await rm(join(work, `kill-${i}`), { recursive: true, force: true });
    }
    // the random delays did hit running prunes (not only finished ones)
    expect(outcomes.killed).toBeGreaterThanOrEqual(5);
  }, 600_000); // ~90 s alone, much more beside other suites on 2 cores
});
