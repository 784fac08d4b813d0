// The friend mesh when friends misbehave (real agents, separate processes, libp2p on loopback):
// a friend serving damaged, truncated or missing packs is caught by the owner's SHA-256 check,
// reported, and routed around; a pack damaged at every friend fails the restore loudly and names
// the pack; a friend serving an older head is caught at recovery; grants and the disk floor bound
// what friends store; invites work once and a tampered code is refused before any dial.
import type { PeerListing, ReplicateResult } from '../../../protocol/api.js';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pairAgents, startAgent, type TestAgent } from '../helpers/agents.js';
import { cairn, cairnJson, tempDir } from '../helpers/cli.js';
import { deletePack, flipByte, truncatePack, type PackFile } from '../helpers/damage-packs.js';
import { chargedBytes, copyDir, hostedDir, hostedPacks, replaceDir } from '../helpers/mesh-hosted.js';
import { compareTree, duBytes, Rng, snapshotTree, writeSampleTree, type SampleEntry } from '../helpers/sample-tree.js';
import { compareTrees, formatDiffs } from '../helpers/tree-compare.js';
import { Trio } from '../helpers/trio.js';

const MiB = 1024 * 1024;

type Peer = PeerListing;
type ReplicateJson = ReplicateResult;
interface RestoreJson {
  errors: string[];
  warnings: string[];
  fetched: Record<string, number>;
  files: number;
}
interface RecoverJson {
  snapshots: number;
  friends: string[];
  peerId: string;
  headSeq: number;
  warnings: string[];
}

/** One step of a growing tree: a 1 MiB random file and some small files under step-N/. */
function stepEntries(step: number, bigBytes = MiB, small = 12): SampleEntry[] {
  const rng = new Rng(1000 + step);
  const entries: SampleEntry[] = [{ kind: 'random', path: `step-${step}/big.bin`, size: bigBytes }];
  for (let i = 0; i < small; i++)
    entries.push({ kind: i % 3 === 0 ? 'text' : 'random', path: `step-${step}/d${i % 3}/f${i}.dat`, size: rng.range(1, 24 * 1024) });
  return entries;
}

async function peersOf(agent: TestAgent): Promise<Map<string, Peer>> {
  return new Map((await agent.cli<Peer[]>(['peers'])).map((p) => [p.name, p]));
}

/** Damages every copy in `packs` three ways, round-robin: flip a byte, truncate to half, delete. */
async function damageAll(packs: PackFile[]): Promise<Map<string, string>> {
  const how = new Map<string, string>();
  for (const [i, p] of packs.entries()) {
    if (i % 3 === 0) {
      await flipByte(p.path, Math.floor(p.size / 2), 0x10);
      how.set(p.id, 'flipped');
    } else if (i % 3 === 1) {
      await truncatePack(p.path, Math.floor(p.size / 2));
      how.set(p.id, 'truncated');
    } else {
      await deletePack(p.path);
      how.set(p.id, 'deleted');
    }
  }
  return how;
}

const PACK_IN = /pack ([0-9a-f]{64})/;

/** Pack IDs a friend's problems name (served damaged / could not serve). */
function accusedPacks(peer: Peer | undefined): string[] {
  return (peer?.problems ?? []).flatMap((p) => {
    const m = PACK_IN.exec(p);
    return m ? [m[1] as string] : [];
  });
}

