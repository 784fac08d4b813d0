// Issue 18 items 4 and 8 on the NAT lab, real agents and a real `cairn relay` from dist/: alice and
// bob each behind carrier-grade NAT (a home router behind a carrier NAT, 100.64/24), no public
// friend. They cannot pair, and say so in plain words. A `cairn relay` on the public host, paired
// by invite text (quota 0), dials them back (they learn they are unreachable) and holds their
// reservations: they pair through it, back up, replicate and restore from each other through it,
// and the relay says what it carried for each. Then alice's host is lost: a fresh host behind an
// easy NAT recovers with `cairn recover --invite` from bob (behind CGNAT) through the relay, and
// restores identical bytes. Relies on @libp2p/circuit-relay-v2 4.2 (relay server without default
// limits, relay transport listening on a friend's relay) and on the lab's routers dropping
// unsolicited inbound connections.
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { ReplicateResult } from '../../../protocol/api.js';
import { decodeInvite } from '../../../protocol/invite.js';
import { CAIRN_BIN, cairnJson, ROOT, TEST_PASSPHRASE, tempDir } from '../helpers/cli.js';
import { packIdsIn } from '../helpers/damage-packs.js';
import { LAB_P2P_PORT, startLabAgent, stopLabAgents, type LabAgent } from '../helpers/natlab-agents.js';
import { describeNatLab, NatLab } from '../helpers/natlab.js';
import { startRelay, type TestRelay } from '../helpers/relay-agent.js';
import { labFriend, labReachability } from '../helpers/lab-checks.js';
import { compareTrees, formatDiffs } from '../helpers/tree-compare.js';

