// Repair with real agents (separate processes, TCP on loopback): alice (replicas 1, repair-after
// shortened to a few seconds) keeps her packs at bob and carol. Bob goes away for longer than
// repair-after: his copies stop counting and his packs reach carol. While away, one of his pack
// files is garbled. When he comes back, each of his copies is challenged before it counts again:
// the garbled one fails (and carol's copy of that pack stays), the others count again and carol's
// surplus copies of them are released with signed deletes.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { CheckResult, PeersResult, ReplicateResult } from '../../../protocol/api.js';
import { pairAgents, startAgent, type TestAgent } from '../helpers/agents.js';
import { initHome, tempDir } from '../helpers/cli.js';
import { packFilesIn, type PackFile } from '../helpers/damage-packs.js';
import { freePort, hostedPacks } from '../helpers/mesh-hosted.js';
import { mixedTreeSpec, writeSampleTree } from '../helpers/sample-tree.js';

const MIB = 1024 * 1024;
const REPAIR_AFTER_S = 20;

const ids = (packs: Array<{ id: string }>) => packs.map((p) => p.id).sort();

describe('repair as friends come and go', () => {
  let alice: TestAgent;
  let bob: TestAgent;
  let carol: TestAgent;
  let bobPort: number;
  let work: string;

  async function startBob(home?: string): Promise<void> {
    bob = await startAgent('bob', {
      ...(home ? { home, existing: { recoveryPhrase: bob.recoveryPhrase } } : {}),
      extraArgs: ['--listen', `/ip4/127.0.0.1/tcp/${bobPort}`],
    });
  }

  beforeAll(async () => {
    work = await tempDir('cairn-repair-mesh-');
    bobPort = await freePort();
    const home = await initHome();
    await writeFile(join(home, 'cairn.yaml'), `friends:\n  repair-after: ${REPAIR_AFTER_S}s\n`);
    alice = await startAgent('alice', { home, existing: { recoveryPhrase: '' }, replicas: 1 });
    await startBob();
    await pairAgents(alice, bob);
  });
  afterAll(async () => {
    await alice?.stop();
    await bob?.stop();
    await carol?.stop();
  });

  const peer = async (name: string) => (await alice.cli<PeersResult>(['peers'])).find((p) => p.name === name);

  test('a friend away past repair-after: its packs reach the others; back, its copies are challenged before they count; surplus is released', async () => {
    const data = join(work, 'data');
    await writeSampleTree(data, mixedTreeSpec({ seed: 23, bigRandom: [5 * MIB, 5 * MIB, 5 * MIB, 5 * MIB, 5 * MIB, 5 * MIB], bigText: [], smallFiles: 20 }));
    await alice.cliOk(['backup', data]);
    const first = await alice.cli<ReplicateResult>(['replicate', '--wait']);
    expect(first.underReplicated).toBe(0);
    const all = ids(await packFilesIn(join(alice.home, 'repo', 'packs')));
    // every pack at bob (replicas 1), then carol joins: she holds none, nothing is missing
    const atBob = await hostedPacks(bob.home, alice.info.peerId);
    expect(ids(atBob)).toEqual(all);
    carol = await startAgent('carol');
    await pairAgents(alice, carol);
    expect((await alice.cli<ReplicateResult>(['replicate', '--wait'])).pushed).toBe(0);

    // bob goes away; within repair-after his copies still count (nothing is pushed)
    await bob.stop();
    for (let i = 0; i < 100 && (await peer('bob'))?.online; i++) await sleep(100);
    const early = await alice.cli<ReplicateResult>(['replicate', '--wait']);
    expect(early.pushed, JSON.stringify(early)).toBe(0);
    expect(early.repair?.away).toEqual([]);

    // past repair-after: he is marked away, his copies stop counting, and his packs reach carol
    await sleep((REPAIR_AFTER_S + 1) * 1000); // counted from his last sighting, before the round above
    const garbled = atBob[0] as PackFile;
    await writeFile(garbled.path, randomBytes(garbled.size)); // his disk goes bad while he is away
    const away = await alice.cli<ReplicateResult>(['replicate', '--wait']);
    expect(away.repair?.away).toEqual(['bob']);
    expect(away.underReplicated).toBe(0);
    expect(away.pushed).toBe(atBob.length);
    expect(ids(await hostedPacks(carol.home, alice.info.peerId))).toEqual(all);
    const marked = await peer('bob');
    expect(marked?.awaySince).toEqual(expect.any(String));
    expect(marked?.problems.join('\n')).toMatch(/longer than repair-after/);
    expect((await peer('carol'))?.packsAtPeer).toBe(all.length);

    // bob is back: every copy of his is challenged before it counts; the garbled one fails
    await startBob(bob.home);
    const back = await alice.cli<ReplicateResult>(['replicate', '--wait']);
    expect(back.repair?.away).toEqual([]);
    // the copies that passed count at bob again, and carol's copies of those packs were surplus
    // (replicas 1; she has the least room left): released; she keeps the garbled pack's, the only sound one
    const bobNow = await peer('bob');
    expect(bobNow?.awaySince).toBeUndefined();
    expect(bobNow?.packsAtPeer).toBe(atBob.length - 1);
    expect((await peer('carol'))?.packsAtPeer).toBe(all.length - (atBob.length - 1));
    expect(back.repair?.released, JSON.stringify(back)).toBe(atBob.length - 1);
    expect(back.repair?.back).toEqual([`bob: ${atBob.length - 1} copies passed a challenge and count again, 1 failed and are copied again`]);
    expect(back.problems.join('\n')).toMatch(new RegExp(`bob failed storage challenges for 1 of our packs \\(e\\.g\\. ${garbled.id.slice(0, 12)}`));
    expect(back.underReplicated).toBe(0);
    // a further round changes nothing: every pack at its target once
    const steady = await alice.cli<ReplicateResult>(['replicate', '--wait']);
    expect(steady.underReplicated).toBe(0);
    expect(steady.pushed).toBe(0);
    expect(steady.repair?.released).toBe(0);
    expect((await alice.cli<CheckResult>(['check', '--read-data'])).ok).toBe(true);
  });
});