describe('a friend that lies about the packs it keeps', () => {
  let alice: TestAgent;
  let bob: TestAgent;
  let carol: TestAgent;
  let src: string;
  let work: string;
  const agents: TestAgent[] = [];

  beforeAll(async () => {
    work = await tempDir('cairn-liar-');
    src = join(work, 'src');
    alice = await startAgent('alice', { replicas: 2 });
    bob = await startAgent('bob');
    carol = await startAgent('carol');
    agents.push(alice, bob, carol);
    await pairAgents(alice, bob);
    await pairAgents(alice, carol);
    // four backups of a growing tree: the latest snapshot needs several data packs and tree packs
    for (let step = 0; step < 4; step++) {
      await writeSampleTree(src, { seed: 500 + step, entries: stepEntries(step) });
      await alice.cli(['backup', src]);
    }
    const r = await alice.cli<ReplicateJson>(['replicate', '--wait']);
    expect(r).toMatchObject({ wantedCopies: 2, underReplicated: 0 });
    expect(r.packs).toBeGreaterThanOrEqual(5);
  }, 300_000);

  afterAll(async () => {
    for (const a of agents) await a.stop();
    for (const a of agents) await rm(join(a.home, '..'), { recursive: true, force: true });
    if (work) await rm(work, { recursive: true, force: true });
  });

  const restoreFresh = async (label: string): Promise<{ r: RestoreJson; target: string }> => {
    await rm(join(alice.home, 'repo', 'packs'), { recursive: true, force: true });
    const target = join(work, `restore-${label}`);
    const r = await alice.cli<RestoreJson>(['restore', 'latest', '--target', target]);
    return { r, target };
  };

  it("restores identically when one friend's copies are damaged, and reports only that friend", async () => {
    const aliceId = alice.info.peerId;
    const bobPacks = await hostedPacks(bob.home, aliceId);
    const carolPacks = await hostedPacks(carol.home, aliceId);
    expect(bobPacks.map((p) => p.id)).toEqual(carolPacks.map((p) => p.id));
    await copyDir(hostedDir(bob.home, aliceId), join(work, 'bob-pristine'));
    await copyDir(hostedDir(carol.home, aliceId), join(work, 'carol-pristine'));

    // round 1: every copy at bob is damaged (flipped, truncated or deleted)
    const bobDamage = await damageAll(bobPacks);
    const one = await restoreFresh('bob-lies');
    expect(one.r.errors).toEqual([]);
    expect(formatDiffs(await compareTrees(src, join(one.target, src)))).toBe('');
    const afterOne = await peersOf(alice);
    const accusedBob = accusedPacks(afterOne.get('bob'));
    // whatever bob was asked for, he was caught, for exactly the packs that were damaged
    for (const id of accusedBob) expect(bobDamage.has(id), `bob accused of undamaged pack ${id}`).toBe(true);
    expect(afterOne.get('carol')?.problems, 'carol, who kept every pack intact, was accused').toEqual([]);
    // every pack bob served came from the damaged set, so he must not be credited with any fetch
    expect(one.r.fetched.bob ?? 0).toBe(0);

    // round 2: bob's copies repaired, carol's damaged; the owner re-records bob as a holder
    await replaceDir(join(work, 'bob-pristine'), hostedDir(bob.home, aliceId));
    const re = await alice.cli<ReplicateJson>(['replicate', '--wait']);
    expect(re.underReplicated).toBe(0);
    const carolDamage = await damageAll(carolPacks);
    const two = await restoreFresh('carol-lies');
    expect(two.r.errors).toEqual([]);
    expect(formatDiffs(await compareTrees(src, join(two.target, src)))).toBe('');
    const afterTwo = await peersOf(alice);
    const accusedCarol = accusedPacks(afterTwo.get('carol'));
    for (const id of accusedCarol) expect(carolDamage.has(id), `carol accused of undamaged pack ${id}`).toBe(true);
    expect(accusedPacks(afterTwo.get('bob')).sort(), 'bob accused again after his copies were repaired').toEqual(accusedBob.sort());
    expect(two.r.fetched.carol ?? 0).toBe(0);

    // Which friend is asked first depends on load and timing, but a restore that never asked the
    // liar in either round would mean both rounds used only the honest friend: it did not happen.
    const caught = [...accusedBob.map((id) => `bob:${id}`), ...accusedCarol.map((id) => `carol:${id}`)];
    expect(caught.length, 'no lying friend was ever detected').toBeGreaterThan(0);
    // each accusation is also a warning in the agent's log, saying what was wrong with the copy
    for (const c of caught) {
      const [name, id] = c.split(':') as [string, string];
      const how = (name === 'bob' ? bobDamage : carolDamage).get(id);
      const expected = how === 'deleted' ? `warning: friend ${name} could not serve pack ${id}` : `warning: friend ${name} served a damaged copy of pack ${id}`;
      expect(alice.log()).toContain(expected);
    }
    expect(afterTwo.get(accusedBob.length > 0 ? 'bob' : 'carol')?.health).toBe('degraded');
  }, 300_000);

  it("fails loudly, naming the pack, when every friend's copy of a pack is damaged; nothing restored differs", async () => {
    const aliceId = alice.info.peerId;
    await replaceDir(join(work, 'bob-pristine'), hostedDir(bob.home, aliceId));
    await replaceDir(join(work, 'carol-pristine'), hostedDir(carol.home, aliceId));
    const re = await alice.cli<ReplicateJson>(['replicate', '--wait']);
    expect(re.underReplicated).toBe(0);
    // the largest pack is a data pack (tree packs are small): damage it at both friends
    const packs = await hostedPacks(bob.home, aliceId);
    const victim = packs.reduce((a, b) => (b.size > a.size ? b : a));
    const atCarol = (await hostedPacks(carol.home, aliceId)).find((p) => p.id === victim.id);
    expect(atCarol).toBeDefined();
    await flipByte(victim.path, 100, 0x80);
    await truncatePack(atCarol!.path, atCarol!.size - 1);

    await rm(join(alice.home, 'repo', 'packs'), { recursive: true, force: true });
    const target = join(work, 'restore-all-damaged');
    const res = await cairn(['restore', 'latest', '--target', target, '--json'], { home: alice.home });
    expect(res.code, res.stderr).toBe(1);
    const r = JSON.parse(res.stdout) as RestoreJson;
    expect(r.errors.length).toBeGreaterThan(0);
    expect([...r.errors, ...r.warnings].join('\n')).toContain(victim.id);
    expect(res.stderr).toContain(victim.id);
    expect(res.stderr).toMatch(/restore incomplete/);
    // both holders were asked and both are reported for this pack
    const peers = await peersOf(alice);
    expect(accusedPacks(peers.get('bob'))).toContain(victim.id);
    expect(accusedPacks(peers.get('carol'))).toContain(victim.id);
    // files from intact packs are restored; none that is present differs from the source
    const source = await snapshotTree(src);
    expect(await compareTree(source, join(target, src), { allowMissing: true })).toEqual([]);
    const restored = await snapshotTree(join(target, src));
    const files = (m: Map<string, { kind: string }>) => [...m].filter(([, f]) => f.kind === 'file').length;
    expect(files(restored)).toBeGreaterThan(0);
    expect(files(restored)).toBeLessThan(files(source));
  }, 300_000);
});

