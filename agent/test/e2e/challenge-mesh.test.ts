// Storage challenges with real agents (separate processes, TCP on loopback): bob keeps his records
// of alice's packs but loses or damages the bytes behind his agent's back. `cairn audit` catches it
// by bob's name and pack, the copies stop counting and are copied again; while they cannot be
// (bob refuses new packs: a disk floor above his free space), `cairn status` exits 1; once bob
// takes packs again, the next round copies them and status exits 0.
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { AuditResult, ReplicateResult } from '../../../protocol/api.js';
import { pairAgents, startAgent, type TestAgent } from '../helpers/agents.js';
import { cairn, tempDir } from '../helpers/cli.js';
import { deletePack, packFilesIn, type PackFile } from '../helpers/damage-packs.js';
import { freePort, hostedPacks } from '../helpers/mesh-hosted.js';
import { mixedTreeSpec, writeSampleTree } from '../helpers/sample-tree.js';

const MIB = 1024 * 1024;

/** Overwrites a pack file with other bytes of the same length (a disk that returns garbage). */
async function garble(p: PackFile): Promise<void> {
  await writeFile(p.path, randomBytes(p.size));
}

async function intact(p: PackFile): Promise<boolean> {
  return (
    createHash('sha256')
      .update(await readFile(p.path))
      .digest('hex') === p.id
  );
}

const ids = (packs: Array<{ id: string }>) => packs.map((p) => p.id).sort();

describe('storage challenges between real agents', () => {
  let alice: TestAgent;
  let bob: TestAgent;
  let bobPort: number;
  let work: string;

  async function startBob(diskFloor: string, home?: string): Promise<void> {
    bob = await startAgent('bob', {
      ...(home ? { home, existing: { recoveryPhrase: bob.recoveryPhrase } } : {}),
      diskFloor,
      extraArgs: ['--listen', `/ip4/127.0.0.1/tcp/${bobPort}`],
    });
  }

  beforeAll(async () => {
    work = await tempDir('cairn-challenge-mesh-');
    bobPort = await freePort();
    alice = await startAgent('alice', { replicas: 1 });
    await startBob('0');
    await pairAgents(alice, bob);
  });
  afterAll(async () => {
    await alice?.stop();
    await bob?.stop();
  });

  const atBob = () => hostedPacks(bob.home, alice.info.peerId);
  const alicePacks = () => packFilesIn(join(alice.home, 'repo', 'packs'));
  const audit = async (args: string[] = []) => {
    const r = await cairn(['audit', '--json', ...args], { home: alice.home });
    return { code: r.code, stderr: r.stderr, result: JSON.parse(r.stdout) as AuditResult };
  };
  const status = () => cairn(['status'], { home: alice.home });

  test('damaged and deleted packs at a friend are caught by name, stop counting, and are copied again; status exits 1 until they are', async () => {
    const data = join(work, 'data');
    await writeSampleTree(data, mixedTreeSpec({ seed: 19, bigRandom: [6 * MIB, 6 * MIB, 6 * MIB, 6 * MIB, 6 * MIB], bigText: [], smallFiles: 30 }));
    await alice.cliOk(['backup', data]);
    await alice.cliOk(['replicate', '--wait']);
    expect(ids(await atBob())).toEqual(ids(await alicePacks()));
    expect((await status()).code).toBe(0);

    // every copy passes while it is intact
    const clean = await audit();
    expect(clean.code).toBe(0);
    const packs = (await atBob()).length;
    expect(clean.result.friends).toEqual([expect.objectContaining({ name: 'bob', challenged: packs, passed: packs, failed: [] })]);
    const text = await cairn(['audit'], { home: alice.home });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/Friend\s+Challenged\s+Passed\s+Failed/);
    expect(text.stdout).toMatch(new RegExp(`bob\\s+${packs}\\s+${packs}\\s+0`));

    // bob's disk loses one pack and garbles another; his records still list both
    let [gone, garbled] = (await atBob()).sort((a, b) => b.size - a.size) as [PackFile, PackFile];
    await deletePack(gone.path);
    await garble(garbled);
    // the audit catches both by bob's name, and the same round copies them to him again
    const caught = await audit(['--wait']);
    expect(caught.code).toBe(1);
    expect(caught.stderr).toMatch(/E_AUDIT_FAILED|failed storage challenges at bob/);
    const bobReport = caught.result.friends.find((f) => f.name === 'bob');
    expect(bobReport?.failed.map((f) => f.packId).sort()).toEqual([gone.id, garbled.id].sort());
    expect(caught.result.replication.underReplicated).toBe(0);
    for (const p of await atBob()) expect(await intact(p), `bob's copy of ${p.id}`).toBe(true);
    expect(ids(await atBob())).toEqual(ids(await alicePacks()));
    expect((await status()).code).toBe(0);

    // again, but bob now refuses new packs (a disk floor above his free space): the failed copies
    // cannot be made again, and status says so (exit 1) until they are
    await bob.stop();
    await startBob('1000T', bob.home);
    [gone, garbled] = (await atBob()).sort((a, b) => b.size - a.size) as [PackFile, PackFile];
    await deletePack(gone.path);
    await garble(garbled);
    const again = await audit();
    expect(again.code).toBe(1);
    expect(
      again.result.friends
        .find((f) => f.name === 'bob')
        ?.failed.map((f) => f.packId)
        .sort(),
    ).toEqual([gone.id, garbled.id].sort());
    const atRisk = await status();
    expect(atRisk.code).toBe(1);
    expect(atRisk.stdout + atRisk.stderr).toMatch(/bob failed a storage challenge/);
    const peers = await alice.cli<Array<{ name: string; problems: string[] }>>(['peers']);
    expect(peers.find((p) => p.name === 'bob')?.problems.join('\n')).toMatch(/failed storage challenges for 2 of our packs/);

    // bob takes packs again: the next round copies them (he is told to recheck, and takes them anew)
    await bob.stop();
    await startBob('0', bob.home);
    const r = await alice.cli<ReplicateResult>(['replicate', '--wait']);
    expect(r.underReplicated).toBe(0);
    for (const p of await atBob()) expect(await intact(p), `bob's copy of ${p.id}`).toBe(true);
    expect(ids(await atBob())).toEqual(ids(await alicePacks()));
    expect((await status()).code).toBe(0);
    expect((await audit()).code).toBe(0);
  });
});
