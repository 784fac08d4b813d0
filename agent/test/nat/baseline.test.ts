// Baseline of issue 18 on the NAT lab, real agents from dist/ in namespaces: two homes behind easy
// NATs and one public host. What works today: an agent behind NAT pairs with the public agent by
// invite (the code handed over as text), backs up, replicates to it and restores from it after its
// local packs are gone, because it dials out; the public agent's own replicas reach the NATed friends
// over the connections they opened. The two agents behind NAT cannot reach each other directly
// (each only knows the other's LAN address and its router drops what arrives unasked), but both
// hold a reservation on the public friend's relay, so they pair through it (relay.test.ts goes on
// to back up and restore through it).
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { decodeInvite } from '../../../protocol/invite.js';
import type { PeerListing } from '../../../protocol/api.js';
import type { StatusResult } from '../../../protocol/console-api.js';
import { tempDir } from '../helpers/cli.js';
import { describeNatLab, dropUdp, NatLab } from '../helpers/natlab.js';
import { tcpProbe } from '../helpers/natlab-probes.js';
import { LAB_P2P_PORT, startLabAgent, stopLabAgents, type LabAgent } from '../helpers/natlab-agents.js';
import { compareTrees, formatDiffs } from '../helpers/tree-compare.js';
import { packIdsIn } from '../helpers/damage-packs.js';