describe('a friend that rolls back the snapshot list', () => {
  let trio: Trio;
  let work: string;
  let src: string;
  const extraDirs: string[] = [];

  beforeAll(async () => {
    work = await tempDir('cairn-rollback-');
    src = join(work, 'src');
    trio = await Trio.start();
  }, 180_000);

  afterAll(async () => {
    await trio?.stop();
    if (work) await rm(work, { recursive: true, force: true });
    for (const d of extraDirs) await rm(d, { recursive: true, force: true });
  });

  it('recovery takes the newest head and warns that bob serves an older one', async () => {
    const { alice, carol } = trio;
    await writeSampleTree(src, { seed: 7, entries: stepEntries(0, 256 * 1024) });
    await alice.cli(['backup', src]);
    const first = await alice.cli<ReplicateJson>(['replicate', '--wait']);
    // bob's home as it was when he held head seq N
    const putBackBobsOldHome = await trio.keepBobsHome(join(work, 'bob-old-home'));

    await writeSampleTree(src, { seed: 8, entries: stepEntries(1, 256 * 1024) });
    await alice.cli(['backup', src]);
    const second = await alice.cli<ReplicateJson>(['replicate', '--wait']);
    expect(second.headSeq).toBeGreaterThan(first.headSeq);
    expect(second.problems).toEqual([]);

    // bob puts back his old home: he now serves head seq `first.headSeq`
    await putBackBobsOldHome();
    await alice.stop();

    const viaCarol = await recoverWith(carol);
    expect(viaCarol.peerId).toBe(alice.info.peerId);
    // (alice may have published once more after `second`: a head also changes when a friend's
    // address does, and bob came back on a new port; so the newest seq is at least second's)
    expect(viaCarol.headSeq).toBeGreaterThanOrEqual(second.headSeq);
    expect(viaCarol.snapshots).toBe(2);
    const rollback = viaCarol.warnings
      .map((w) => /^bob serves an older snapshot list \(seq (\d+)\) than (\d+) seen elsewhere: it may be rolling us back$/.exec(w))
      .find((m) => m !== null);
    expect(rollback, viaCarol.warnings.join('; ')).toBeDefined();
    const [oldSeq, newSeq] = [Number(rollback?.[1]), Number(rollback?.[2])];
    expect(newSeq).toBe(viaCarol.headSeq);
    expect(oldSeq).toBeGreaterThanOrEqual(first.headSeq);
    expect(oldSeq).toBeLessThan(second.headSeq); // bob's copy is from before the second backup
    expect(viaCarol.warnings.filter((w) => w.startsWith('carol'))).toEqual([]);

    // the same from the liar's own invite: the inviter's head is not trusted over a newer one
    const viaBob = await recoverWith(trio.bob);
    expect(viaBob.headSeq).toBe(viaCarol.headSeq);
    expect(viaBob.snapshots).toBe(2);
    expect(viaBob.warnings).toContain(rollback?.[0]);

    // and the recovered home restores the newest snapshot identically
    const target = join(work, 'restored');
    const r = await cairnJson<RestoreJson>(['restore', 'latest', '--target', target], { home: viaBob.home });
    expect(r.errors).toEqual([]);
    expect(formatDiffs(await compareTrees(src, join(target, src)))).toBe('');
  }, 400_000);

  async function recoverWith(friend: TestAgent): Promise<RecoverJson & { home: string }> {
    const { code } = await friend.cli<{ code: string }>(['invite']);
    const dir = await tempDir('cairn-recovered-');
    extraDirs.push(dir);
    const home = join(dir, 'home');
    const r = await cairnJson<RecoverJson>(['recover', '--invite', code], { home, env: { CAIRN_RECOVERY_PHRASE: trio.alice.recoveryPhrase } });
    return { ...r, home };
  }
});