describeNatLab('cairn relay: friends all behind CGNAT', () => {
  let lab: NatLab;
  let relay: TestRelay | undefined;
  let alice: LabAgent;
  let bob: LabAgent;
  let alicePhrase: string;
  const agents: LabAgent[] = [];
  const dirs: string[] = [];
  let src: string;

  beforeAll(async () => {
    lab = await NatLab.create({
      homes: [
        { name: 'a', nat: 'cgnat' },
        { name: 'b', nat: 'cgnat' },
        { name: 'c', nat: 'easy' },
      ],
      publicHosts: ['pub'],
    });
    const aliceHome = join(await tempDir('cairn-lab-alice-'), 'home');
    alicePhrase = (await cairnJson<{ recoveryPhrase: string }>(['init'], { home: aliceHome })).recoveryPhrase;
    [alice, bob] = await Promise.all([startLabAgent(lab, 'a', 'alice', { home: aliceHome }), startLabAgent(lab, 'b', 'bob')]);
    agents.push(alice, bob);
  }, 300_000);

  afterAll(async () => {
    await relay?.destroy();
    await stopLabAgents(agents);
    await lab?.destroy();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  test('with no public friend they cannot pair, and say so in plain words', async () => {
    const { code } = await bob.cli<{ code: string }>(['invite', '--quota', '1G']);
    expect(decodeInvite(code).addrs).toEqual([`/ip4/${lab.addressOf('b')}/tcp/${LAB_P2P_PORT}`]);
    const r = await alice.cairn(['pair', code, '--quota', '1G']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'the invite names no relayed address: if the inviter is behind NAT or CGNAT and no friend of it is reachable, neither can pair until both pair with a `cairn relay` on a public server',
    );
    for (const a of [alice, bob]) {
      const s = await a.cairn(['status']);
      expect(s.stdout).toContain(
        'reachability: unreachable: no friend reached this host directly and none relays for it (behind NAT or CGNAT with no reachable friend: pair with a `cairn relay` on a public server)',
      );
    }
  });

  test('a cairn relay on the public host, paired by invite: they pair through it, replicate and restore from each other', async () => {
    relay = await startRelay('relay', { lab: { lab, host: 'pub' }, listen: `/ip4/${lab.addressOf('pub')}/tcp/${LAB_P2P_PORT}` });
    for (const a of [alice, bob]) {
      const code = await relay.invite();
      expect(decodeInvite(code).quotaBytes).toBe(0);
      await a.cli(['pair', code, '--quota', '0']);
    }
    // the relay dialled them back and failed: each holds a reservation on it
    for (const a of [alice, bob]) expect((await labReachability(a, 'relayed', ['relay'])).summary).toBe('behind NAT: reachable through relay');
    const rs = await relay.status();
    expect(rs.friends.map((f) => [f.name, f.online, f.reserved])).toEqual([
      ['alice', true, true],
      ['bob', true, true],
    ]);

    const { code } = await bob.cli<{ code: string }>(['invite', '--quota', '1G']);
    expect(decodeInvite(code).addrs).toContain(`/ip4/${lab.addressOf('pub')}/tcp/${LAB_P2P_PORT}/p2p/${relay.info.peerId}/p2p-circuit`);
    await alice.cli(['pair', code, '--quota', '1G']);
    // and why, in plain words: alice is behind (CG)NAT and bob answers at no direct address, or the
    // upgrade to a direct or WebRTC connection was already tried and failed (both behind CGNAT)
    expect(await labFriend(alice, 'bob')).toMatchObject({
      online: true,
      reach: 'relayed',
      via: 'relay',
      reachWhy: expect.stringMatching(
        /^(we are behind (CG)?NAT and it answers at no direct address: reached|its direct and WebRTC upgrade failed (once|\d+ times in a row) \(hard NAT or CGNAT on a side\): relayed) through relay's relay$/,
      ),
    });
    expect(await labFriend(alice, 'relay')).toMatchObject({ reach: 'direct', grantFromPeer: 0 });

    src = join(await tempDir('cairn-lab-cgnat-src-'), 'src');
    dirs.push(join(src, '..'));
    await mkdir(join(src, 'sub'), { recursive: true });
    await writeFile(join(src, 'big.bin'), randomBytes(4 * 1024 * 1024));
    for (let i = 0; i < 20; i++) await writeFile(join(src, 'sub', `f${i}.txt`), `file ${i} ${randomBytes(64).toString('hex')}\n`);
    await alice.cli(['backup', src]);
    const r = await alice.cli<ReplicateResult>(['replicate', '--wait']);
    expect(r.underReplicated).toBe(0);
    expect(r.problems).toEqual([]);
    const local = await packIdsIn(join(alice.home, 'repo', 'packs'));
    expect(local.length).toBeGreaterThan(0);
    expect(await packIdsIn(join(bob.home, 'hosted', alice.info.peerId))).toEqual(local);

    await rm(join(alice.home, 'repo', 'packs'), { recursive: true, force: true });
    const target = await tempDir('cairn-lab-cgnat-restore-');
    dirs.push(target);
    const restored = await alice.cli<{ errors: string[]; fetched: Record<string, number> }>(['restore', 'latest', '--target', target]);
    expect(restored.errors).toEqual([]);
    expect(Object.keys(restored.fetched)).toEqual(['bob']);
    expect(formatDiffs(await compareTrees(src, join(target, src)))).toBe('');

    // the relay carried the pack out and back, and says so per friend
    const after = await relay.status();
    for (const f of after.friends) expect(f.relayedForPeer.totalBytes, f.name).toBeGreaterThan(8 * 1024 * 1024);
    expect((await relay.cairn(['relay', 'status'])).stdout).toMatch(/relay relay: 2 friends, 2 connected, 2 reservations; relayed \d+(\.\d+)? MiB today/);
  });

  test('recover --invite on a fresh host behind NAT, every friend behind NAT but the relay: then restore', async () => {
    await alice.stop();
    const home = join(await tempDir('cairn-lab-recovered-'), 'home');
    dirs.push(join(home, '..'));
    const phraseFile = join(home, '..', 'phrase');
    await writeFile(phraseFile, alicePhrase + '\n', { mode: 0o600 });
    const { code } = await bob.cli<{ code: string }>(['invite', '--quota', '1G']);
    const env = { ...process.env, CAIRN_HOME: home, CAIRN_PASSPHRASE: TEST_PASSPHRASE };
    const rec = await lab.exec('c', process.execPath, [CAIRN_BIN, 'recover', '--invite', code, '--phrase-file', phraseFile, '--json'], {
      env,
      cwd: ROOT,
      timeoutMs: 180_000,
    });
    expect(rec.code, rec.stderr).toBe(0);
    const got = JSON.parse(rec.stdout) as { peerId: string; friends: string[]; snapshots: number; packs: number; warnings: string[] };
    expect(got.peerId).toBe(alice.info.peerId);
    expect(got.friends.sort()).toEqual(['bob', 'relay']);
    expect(got.snapshots).toBe(1);
    expect(got.packs).toBeGreaterThan(0);
    expect(got.warnings).toEqual([]);

    const recovered = await startLabAgent(lab, 'c', 'alice', { home });
    agents.push(recovered);
    const target = await tempDir('cairn-lab-recovered-restore-');
    dirs.push(target);
    const restored = await recovered.cli<{ errors: string[]; fetched: Record<string, number> }>(['restore', 'latest', '--target', target]);
    expect(restored.errors).toEqual([]);
    expect(Object.keys(restored.fetched)).toEqual(['bob']);
    expect(formatDiffs(await compareTrees(src, join(target, src)))).toBe('');
  });
});
