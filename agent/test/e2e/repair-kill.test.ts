// Kill -9 during repair loses nothing (real agents, TCP on loopback). Alice (replicas 1, repair-after
// shortened, upload limited so a repair takes seconds) keeps her packs at bob; carol joins. Bob goes
// away past repair-after and alice is killed while his packs are being copied to carol: restarted,
// bob is still away (the mark is durable) and the next round finishes the copies. Bob comes back and
// alice is killed during `cairn audit --wait` while bob (stopped with SIGSTOP) has not answered: the
// next audit proves all his copies, records no failure, and every pack is at its target once.
import { writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { AuditResult, CheckResult, PeersResult, ReplicateResult } from '../../../protocol/api.js';
import { pairAgents, startAgent, type TestAgent } from '../helpers/agents.js';
import { cairn, collect, initHome, spawnCairn, tempDir } from '../helpers/cli.js';
import { packFilesIn } from '../helpers/damage-packs.js';
import { freePort, hostedPacks } from '../helpers/mesh-hosted.js';
import { mixedTreeSpec, writeSampleTree } from '../helpers/sample-tree.js';

const MIB = 1024 * 1024;
const REPAIR_AFTER_S = 20;

const ids = (packs: Array<{ id: string }>) => packs.map((p) => p.id).sort();

describe('SIGKILL during repair', () => {
  let alice: TestAgent;
  let bob: TestAgent;
  let carol: TestAgent;
  let bobPort: number;
  let all: string[];

  async function startBob(home?: string): Promise<void> {
    bob = await startAgent('bob', {
      ...(home ? { home, existing: { recoveryPhrase: bob.recoveryPhrase } } : {}),
      extraArgs: ['--listen', `/ip4/127.0.0.1/tcp/${bobPort}`],
    });
  }

  async function killAlice(): Promise<void> {
    const exited = new Promise((r) => alice.proc.once('exit', r));
    alice.proc.kill('SIGKILL');
    await exited;
    await rm(join(alice.home, 'agent.json'), { force: true }); // the killed agent's: the new one writes its own
    alice = await startAgent('alice', { home: alice.home, existing: { recoveryPhrase: alice.recoveryPhrase }, replicas: 1 });
  }

  const peer = async (name: string) => (await alice.cli<PeersResult>(['peers'])).find((p) => p.name === name);

  beforeAll(async () => {
    const work = await tempDir('cairn-repair-kill-');
    bobPort = await freePort();
    const home = await initHome();
    await writeFile(join(home, 'cairn.yaml'), `friends:\n  repair-after: ${REPAIR_AFTER_S}s\nbandwidth-limit: 3M\n`);
    alice = await startAgent('alice', { home, existing: { recoveryPhrase: '' }, replicas: 1 });
    await startBob();
    await pairAgents(alice, bob);
    const data = join(work, 'data');
    await writeSampleTree(data, mixedTreeSpec({ seed: 31, bigRandom: [5 * MIB, 5 * MIB, 5 * MIB, 5 * MIB, 5 * MIB, 5 * MIB], bigText: [], smallFiles: 20 }));
    await alice.cliOk(['backup', data]);
    expect((await alice.cli<ReplicateResult>(['replicate', '--wait'])).underReplicated).toBe(0);
    all = ids(await packFilesIn(join(alice.home, 'repo', 'packs')));
    expect(ids(await hostedPacks(bob.home, alice.info.peerId))).toEqual(all);
    carol = await startAgent('carol');
    await pairAgents(alice, carol);
  });
  afterAll(async () => {
    await alice?.stop();
    await bob?.stop();
    await carol?.stop();
  });

  test('killed while an away friend’s packs are copied to another: still away after the restart, and the next round finishes', async () => {
    await bob.stop();
    await sleep((REPAIR_AFTER_S + 2) * 1000);
    const running = collect(spawnCairn(['replicate', '--wait', '--json'], { home: alice.home }));
    const atCarol = () => hostedPacks(carol.home, alice.info.peerId);
    for (let i = 0; i < 600 && (await atCarol()).length === 0; i++) await sleep(50);
    const before = (await atCarol()).length;
    await killAlice();
    await running;
    expect(before, 'killed in the middle of the repair').toBeGreaterThan(0);
    expect(before).toBeLessThan(all.length);
    expect((await peer('bob'))?.awaySince).toEqual(expect.any(String)); // durable: still away, his copies still do not count
    const r = await alice.cli<ReplicateResult>(['replicate', '--wait']);
    expect(r.underReplicated).toBe(0);
    expect(ids(await atCarol())).toEqual(all);
    expect((await peer('carol'))?.packsAtPeer).toBe(all.length);
    expect((await peer('carol'))?.problems).toEqual([]);
    expect((await alice.cli<CheckResult>(['check', '--read-data'])).ok).toBe(true);
  });

  test('killed during `cairn audit --wait` before the returning friend answered: the next audit proves his copies, records no failure, and every pack is at its target once', async () => {
    await startBob(bob.home);
    bob.proc.kill('SIGSTOP'); // back, but not answering yet
    const running = collect(spawnCairn(['audit', '--wait', '--json'], { home: alice.home }));
    await sleep(3000);
    await killAlice();
    bob.proc.kill('SIGCONT');
    expect((await running).code).not.toBe(0); // its agent died under it
    const r = await cairn(['audit', '--wait', '--json'], { home: alice.home });
    const audit = JSON.parse(r.stdout) as AuditResult;
    expect(r.code, r.stderr).toBe(0);
    expect(audit.friends.find((f) => f.name === 'bob')).toMatchObject({ challenged: all.length, passed: all.length, failed: [], unreachable: null });
    expect(audit.replication.underReplicated).toBe(0);
    const bobNow = await peer('bob');
    expect(bobNow?.awaySince).toBeUndefined();
    expect(bobNow?.problems.join('\n')).not.toMatch(/failed storage challenges/);
    // replicas 1: each pack counted once, the surplus released
    expect((bobNow?.packsAtPeer ?? 0) + ((await peer('carol'))?.packsAtPeer ?? 0)).toBe(all.length);
    expect((await cairn(['status'], { home: alice.home })).code).toBe(0);
    expect((await alice.cli<CheckResult>(['check', '--read-data'])).ok).toBe(true);
  });
});