describe('grants, the disk floor and one-time invites', () => {
  let alice: TestAgent;
  let bob: TestAgent;
  let dave: TestAgent;
  let work: string;
  const agents: TestAgent[] = [];

  beforeAll(async () => {
    work = await tempDir('cairn-quota-');
    alice = await startAgent('alice', { replicas: 2 });
    bob = await startAgent('bob');
    dave = await startAgent('dave', { diskFloor: '1000T' });
    agents.push(alice, bob, dave);
  }, 180_000);

  afterAll(async () => {
    for (const a of agents) await a.stop();
    for (const a of agents) await rm(join(a.home, '..'), { recursive: true, force: true });
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('an invite works once; a tampered code is refused with a checksum message', async () => {
    const one = await alice.cli<{ code: string }>(['invite', '--quota', '1G']);
    const two = await alice.cli<{ code: string }>(['invite', '--quota', '1G']);
    await bob.cli(['pair', one.code, '--quota', '2M']);
    // dave tries bob's code (another invite is open, so alice lets him connect)
    const reused = await cairn(['pair', one.code, '--quota', '1G'], { home: dave.home });
    expect(reused.code, reused.stderr).toBe(1);
    expect(reused.stderr).toMatch(/already used/);
    expect(reused.stderr.trim().split('\n')).toHaveLength(1);
    // one changed character in the payload
    const i = Math.floor(two.code.length / 2);
    const tampered = two.code.slice(0, i) + (two.code[i] === 'A' ? 'B' : 'A') + two.code.slice(i + 1);
    const bad = await cairn(['pair', tampered, '--quota', '1G'], { home: dave.home });
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toMatch(/checksum/);
    await dave.cli(['pair', two.code, '--quota', '1G']);
    expect([...(await peersOf(alice)).keys()].sort()).toEqual(['bob', 'dave']);
    // both codes are now used: the original joiner cannot pair again with his code either
    const again = await cairn(['pair', one.code, '--quota', '2M'], { home: bob.home });
    expect(again.code, again.stderr).toBe(1);
    expect(again.stderr).toMatch(/already used/);
  }, 180_000);

  it('bob stores at most his 2 MiB grant; dave refuses everything for his disk floor; replicate --wait says why', async () => {
    const src = join(work, 'src');
    // ten backups of 1 MiB of new random data each: ten data packs of about 1 MiB
    for (let step = 0; step < 10; step++) {
      await writeSampleTree(src, { seed: 900 + step, entries: stepEntries(step, MiB, 2) });
      await alice.cli(['backup', src]);
    }
    const waited = await cairn(['replicate', '--wait', '--json'], { home: alice.home });
    expect(waited.code, waited.stderr).toBe(1);
    const why = waited.stderr.trim();
    expect(why.split('\n'), why).toHaveLength(1);
    expect(why).toMatch(/fewer than 2 copies/);
    const r = JSON.parse(waited.stdout) as ReplicateJson;
    expect(r.underReplicated).toBe(r.packs);
    expect(r.problems.join('\n')).toMatch(/dave refused pack [0-9a-f]{12}: disk nearly full/);

    // the round the agent schedules after the last backup can start behind this one and still
    // push a small pack that fits what is left of the grant: the disk and both books are compared
    // once they agree (the grant bound below holds at every moment)
    let atBob = 0;
    // what bob charges alice for them (each pack at least MIN_PACK_CHARGE_BYTES): what both books show
    let chargedAtBob = 0;
    await expect
      .poll(
        async () => {
          atBob = await duBytes(hostedDir(bob.home, alice.info.peerId));
          chargedAtBob = await chargedBytes(bob.home, alice.info.peerId);
          const bobBook = (await peersOf(bob)).get('alice')?.storedForPeerBytes;
          const aliceBook = (await peersOf(alice)).get('bob')?.storedAtPeerBytes;
          expect(chargedAtBob, `bob charges alice ${chargedAtBob} bytes under a ${2 * MiB}-byte grant`).toBeLessThanOrEqual(2 * MiB);
          return bobBook === chargedAtBob && aliceBook === chargedAtBob;
        },
        { timeout: 60_000, interval: 500 },
      )
      .toBe(true);
    expect(atBob, 'bob holds nothing: the grant bound is not exercised').toBeGreaterThan(0);
    expect(atBob, `bob holds ${atBob} bytes for alice under a ${2 * MiB}-byte grant`).toBeLessThanOrEqual(2 * MiB);
    expect(await duBytes(hostedDir(dave.home, alice.info.peerId))).toBe(0);
    const bobView = (await peersOf(bob)).get('alice');
    expect(bobView?.storedForPeerBytes).toBe(chargedAtBob);
    expect(bobView?.grantToPeer).toBe(2 * MiB);

    const peers = await peersOf(alice);
    expect(peers.get('bob')?.storedAtPeerBytes).toBe(chargedAtBob);
    expect(peers.get('bob')?.storedAtPeerBytes).toBeLessThanOrEqual(peers.get('bob')!.grantFromPeer);
    expect(peers.get('bob')?.shortfall).toMatch(/granted|quota/);
    expect(peers.get('dave')?.shortfall).toMatch(/E_DISK_FLOOR/);
    expect(peers.get('dave')?.packsAtPeer).toBe(0);

    // a second round changes nothing: still bounded, still failing with the same one-line reason
    const again = await cairn(['replicate', '--wait', '--json'], { home: alice.home });
    expect(again.code).toBe(1);
    expect(await duBytes(hostedDir(bob.home, alice.info.peerId))).toBe(atBob);
  }, 300_000);

  it('a stranger holding a used code, while no invite is open, gets an error that says what happened', async () => {
    const { code } = await alice.cli<{ code: string }>(['invite', '--quota', '1G']);
    const carol = await startAgent('carol');
    agents.push(carol);
    await carol.cli(['pair', code, '--quota', '1G']);
    const eve = await startAgent('eve');
    agents.push(eve);
    const stolen = await cairn(['pair', code, '--quota', '1G'], { home: eve.home });
    expect(stolen.code, stolen.stderr).toBe(1);
    expect(stolen.stderr.trim().split('\n')).toHaveLength(1);
    // alice's gate drops a stranger before pairing could answer "used"; the message must still
    // say what happened rather than print an undefined error
    expect(stolen.stderr).toMatch(/already used|cannot reach the inviter/);
    expect(stolen.stderr).not.toMatch(/undefined/);
    expect([...(await peersOf(alice)).keys()].sort()).toEqual(['bob', 'carol', 'dave']);
  }, 180_000);
});

describe("recovery after a friend's address changed (engine bug repro)", () => {
  let alice: TestAgent;
  let bob: TestAgent;
  let carol: TestAgent;
  let work: string;
  const agents: TestAgent[] = [];

  beforeAll(async () => {
    work = await tempDir('cairn-moved-');
    const src = join(work, 'src');
    alice = await startAgent('alice', { replicas: 2 });
    bob = await startAgent('bob');
    carol = await startAgent('carol');
    agents.push(alice, bob, carol);
    await pairAgents(alice, bob);
    await pairAgents(alice, carol);
    await writeSampleTree(src, { seed: 11, entries: stepEntries(0, 128 * 1024) });
    await alice.cli(['backup', src]);
    await alice.cli(['replicate', '--wait']);
    // carol restarts on the same home and gets a new port (as after a reboot or a new LAN address)
    await carol.stop();
    carol = await startAgent('carol', { home: carol.home, existing: { recoveryPhrase: carol.recoveryPhrase } });
    agents.push(carol);
    const now = carol.info.addrs.map((a) => a.replace(/\/p2p\/[^/]+$/, '')).sort();
    let seen: string[] = [];
    for (let i = 0; i < 100; i++) {
      const c = (await alice.cli<Array<Peer & { addresses: string[] }>>(['peers'])).find((p) => p.name === 'carol');
      seen = [...(c?.addresses ?? [])].sort();
      if (c?.online && JSON.stringify(seen) === JSON.stringify(now)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    // alice knows carol's new address and replicates successfully after the move
    expect(seen).toEqual(now);
    const r = await alice.cli<ReplicateJson>(['replicate', '--wait']);
    expect(r.problems).toEqual([]);
    await alice.stop();
  }, 300_000);

  afterAll(async () => {
    for (const a of agents) await a.stop();
    for (const a of agents) await rm(join(a.home, '..'), { recursive: true, force: true });
    if (work) await rm(work, { recursive: true, force: true });
  });

  // Fails today: the signed head seals the friend list with addresses, but nextHead() only makes a
  // new head when snapshots or grants change, so friends keep serving a head with carol's old
  // address and the recovering host cannot reach her although alice knew the new one.
  it('recovery through bob reaches carol at the address alice last knew', async () => {
    const { code } = await bob.cli<{ code: string }>(['invite']);
    const dir = await tempDir('cairn-moved-recovered-');
    try {
      const r = await cairnJson<RecoverJson>(['recover', '--invite', code], { home: join(dir, 'home'), env: { CAIRN_RECOVERY_PHRASE: alice.recoveryPhrase } });
      expect(r.friends.sort()).toEqual(['bob', 'carol']);
      expect(r.warnings).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
