// Three real agents (separate processes, libp2p over TCP on loopback): pairing, replication with
// replicas 2, restore from friends while one is stopped, and disaster recovery on an empty home.
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PeerListing } from '../../../protocol/api.js';
import { pairAgents, startAgent, type TestAgent } from '../helpers/agents.js';
import { cairn, cairnJson, tempDir } from '../helpers/cli.js';
import { buildNastyTree, type NastyTree } from '../helpers/nasty-tree.js';
import { compareTrees, formatDiffs } from '../helpers/tree-compare.js';
import { packIdsIn } from '../helpers/damage-packs.js';

type Peer = PeerListing;

describe('a mesh of three agents', () => {
  let alice: TestAgent;
  let bob: TestAgent;
  let carol: TestAgent;
  let tree: NastyTree;
  const agents: TestAgent[] = [];

  beforeAll(async () => {
    tree = await buildNastyTree(join(await tempDir('cairn-mesh-src-'), 'src'), {
      tinyFiles: 300,
      tinyDirs: 10,
      bigFileBytes: 12 * 1024 * 1024,
      sparseFileBytes: 64 * 1024 * 1024,
      deepPathBytes: 1500,
    });
    alice = await startAgent('alice');
    bob = await startAgent('bob');
    carol = await startAgent('carol');
    agents.push(alice, bob, carol);
  }, 180_000);

  afterAll(async () => {
    for (const a of agents) await a.stop();
  });

  it('pairs, backs up and replicates every pack to two friends', async () => {
    await pairAgents(alice, bob);
    await pairAgents(alice, carol);
    const snap = await alice.cli<{ id: string }>(['backup', tree.root]);
    expect(snap.id).toMatch(/^[0-9a-f]{64}$/);
    const r = await alice.cli<{ packs: number; underReplicated: number; wantedCopies: number }>(['replicate', '--wait']);
    expect(r.wantedCopies).toBe(2);
    expect(r.underReplicated).toBe(0);
    const local = await packIdsIn(join(alice.home, 'repo', 'packs'));
    expect(r.packs).toBe(local.length);
    for (const friend of [bob, carol]) {
      const held = await packIdsIn(join(friend.home, 'hosted', alice.info.peerId));
      expect(held.sort()).toEqual([...local].sort());
    }
    const peers = await alice.cli<Peer[]>(['peers']);
    expect(peers.map((p) => p.name).sort()).toEqual(['bob', 'carol']);
    for (const p of peers) {
      expect(p.packsAtPeer).toBe(local.length);
      expect(p.storedAtPeerBytes).toBeGreaterThan(12 * 1024 * 1024);
      expect(p.online).toBe(true);
    }
    const bobView = await bob.cli<Peer[]>(['peers']);
    expect(bobView.find((p) => p.name === 'alice')?.storedForPeerBytes).toBe(peers.find((p) => p.name === 'bob')?.storedAtPeerBytes);
  }, 300_000);

  it('restores from the remaining friend when one friend is stopped and the local packs are gone', async () => {
    await bob.stop();
    await rm(join(alice.home, 'repo', 'packs'), { recursive: true, force: true });
    const target = await tempDir('cairn-mesh-restore-');
    const r = await alice.cli<{ errors: string[]; fetched: Record<string, number> }>(['restore', 'latest', '--target', target]);
    expect(r.errors).toEqual([]);
    expect(Object.keys(r.fetched)).toEqual(['carol']);
    // each pack came once, whether the restore or the fetching running beside it asked first
    expect(r.fetched.carol).toBe((await packIdsIn(join(alice.home, 'repo', 'packs'))).length);
    const diffs = await compareTrees(tree.root, join(target, tree.root), { sparse: [tree.sparseFile] });
    expect(formatDiffs(diffs)).toBe('');
    // check knows the packs are at friends: warnings naming them, not errors
    const check = await alice.cli<{ ok: boolean; problems: Array<{ severity: string; message: string }> }>(['check']);
    expect(check.ok).toBe(true);
    expect(check.problems.length).toBeGreaterThan(0);
    for (const p of check.problems)
      expect(p).toMatchObject({
        severity: 'warning',
        message: expect.stringMatching(/^pack [0-9a-f]{64} is not on this machine, only at bob, carol \(restores fetch it from there\)/),
      });
  }, 300_000);

  it("recovers on an empty home from a friend's invite, restores identically, and replicates again", async () => {
    await alice.stop();
    await rm(alice.home, { recursive: true, force: true });
    const { code } = await carol.cli<{ code: string }>(['invite']);
    const home = join(await tempDir('cairn-alice-again-'), 'home');
    const recovered = await cairnJson<{ snapshots: number; friends: string[]; peerId: string; warnings: string[] }>(['recover', '--invite', code], {
      home,
      env: { CAIRN_RECOVERY_PHRASE: alice.recoveryPhrase },
    });
    expect(recovered.peerId).toBe(alice.info.peerId);
    expect(recovered.snapshots).toBe(1);
    expect(recovered.friends.sort()).toEqual(['bob', 'carol']);
    const snaps = await cairnJson<Array<{ paths: string[] }>>(['snapshots'], { home });
    expect(snaps[0]?.paths).toEqual([tree.root]);
    const target = await tempDir('cairn-mesh-recovered-');
    await cairnJson(['restore', 'latest', '--target', target], { home });
    expect(formatDiffs(await compareTrees(tree.root, join(target, tree.root), { sparse: [tree.sparseFile] }))).toBe('');

    // The recovered agent replicates to its old friends again: a new backup reaches carol.
    const again = await startAgent('alice', { home, existing: { recoveryPhrase: alice.recoveryPhrase } });
    agents.push(again);
    const before = (await packIdsIn(join(carol.home, 'hosted', alice.info.peerId))).length;
    await again.cli(['backup', tree.root, '--tag', 'after-recovery']);
    await again.cli(['replicate']);
    const after = (await packIdsIn(join(carol.home, 'hosted', alice.info.peerId))).length;
    expect(after).toBeGreaterThan(before);
  }, 300_000);
});

