// Prune across friends, with real agents (separate processes, TCP on loopback): the friend keeps
// our pruned packs through its deletion grace and deletes them after it, usage shrinks both ways,
// a restore from the friend still works; 20 backups racing prunes never yield a bad snapshot; and
// delete requests that are forged, name another owner's packs or are replayed delete nothing.
import { generateKeyPair } from '@libp2p/crypto/keys';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { PeersResult, PruneResult, SnapshotsResult } from '../../../protocol/api.js';
import { canonicalDeleteRequest, packChargeBytes, PROTOCOLS, type DeleteRequest } from '../../../protocol/mesh.js';
import { pairAgents, startAgent, type TestAgent } from '../helpers/agents.js';
import { initHome, tempDir } from '../helpers/cli.js';
import { copyDir, hostedPacks, replaceDir } from '../helpers/mesh-hosted.js';
import { dial, pairNode, RawWire, startWireNode } from '../helpers/mesh-wire.js';
import { compareTree, mixedTreeSpec, Rng, snapshotTree, writeSampleTree } from '../helpers/sample-tree.js';
import { packFilesIn } from '../helpers/damage-packs.js';

const MIB = 1024 * 1024;
const GRACE_S = 6;

async function agentWithGrace(name: string): Promise<TestAgent> {
  const home = await initHome();
  await writeFile(join(home, 'cairn.yaml'), `friends:\n  deletion-grace: ${GRACE_S}s\n`);
  return startAgent(name, { home, existing: { recoveryPhrase: '' }, replicas: 1 });
}

const ids = (packs: Array<{ id: string }>) => packs.map((p) => p.id).sort();

