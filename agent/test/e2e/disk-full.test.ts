// A full disk does not poison the agent: on a real, size-limited filesystem (tmpfs) holding the
// agent's home, a backup that runs out of space fails with one clear line and a non-zero exit,
// leaves no temp files and no snapshot; once space is freed, the SAME agent process backs up again,
// `check --read-data` is clean and every snapshot restores. Needs root (mount); under CI a missing
// mount fails the test instead of skipping it.
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { SnapshotsResult } from '../../../protocol/api.js';
import { startAgent, type TestAgent } from '../helpers/agents.js';
import { cairn, cairnJson, tempDir } from '../helpers/cli.js';
import { strayPackFiles } from '../helpers/damage-packs.js';
import { fill, mountTmpfs, unmount } from '../helpers/disk-fill.js';
import { compareTree, mixedTreeSpec, snapshotTree, writeSampleTree } from '../helpers/sample-tree.js';

const MIB = 1024 * 1024;
const FS_SIZE_MIB = 48;

const mountPoint = await tempDir('cairn-diskfull-mnt-');
const mountProblem = mountTmpfs(mountPoint, FS_SIZE_MIB);
const runHere = mountProblem === null || process.env.CI !== undefined;

describe.runIf(runHere)('a full disk under a running agent', () => {
  let agent: TestAgent | undefined;
  let work: string;
  beforeAll(async () => {
    if (mountProblem !== null) throw new Error(`${mountProblem} (this test needs root to mount a small tmpfs)`);
    work = await tempDir('cairn-diskfull-');
    const home = join(mountPoint, 'home');
    await mkdir(home);
    agent = await startAgent('alice', { home, replicas: 1 });
  }, 60_000);
  afterAll(async () => {
    await agent?.stop();
    if (mountProblem === null) {
      unmount(mountPoint);
      await rm(mountPoint, { recursive: true, force: true });
    }
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('a backup that hits ENOSPC fails with one line; after freeing space the same agent backs up, checks clean and restores', async () => {
    const a = agent as TestAgent;
    const data = join(work, 'data');
    await writeSampleTree(data, mixedTreeSpec({ seed: 71, bigRandom: [2 * MIB], bigText: [MIB], smallFiles: 30 }));
    const first = await a.cli<{ id: string }>(['backup', data]);
    const firstFacts = await snapshotTree(data);

    // ~30 MiB of new incompressible data: two data packs. With 20 MiB left free, the first 16 MiB
    // pack is written and indexed, the second finds the disk full halfway through.
    await writeSampleTree(join(data, 'more'), mixedTreeSpec({ seed: 72, bigRandom: [10 * MIB, 10 * MIB, 10 * MIB], bigText: [], smallFiles: 10 }));
    const filler = join(mountPoint, 'filler');
    await fill(filler, 20 * MIB);
    const failed = await cairn(['backup', data], { home: a.home });
    expect(failed.code, `backup on a full disk: ${failed.stderr}`).not.toBe(0);
    const lines = failed.stderr.trim().split('\n');
    expect(lines, failed.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^cairn: disk full while writing (pack [0-9a-f]{64}|a new pack) to \S+: no space left on device \(ENOSPC\)$/);
    expect(await strayPackFiles(a.home), 'temp files left by the failed pack write').toEqual([]);
    expect((await a.cli<SnapshotsResult>(['snapshots'])).map((s) => s.id)).toEqual([first.id]);

    // the disk filled completely: the backup fails the same way, nothing else breaks
    await fill(`${filler}-2`, 0);
    const full = await cairn(['backup', data], { home: a.home });
    expect(full.code, `backup on a completely full disk: ${full.stderr}`).not.toBe(0);
    expect(full.stderr.trim().split('\n'), full.stderr).toHaveLength(1);
    expect(full.stderr).toMatch(/disk full while writing .*: no space left on device \(ENOSPC\)/);
    console.log(`failed backups said:\n${failed.stderr}${full.stderr}`);

    // space back: the same agent process (no restart) backs up, checks clean and restores both
    await rm(filler);
    await rm(`${filler}-2`);
    const pid = a.info.pid;
    const second = await a.cli<{ id: string }>(['backup', data]);
    expect((JSON.parse(await readFile(join(a.home, 'agent.json'), 'utf8')) as { pid: number }).pid, 'the agent was restarted').toBe(pid);
    expect(a.proc.exitCode).toBeNull();
    const check = await cairn(['check', '--read-data'], { home: a.home });
    expect(check.code, `${check.stdout}\n${check.stderr}`).toBe(0);
    expect(await strayPackFiles(a.home)).toEqual([]);
    const secondFacts = await snapshotTree(data);
    for (const [id, facts, name] of [
      [first.id, firstFacts, 'first'],
      [second.id, secondFacts, 'second'],
    ] as const) {
      const target = join(work, `restore-${name}`);
      await a.cli(['restore', id, '--target', target]);
      expect(await compareTree(facts, join(target, data), { allowMissing: false }), `${name} snapshot`).toEqual([]);
    }
    // and it goes on: one more backup after a change
    await writeSampleTree(join(data, 'later'), mixedTreeSpec({ seed: 73, bigRandom: [MIB], bigText: [], smallFiles: 3 }));
    const third = await cairnJson<{ id: string }>(['backup', data], { home: a.home });
    // and what it committed survives a restart (LevelDB met the full disk too)
    await a.stop();
    agent = await startAgent('alice', { home: a.home, existing: { recoveryPhrase: a.recoveryPhrase }, replicas: 1 });
    expect((await agent.cli<SnapshotsResult>(['snapshots'])).map((s) => s.id).sort()).toEqual([first.id, second.id, third.id].sort());
    const again = await cairn(['check', '--read-data'], { home: a.home });
    expect(again.code, `${again.stdout}\n${again.stderr}`).toBe(0);
  }, 300_000);
});