describe('replication rounds asked for at once', () => {
  const two: TestAgent[] = [];
  afterAll(async () => {
    for (const a of two) await a.stop();
  });

  it('(daemon and CLI) sign one head per seq: no friend refuses one', async () => {
    const owner = await startAgent('owner', { replicas: 1 }); // one friend: replicas 2 would leave its sources "at risk" (status exit 1)
    two.push(owner);
    const friend = await startAgent('friend');
    two.push(friend);
    await pairAgents(owner, friend);
    for (let i = 0; i < 3; i++) {
      const dir = await tempDir('cairn-mesh-race-');
      await writeFile(join(dir, 'f'), `round ${i}`);
      await owner.cliOk(['backup', dir]); // the daemon starts its own round after a backup
      const rounds = await Promise.all([0, 1, 2].map(() => owner.cli<{ problems: string[]; headSeq: number }>(['replicate'])));
      for (const r of rounds) expect(r.problems, `round ${i}: ${r.problems.join(' | ')}`).toEqual([]);
    }
    for (const p of await owner.cli<Peer[]>(['peers'])) expect(p.problems, `${p.name}: ${p.problems.join(' | ')}`).toEqual([]);
  }, 300_000);

  it('cairn status; cairn unpair: a dry run changes nothing; then the friend is gone; an unknown name is a usage error', async () => {
    const [owner, friend] = two as [TestAgent, TestAgent];
    // (cairn status first, while the friend is there: what the dashboard shows, in a terminal)
    const st = await cairn(['status'], { home: owner.home });
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toMatch(/^owner \(cairn [^)]+\), 1 of 1 friends online$/m);
    expect(st.stdout).toMatch(/local, friend (\d+)\/\1/);
    expect(st.stdout).toMatch(/^replication: (\d+) of \1 packs have 1 copies/m);
    const noAgent = await cairn(['status'], { home: join(await tempDir('cairn-status-'), 'home') });
    expect(noAgent.code).toBe(2);
    expect(noAgent.stderr).toMatch(/no agent is running for .*: nothing runs on schedule/);
    const dry = await owner.cli<{ removed: boolean; name: string; ourPacksAtThem: number }>(['unpair', 'friend', '--dry-run']);
    expect(dry).toMatchObject({ removed: false, name: 'friend' });
    expect(dry.ourPacksAtThem).toBeGreaterThan(0);
    expect((await owner.cli<Peer[]>(['peers'])).map((p) => p.name)).toEqual(['friend']);
    const human = await owner.cliOk(['unpair', friend.info.peerId]);
    expect(human).toMatch(/^removed friend: \d+ of our packs .* at friend no longer count as copies/);
    expect(await owner.cli<Peer[]>(['peers'])).toEqual([]);
    const unknown = await cairn(['unpair', 'nobody'], { home: owner.home });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no friend "nobody" \(friends: none\)/);
  }, 120_000);
});