describe('prune with a friend', () => {
  let alice: TestAgent;
  let bob: TestAgent;
  let work: string;
  beforeAll(async () => {
    work = await tempDir('cairn-prune-mesh-');
    alice = await agentWithGrace('alice');
    bob = await agentWithGrace('bob');
    await pairAgents(alice, bob);
  });
  afterAll(async () => {
    await alice?.stop();
    await bob?.stop();
  });

  test('the friend deletes our pruned packs after its grace, not before; usage shrinks; restore from it works', async () => {
    const data = join(work, 'data');
    await writeSampleTree(data, mixedTreeSpec({ seed: 21, bigRandom: [4 * MIB, 4 * MIB, 4 * MIB, 4 * MIB, 4 * MIB], bigText: [], smallFiles: 40 }));
    await alice.cliOk(['backup', data]);
    await rm(join(data, 'big-0.bin'));
    await rm(join(data, 'media'), { recursive: true });
    await writeSampleTree(join(data, 'new'), mixedTreeSpec({ seed: 22, bigRandom: [3 * MIB], bigText: [], smallFiles: 3 }));
    await alice.cliOk(['backup', data]);
    await alice.cliOk(['replicate', '--wait']);
    const alicePacks = () => packFilesIn(join(alice.home, 'repo', 'packs'));
    const atBob = () => hostedPacks(bob.home, alice.info.peerId);
    const before = ids(await atBob());
    expect(before).toEqual(ids(await alicePacks()));

    await alice.cliOk(['forget', '--keep-last', '1']);
    // forget asks for a replication round 1 s later (a new head). A round carries the delete requests
    // pending, and its audit and challenges may drop and re-add copy records: run alongside prune it
    // may send part of prune's requests itself. Let that round end first (a replicate queues behind
    // it), so what prune reports is what it sent.
    await sleep(1500);
    await alice.cliOk(['replicate', '--wait']);
    const r = await alice.cli<PruneResult>(['prune']);
    expect(r.packsDeleted + r.packsRepacked).toBeGreaterThan(0);
    expect(r.deleteRequests).toHaveLength(1);
    expect(r.deleteRequests[0]).toMatchObject({ friend: 'bob', sent: true, packs: r.packsDeleted + r.packsRepacked });
    const nowLocal = ids(await alicePacks());
    const doomed = before.filter((id) => !nowLocal.includes(id));
    expect(doomed.length).toBe(r.packsDeleted + r.packsRepacked);

    // within the grace bob still holds (and counts) every doomed pack
    await sleep((GRACE_S * 1000) / 3);
    expect(ids(await atBob())).toEqual(expect.arrayContaining(doomed));
    const bobView = () => bob.cli<PeersResult>(['peers']);
    const heldFor = async () => (await bobView()).find((p) => p.peerId === alice.info.peerId)?.storedForPeerBytes ?? -1;
    const heldBefore = await heldFor();
    expect(heldBefore).toBe((await atBob()).reduce((n, p) => n + packChargeBytes(p.size), 0));

    // after the grace (plus bob's 5 s sweep) they are gone and bob's usage for alice shrinks
    let left = doomed;
    for (let i = 0; i < 40 && left.length > 0; i++) {
      await sleep(500);
      const now = new Set(ids(await atBob()));
      left = doomed.filter((id) => now.has(id));
    }
    expect(left, bob.log()).toEqual([]);
    const heldAfter = await heldFor();
    expect(heldAfter).toBeLessThan(heldBefore);
    expect(heldAfter).toBe((await atBob()).reduce((n, p) => n + packChargeBytes(p.size), 0));
    // alice no longer counts them at bob either, and the repacked packs go to bob
    await alice.cliOk(['replicate', '--wait']);
    expect(ids(await atBob())).toEqual(ids(await alicePacks()));
    const aliceView = (await alice.cli<PeersResult>(['peers'])).find((p) => p.peerId === bob.info.peerId);
    expect(aliceView?.storedAtPeerBytes).toBe((await alicePacks()).reduce((n, p) => n + packChargeBytes(p.size), 0));

    // the kept snapshot restores from bob alone
    const facts = await snapshotTree(data);
    const packsDir = join(alice.home, 'repo', 'packs');
    await copyDir(packsDir, join(work, 'alice-packs'));
    await rm(packsDir, { recursive: true });
    await mkdir(packsDir);
    const target = join(work, 'restore');
    await alice.cliOk(['restore', 'latest', '--target', target]);
    expect(await compareTree(facts, join(target, data), { allowMissing: false })).toEqual([]);
    // (the restore fetched only what it needed: put the rest back for the next tests)
    await replaceDir(join(work, 'alice-packs'), packsDir);
  });

  test('20 backups racing prunes at random moments: every snapshot passes check --read-data and restores', async () => {
    const data = join(work, 'race');
    await writeSampleTree(data, mixedTreeSpec({ seed: 31, bigRandom: [2 * MIB], bigText: [], smallFiles: 30 }));
    const rng = new Rng(31);
    for (let i = 0; i < 20; i++) {
      await writeSampleTree(join(data, `round-${i}`), mixedTreeSpec({ seed: 100 + i, bigRandom: [MIB + i * 4096], bigText: [], smallFiles: 4 }));
      if (i % 3 === 1) await rm(join(data, `round-${i - 1}`), { recursive: true });
      await alice.cliOk(['forget', '--keep-last', '2']);
      const facts = await snapshotTree(data);
      const delay = Math.floor(rng.next() * 900);
      const backup = alice.cli<{ id: string }>(['backup', data]);
      const prune = sleep(delay).then(() => alice.cli<PruneResult>(['prune']));
      const [b] = await Promise.all([backup, prune]);
      await alice.cliOk(['check', '--read-data']);
      const snaps = await alice.cli<SnapshotsResult>(['snapshots']);
      expect(snaps.map((s) => s.id)).toContain(b.id);
      const target = join(work, `race-restore-${i}`);
      await alice.cliOk(['restore', b.id, '--target', target]);
      expect(await compareTree(facts, join(target, data), { allowMissing: false }), `round ${i}`).toEqual([]);
      await rm(target, { recursive: true });
    }
  }, 600_000);

  test('forged, foreign and replayed delete requests delete nothing', async () => {
    // a third party that pairs with bob and stores nothing; alice's packs are at bob
    const { node, key } = await startWireNode();
    try {
      const { code } = await bob.cli<{ code: string }>(['invite', '--quota', '1G']);
      expect((await pairNode(node, code, 'mallory', 1024 ** 3)).kind).toBe('reply');
      // the racing test above left deletions alice asked for legitimately: let them run out
      // (bob's grace plus his sweep), so that whatever disappears from here on was not hers to lose
      await alice.cliOk(['replicate', '--wait']);
      const alicesOwn = async () => ids(await packFilesIn(join(alice.home, 'repo', 'packs')));
      let settled = false;
      for (let i = 0; i < 60 && !settled; i++) {
        settled = JSON.stringify(ids(await atBobOf(bob, alice))) === JSON.stringify(await alicesOwn());
        if (!settled) await sleep(500);
      }
      expect(settled, 'bob holds exactly the packs alice keeps').toBe(true);
      const alicesAtBob = ids(await atBobOf(bob, alice));
      expect(alicesAtBob.length).toBeGreaterThan(0);
      const send = async (request: DeleteRequest, signer = key) => {
        const signature = Buffer.from(await signer.sign(canonicalDeleteRequest(request))).toString('base64');
        const wire = new RawWire(await dial(node, bob, PROTOCOLS.packDelete));
        return wire.requestOnce({ request, signature });
      };
      const me = node.peerId.toString();
      const req = (seq: number, owner = me, packs = alicesAtBob): DeleteRequest => ({ version: 1, owner, seq, time: new Date().toISOString(), packs });

      // signed by another key
      const other = await generateKeyPair('Ed25519');
      expect(await send(req(10), other)).toMatchObject({ kind: 'reply', value: { ok: false, code: 'E_BAD_SIGNATURE' } });
      // claiming to be alice
      expect(await send(req(11, alice.info.peerId))).toMatchObject({ kind: 'reply', value: { ok: false, code: 'E_BAD_SIGNATURE' } });
      // properly signed, naming alice's packs: none of them is mallory's, so none is touched
      const ok = await send(req(12));
      expect(ok).toMatchObject({ kind: 'reply', value: { ok: true, accepted: 0 } });
      expect((ok as { value: { notHeld: string[] } }).value.notHeld.sort()).toEqual(alicesAtBob);
      // replayed and older sequence numbers
      expect(await send(req(12))).toMatchObject({ kind: 'reply', value: { ok: false, code: 'E_STALE_REQUEST' } });
      expect(await send(req(5))).toMatchObject({ kind: 'reply', value: { ok: false, code: 'E_STALE_REQUEST' } });
      // after bob's grace and sweep, alice's packs are all still there
      await sleep(GRACE_S * 1000 + 6000);
      expect(ids(await atBobOf(bob, alice))).toEqual(alicesAtBob);
    } finally {
      await node.stop();
    }
  });
});

function atBobOf(bob: TestAgent, owner: TestAgent) {
  return hostedPacks(bob.home, owner.info.peerId);
}
