// Restore drills with real agents (separate processes, TCP on loopback): alice's packs are at bob
// and carol (replicas 2). With honest friends `cairn drill --wait` passes with alice's own pack
// directory moved away for the whole drill (so no local pack can be read: none is there, and none is
// fetched into it), restores whole small files and parts of large ones, proves copies at both
// friends, and leaves no scratch files. Then bob's disk garbles every pack he holds for alice behind
// his agent's back: the drill fails, naming bob and the packs, carol's copies still pass, the
// scratch directory is gone again, and `cairn status` shows an error alert naming bob and a pack.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { DrillStarted, ReplicateResult } from '../../../protocol/api.js';
import type { StatusResult } from '../../../protocol/console-api.js';
import { pairAgents, startAgent, type TestAgent } from '../helpers/agents.js';
import { cairn, tempDir } from '../helpers/cli.js';
import { packFilesIn } from '../helpers/damage-packs.js';
import { hostedPacks } from '../helpers/mesh-hosted.js';
import { mixedTreeSpec, writeSampleTree } from '../helpers/sample-tree.js';

const MIB = 1024 * 1024;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

describe('restore drills between real agents', () => {
  let alice: TestAgent;
  let bob: TestAgent;
  let carol: TestAgent;
  let work: string;

  beforeAll(async () => {
    work = await tempDir('cairn-drill-');
    alice = await startAgent('alice', { replicas: 2 });
    bob = await startAgent('bob');
    carol = await startAgent('carol');
    await pairAgents(alice, bob);
    await pairAgents(alice, carol);
    const data = join(work, 'data');
    await writeSampleTree(data, mixedTreeSpec({ seed: 23, bigRandom: [6 * MIB, 5 * MIB, 7 * MIB], bigText: [], smallFiles: 40 }));
    await alice.cliOk(['backup', data]);
    // every pack at both friends before any drill (a loaded machine may need more than one try)
    let r = await alice.cli<ReplicateResult>(['replicate', '--wait']);
    for (let i = 0; i < 5 && r.underReplicated > 0; i++) r = await alice.cli<ReplicateResult>(['replicate', '--wait']);
    expect(r.underReplicated, r.problems.join('; ')).toBe(0);
  });
  afterAll(async () => {
    await alice?.stop();
    await bob?.stop();
    await carol?.stop();
  });

  const drill = async () => {
    const r = await cairn(['drill', '--wait', '--json'], { home: alice.home });
    return { code: r.code, stderr: r.stderr, out: JSON.parse(r.stdout) as DrillStarted };
  };
  const scratch = () => join(alice.home, 'drill-scratch');

  const restartAlice = () => startAgent('alice', { home: alice.home, existing: { recoveryPhrase: alice.recoveryPhrase }, replicas: 2 });

  test('with honest friends the drill passes from their copies alone and leaves no scratch files', async () => {
    const packs = join(alice.home, 'repo', 'packs');
    const away = join(alice.home, 'repo', 'packs-away-during-drill');
    const localBefore = (await packFilesIn(packs)).length;
    expect(localBefore).toBeGreaterThan(0);
    // alice's agent runs the drill on an empty pack directory (restarted: no pack file is open
    // either). Her status check needs the snapshot's trees and fetches their packs into it (through
    // the repository's reader, as the dashboard always has); once it has, nothing more may arrive:
    // a drill reading local packs would fetch every data pack it samples into that directory.
    await alice.stop();
    await rename(packs, away);
    await mkdir(packs);
    let r: Awaited<ReturnType<typeof drill>>;
    let treesOnly: string[];
    try {
      alice = await restartAlice();
      await alice.cli(['replicate', '--wait']); // the agent's first round, and the status checks after it
      await cairn(['status'], { home: alice.home });
      await sleep(1000);
      treesOnly = (await packFilesIn(packs)).map((p) => p.id);
      r = await drill();
      expect((await packFilesIn(packs)).map((p) => p.id)).toEqual(treesOnly);
    } finally {
      await alice.stop();
      await rm(packs, { recursive: true, force: true });
      await rename(away, packs);
      alice = await restartAlice();
    }
    expect(treesOnly.length).toBeLessThan(localBefore);
    expect(r.code, r.stderr).toBe(0);
    const res = r.out.result;
    expect(r.out.job.state).toBe('succeeded');
    expect(res?.ok).toBe(true);
    expect(res?.problems).toEqual([]);
    const src = res?.sources[0];
    expect(res?.sources).toHaveLength(1);
    expect(src?.ok).toBe(true);
    expect(src?.wholeFiles).toBeGreaterThan(0);
    expect(src?.fileParts).toBeGreaterThan(0);
    // at least 1% of the bytes (the target is below 256 MiB here)
    expect(src?.sampledBytes).toBeGreaterThanOrEqual(Math.ceil((src?.totalBytes ?? 0) * 0.01));
    expect(res?.friends.map((f) => f.name).sort()).toEqual(['bob', 'carol']);
    for (const f of res?.friends ?? []) {
      expect(f.failed).toEqual([]);
      expect(f.packsProved).toBeGreaterThan(0);
    }
    expect((await exists(scratch())) ? await readdir(scratch()) : []).toEqual([]);
    expect((await cairn(['status'], { home: alice.home })).code).toBe(0);
  });

  test('a friend serving damaged bytes fails the drill, named with the pack; the scratch copy is deleted', async () => {
    const damaged = await hostedPacks(bob.home, alice.info.peerId);
    expect(damaged.length).toBeGreaterThan(0);
    for (const p of damaged) await writeFile(p.path, randomBytes(p.size)); // bob's disk returns garbage; his records still list them
    const r = await drill();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/restore drill failed: bob: pack [0-9a-f]{64}: served damaged bytes/);
    const res = r.out.result;
    expect(res?.ok).toBe(false);
    expect(r.out.job.state).toBe('failed');
    const atBob = res?.friends.find((f) => f.name === 'bob');
    expect(atBob?.failed.length).toBeGreaterThan(0);
    const damagedIds = new Set(damaged.map((p) => p.id));
    for (const x of atBob?.failed ?? []) expect(damagedIds.has(x.packId), x.packId).toBe(true);
    expect(res?.friends.find((f) => f.name === 'carol')?.failed).toEqual([]);
    // carol's copies still restore the sample: the source itself is restorable
    expect(res?.sources[0]?.ok).toBe(true);
    expect((await exists(scratch())) ? await readdir(scratch()) : []).toEqual([]);
    // an error alert names bob and a pack; status exits 1
    const st = await cairn(['status', '--json'], { home: alice.home });
    expect(st.code).toBe(1);
    const alert = (JSON.parse(st.stdout) as StatusResult).alerts.find((a) => a.kind === 'drill-failed');
    expect(alert?.level).toBe('error');
    expect(alert?.message).toContain(`bob: pack ${atBob?.failed[0]?.packId ?? ''}`);
  });
});

describe('a restore drill without friends', () => {
  let solo: TestAgent | undefined;
  afterAll(async () => {
    await solo?.stop();
  });

  test('asked for, it is an error saying to pair first; nothing is recorded as a drill', async () => {
    solo = await startAgent('solo');
    const data = join(await tempDir('cairn-drill-solo-'), 'data');
    await writeSampleTree(data, mixedTreeSpec({ seed: 3, bigRandom: [], bigText: [], smallFiles: 5 }));
    await solo.cliOk(['backup', data]);
    const r = await cairn(['drill', '--wait'], { home: solo.home });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no friend holds a copy to drill: pair with a friend first/);
    const st = JSON.parse((await cairn(['status', '--json'], { home: solo.home })).stdout) as StatusResult;
    expect(st.alerts.map((a) => a.kind)).not.toContain('drill-failed');
    expect(st.sources[0]?.protection?.state).toBe('not off-site');
  });
});
