// Grants that change after pairing, with real agents (separate processes, TCP on loopback): bob
// shrinks what he grants alice below what he holds of hers, alice learns it and her next round
// moves the packs beyond it to carol and releases them at bob; alice asks bob for more space, the
// request shows on bob's side (its note cleaned, one pending at a time), bob refuses, then grants;
// a grant changed while alice is offline reaches her with bob's next round.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { AskResult, GrantResult, PeersResult, ReplicateResult } from '../../../protocol/api.js';
import { MAX_ASK_NOTE_CHARS } from '../../../protocol/mesh.js';
import { pairAgents, startAgent, type TestAgent } from '../helpers/agents.js';
import { cairn, tempDir } from '../helpers/cli.js';
import { packFilesIn } from '../helpers/damage-packs.js';
import { freePort } from '../helpers/mesh-hosted.js';
import { mixedTreeSpec, writeSampleTree } from '../helpers/sample-tree.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

describe('grants that change', () => {
  let alice: TestAgent;
  let bob: TestAgent;
  let carol: TestAgent;
  let alicePort: number;
  let all: string[];

  const startAlice = async (existing?: TestAgent) =>
    startAgent('alice', {
      ...(existing ? { home: existing.home, existing: { recoveryPhrase: existing.recoveryPhrase } } : {}),
      replicas: 1,
      extraArgs: ['--listen', `/ip4/127.0.0.1/tcp/${alicePort}`],
    });
  const peerOf = async (a: TestAgent, name: string) => (await a.cli<PeersResult>(['peers'])).find((p) => p.name === name);

  beforeAll(async () => {
    const work = await tempDir('cairn-grant-mesh-');
    alicePort = await freePort();
    alice = await startAlice();
    bob = await startAgent('bob');
    carol = await startAgent('carol');
    await pairAgents(alice, bob);
    const data = join(work, 'data');
    await writeSampleTree(data, mixedTreeSpec({ seed: 29, bigRandom: [5 * MIB, 5 * MIB, 5 * MIB, 5 * MIB, 5 * MIB, 5 * MIB], bigText: [], smallFiles: 20 }));
    await alice.cliOk(['backup', data]);
    expect((await alice.cli<ReplicateResult>(['replicate', '--wait'])).underReplicated).toBe(0);
    all = (await packFilesIn(join(alice.home, 'repo', 'packs'))).map((p) => p.id);
    expect((await peerOf(alice, 'bob'))?.packsAtPeer).toBe(all.length); // replicas 1: everything at bob
    await pairAgents(alice, carol);
  });
  afterAll(async () => {
    await alice?.stop();
    await bob?.stop();
    await carol?.stop();
  });

  test('a grant shrunk below what the friend holds: the owner learns it, moves the packs beyond it elsewhere and releases them there', async () => {
    const g = await bob.cli<GrantResult>(['grant', 'alice', '12M']);
    expect(g).toMatchObject({ name: 'alice', grantToPeer: 12 * MIB, delivered: true });
    expect((await peerOf(bob, 'alice'))?.grantToPeer).toBe(12 * MIB);
    expect((await peerOf(alice, 'bob'))?.grantFromPeer).toBe(12 * MIB);
    const r = await alice.cli<ReplicateResult>(['replicate', '--wait']);
    expect(r.underReplicated).toBe(0);
    expect(r.repair?.released).toBeGreaterThan(0);
    const atBob = await peerOf(alice, 'bob');
    const atCarol = await peerOf(alice, 'carol');
    expect(atBob?.storedAtPeerBytes).toBeLessThanOrEqual(12 * MIB);
    expect(atBob?.packsAtPeer).toBeGreaterThan(0); // what fits stays
    expect((atBob?.packsAtPeer ?? 0) + (atCarol?.packsAtPeer ?? 0)).toBe(all.length);
    // settled: the next round moves nothing
    const again = await alice.cli<ReplicateResult>(['replicate', '--wait']);
    expect(again).toMatchObject({ underReplicated: 0, pushed: 0, repair: { released: 0 } });
  });

  test('an ask shows on the other side, cleaned and one at a time; it is refused, then granted', async () => {
    const asked = await alice.cli<AskResult>(['ask', 'bob', '5G', '--note', 'room\u001b[2J for\nphotos \u202eplease']);
    expect(asked).toMatchObject({ name: 'bob', askedBytes: 5 * GIB, delivered: true });
    expect((await peerOf(bob, 'alice'))?.askFromPeer).toEqual({ bytes: 5 * GIB, note: 'room for photos please', at: expect.any(String) });
    // a second ask replaces the first
    await alice.cli(['ask', 'bob', '3G']);
    expect((await peerOf(bob, 'alice'))?.askFromPeer).toEqual({ bytes: 3 * GIB, note: null, at: expect.any(String) });
    expect((await peerOf(alice, 'bob'))?.askToPeer).toEqual({ bytes: 3 * GIB, at: expect.any(String) });
    // bounded: at most 1 PiB, a note of at most MAX_ASK_NOTE_CHARS, and more than the grant now
    for (const args of [
      ['ask', 'bob', '2000T'],
      ['ask', 'bob', '3G', '--note', 'x'.repeat(MAX_ASK_NOTE_CHARS + 1)],
      ['ask', 'bob', '1M'],
      ['ask', 'nobody', '3G'],
    ]) {
      const bad = await cairn(args, { home: alice.home });
      expect(bad.code, args.join(' ')).toBe(2);
    }
    // refused: alice sees it
    const refused = await bob.cli<GrantResult>(['grant', 'alice', '--refuse']);
    expect(refused).toMatchObject({ refusedBytes: 3 * GIB, delivered: true });
    expect((await peerOf(bob, 'alice'))?.askFromPeer).toBeUndefined();
    const told = await peerOf(alice, 'bob');
    expect(told?.askToPeer).toEqual({ bytes: 3 * GIB, at: expect.any(String), refused: true });
    expect(told?.problems.join('\n')).toMatch(/refused our request for 3\.00 GiB/);
    expect((await cairn(['grant', 'alice', '--refuse'], { home: bob.home })).code).toBe(2); // nothing pending now
    // asked again and granted
    await alice.cli(['ask', 'bob', '4G']);
    await bob.cli(['grant', 'alice', '4G']);
    const granted = await peerOf(alice, 'bob');
    expect(granted?.grantFromPeer).toBe(4 * GIB);
    expect(granted?.askToPeer).toBeUndefined();
    expect((await peerOf(bob, 'alice'))?.askFromPeer).toBeUndefined();
  });

  test('a grant changed while the friend is offline reaches it with the next round', async () => {
    await alice.stop();
    const g = await bob.cli<GrantResult>(['grant', 'alice', '2G']);
    expect(g).toMatchObject({ grantToPeer: 2 * GIB, delivered: false });
    alice = await startAlice(alice);
    expect((await peerOf(alice, 'bob'))?.grantFromPeer).toBe(4 * GIB);
    await bob.cli(['replicate']);
    expect((await peerOf(alice, 'bob'))?.grantFromPeer).toBe(2 * GIB);
  });
});