describeNatLab('baseline: agents behind easy NATs and a public friend', () => {
  let lab: NatLab;
  let pub: LabAgent;
  let alice: LabAgent;
  let bob: LabAgent;
  const agents: LabAgent[] = [];

  beforeAll(async () => {
    lab = await NatLab.create({
      homes: [
        { name: 'a', nat: 'easy' },
        { name: 'b', nat: 'easy' },
      ],
      publicHosts: ['pub'],
    });
    // the home routers drop UDP: WebRTC cannot upgrade the relayed connections these tests are about
    // (webrtc-trials.test.ts and webrtc-agents.test.ts test the upgrade)
    for (const home of ['a', 'b']) await dropUdp(lab, home);
    [pub, alice, bob] = await Promise.all([startLabAgent(lab, 'pub', 'pub'), startLabAgent(lab, 'a', 'alice'), startLabAgent(lab, 'b', 'bob')]);
    agents.push(pub, alice, bob);
  }, 240_000);

  afterAll(async () => {
    await stopLabAgents(agents);
    await lab?.destroy();
  });

  test("agents listen and advertise their namespace's address, not loopback", () => {
    for (const a of agents) {
      expect(a.info.addrs.length, a.name).toBeGreaterThan(0);
      for (const addr of a.info.addrs)
        expect(addr, a.name).toMatch(new RegExp(`^/ip4/${lab.addressOf(a.host).replace(/\./g, '\\.')}/tcp/${LAB_P2P_PORT}(/p2p/\\w+)?$`));
    }
  });

  test('each NATed agent pairs with the public one by invite text; back up, replicate --wait, lose the packs, restore identical bytes', async () => {
    for (const joiner of [alice, bob]) {
      const { code } = await pub.cli<{ code: string }>(['invite', '--quota', '1G']);
      expect(decodeInvite(code).addrs).toEqual([`/ip4/${lab.addressOf('pub')}/tcp/${LAB_P2P_PORT}`]);
      await joiner.cli(['pair', code, '--quota', '1G']);
    }
    expect((await pub.cli<PeerListing[]>(['peers'])).map((p) => p.name).sort()).toEqual(['alice', 'bob']);

    const src = join(await tempDir('cairn-lab-src-'), 'src');
    await mkdir(join(src, 'sub'), { recursive: true });
    await writeFile(join(src, 'big.bin'), randomBytes(6 * 1024 * 1024));
    for (let i = 0; i < 20; i++) await writeFile(join(src, 'sub', `f${i}.txt`), `file ${i} ${randomBytes(64).toString('hex')}\n`);
    await alice.cli(['backup', src]);
    const r = await alice.cli<{ packs: number; underReplicated: number }>(['replicate', '--wait']);
    expect(r.underReplicated).toBe(0);
    const local = await packIdsIn(join(alice.home, 'repo', 'packs'));
    expect(local.length).toBeGreaterThan(0);
    expect((await packIdsIn(join(pub.home, 'hosted', alice.info.peerId))).sort()).toEqual([...local].sort());
    // the public agent saw alice arrive from her router's WAN address, and holds her LAN address
    // (and, once she holds a reservation on its relay, her relayed address there)
    const seen = (await pub.cli<PeerListing[]>(['peers'])).find((p) => p.name === 'alice');
    expect(seen?.addresses).toContain(`/ip4/${lab.addressOf('a')}/tcp/${LAB_P2P_PORT}`);
    expect(seen?.addresses.every((a) => a === `/ip4/${lab.addressOf('a')}/tcp/${LAB_P2P_PORT}` || a.includes('/p2p-circuit'))).toBe(true);

    await rm(join(alice.home, 'repo', 'packs'), { recursive: true, force: true });
    const target = await tempDir('cairn-lab-restore-');
    const restored = await alice.cli<{ errors: string[]; fetched: Record<string, number> }>(['restore', 'latest', '--target', target]);
    expect(restored.errors).toEqual([]);
    expect(Object.keys(restored.fetched)).toEqual(['pub']);
    expect(formatDiffs(await compareTrees(src, join(target, src)))).toBe('');
    await rm(join(src, '..'), { recursive: true, force: true });
    await rm(target, { recursive: true, force: true });
  });

  test('the public agent replicates to the NATed friends over the connections they opened (it cannot dial their LAN addresses)', async () => {
    const src = await tempDir('cairn-lab-pub-src-');
    await writeFile(join(src, 'pub.bin'), randomBytes(1024 * 1024));
    await pub.cli(['backup', src]);
    const r = await pub.cli<{ underReplicated: number; wantedCopies: number }>(['replicate', '--wait']);
    expect(r).toMatchObject({ underReplicated: 0, wantedCopies: 1, problems: [] });
    const local = await packIdsIn(join(pub.home, 'repo', 'packs'));
    const held = [...(await packIdsIn(join(alice.home, 'hosted', pub.info.peerId))), ...(await packIdsIn(join(bob.home, 'hosted', pub.info.peerId)))];
    expect(held.sort()).toEqual([...local].sort());
    // pub has only their LAN addresses, which lead nowhere from the internet
    for (const f of ['a', 'b']) expect((await tcpProbe(lab, 'pub', lab.addressOf(f), LAB_P2P_PORT)).error).toMatch(/^E(NET|HOST)UNREACH$/);
    await rm(src, { recursive: true, force: true });
  });

  test("the two NATed agents pair through the public agent's relay: the invite carries bob's LAN address and his relayed and WebRTC addresses", async () => {
    const relayed = `/ip4/${lab.addressOf('pub')}/tcp/${LAB_P2P_PORT}/p2p/${pub.info.peerId}/p2p-circuit`;
    // bob reserves on pub's relay once pub's dial-back found him unreachable (SPEC 13.1)
    const relaying = async () => (JSON.parse((await bob.cairn(['status', '--json'])).stdout) as StatusResult).reachability?.relays.includes('pub');
    for (let i = 0; i < 60 && !(await relaying()); i++) await new Promise((r) => setTimeout(r, 1000));
    const { code } = await bob.cli<{ code: string }>(['invite', '--quota', '1G']);
    expect(decodeInvite(code).addrs.sort()).toEqual([`/ip4/${lab.addressOf('b')}/tcp/${LAB_P2P_PORT}`, relayed, `${relayed}/webrtc`].sort());
    await alice.cli(['pair', code, '--quota', '1G']);
    const peers = await alice.cli<PeerListing[]>(['peers']);
    expect(peers.map((p) => p.name)).toEqual(['bob', 'pub']);
    expect(peers.find((p) => p.name === 'bob')).toMatchObject({ reach: 'relayed', via: 'pub' });
  });
});
