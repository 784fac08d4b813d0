// Baseline of issue 18, the README's way today: a friend behind an easy NAT with a port forward on
// its router and `--announce` of the router's WAN address is reachable from another home: pairing
// and replication work. Announcing the WAN address without the forward does not help, the router
// drops the unasked connection and pairing fails naming the addresses it tried. With the forward,
// alice's dial-back confirms carol public, and alice (unreachable) reserves on carol's relay.
import { randomBytes } from 'node:crypto';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { decodeInvite } from '../../../protocol/invite.js';
import type { PeerListing } from '../../../protocol/api.js';
import type { StatusResult } from '../../../protocol/console-api.js';
import { tempDir } from '../helpers/cli.js';
import { describeNatLab, NatLab } from '../helpers/natlab.js';
import { LAB_P2P_PORT, startLabAgent, stopLabAgents, type LabAgent } from '../helpers/natlab-agents.js';

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describeNatLab('baseline: a port forward and --announce make a NATed friend reachable', () => {
  let lab: NatLab;
  let alice: LabAgent;
  let carol: LabAgent;
  let dave: LabAgent;
  const agents: LabAgent[] = [];

  beforeAll(async () => {
    lab = await NatLab.create({
      homes: [
        { name: 'a', nat: 'easy' },
        { name: 'c', nat: 'easy', portForwards: [{ proto: 'tcp', port: LAB_P2P_PORT }] },
        { name: 'd', nat: 'easy' },
      ],
    });
    const announce = (home: string) => ['--announce', `/ip4/${lab.publicAddressOf(home)}/tcp/${LAB_P2P_PORT}`];
    [alice, carol, dave] = await Promise.all([
      startLabAgent(lab, 'a', 'alice'),
      startLabAgent(lab, 'c', 'carol', { extraArgs: announce('c') }),
      startLabAgent(lab, 'd', 'dave', { extraArgs: announce('d') }),
    ]);
    agents.push(alice, carol, dave);
  }, 240_000);

  afterAll(async () => {
    await stopLabAgents(agents);
    await lab?.destroy();
  });

  test("with the forward: alice pairs with carol through carol's router and replicates to her", async () => {
    const { code } = await carol.cli<{ code: string }>(['invite', '--quota', '1G']);
    expect(decodeInvite(code).addrs.sort()).toEqual(
      [`/ip4/${lab.addressOf('c')}/tcp/${LAB_P2P_PORT}`, `/ip4/${lab.publicAddressOf('c')}/tcp/${LAB_P2P_PORT}`].sort(),
    );
    await alice.cli(['pair', code, '--quota', '1G']);
    const src = await tempDir('cairn-lab-pf-src-');
    await writeFile(join(src, 'data.bin'), randomBytes(2 * 1024 * 1024));
    await alice.cli(['backup', src]);
    const r = await alice.cli<{ underReplicated: number; packs: number }>(['replicate', '--wait']);
    expect(r.underReplicated).toBe(0);
    const held = await readdir(join(carol.home, 'hosted', alice.info.peerId)).catch(() => []);
    expect(held.length).toBeGreaterThan(0);
    // and carol sees alice online: the connection alice opened through the forward
    expect((await carol.cli<PeerListing[]>(['peers'])).find((p) => p.name === 'alice')?.online).toBe(true);
    // alice's dial-back confirms carol's forwarded address: carol is public and relays for alice,
    // whose own address nobody can dial (SPEC 13.1)
    const wan = `/ip4/${lab.publicAddressOf('c')}/tcp/${LAB_P2P_PORT}`;
    const reach = async (a: LabAgent) => (JSON.parse((await a.cairn(['status', '--json'])).stdout) as StatusResult).reachability;
    let c = await reach(carol);
    let a = await reach(alice);
    for (let i = 0; i < 60 && (c?.state !== 'public' || a?.state !== 'relayed'); i++) {
      await new Promise((r) => setTimeout(r, 1000));
      [c, a] = [await reach(carol), await reach(alice)];
    }
    expect(c).toMatchObject({ state: 'public', confirmed: [wan], confirmedBy: ['alice'] });
    expect(a).toMatchObject({ state: 'relayed', relays: ['carol'] });
    await rm(src, { recursive: true, force: true });
  });

  test("without the forward: announcing the router's address does not help, pairing fails naming both addresses", async () => {
    const { code } = await dave.cli<{ code: string }>(['invite', '--quota', '1G']);
    const r = await alice.cairn(['pair', code, '--quota', '1G']);
    expect(r.code).toBe(1);
    const lan = `/ip4/${lab.addressOf('d')}/tcp/${LAB_P2P_PORT}`;
    const wan = `/ip4/${lab.publicAddressOf('d')}/tcp/${LAB_P2P_PORT}`;
    expect(r.stderr.trim()).toMatch(
      new RegExp(
        `^cairn: cannot reach the inviter at (${esc(lan)}, ${esc(wan)}|${esc(wan)}, ${esc(lan)}): .*\\(the invite may be used or expired, or the agent stopped\\)$`,
      ),
    );
    expect((await alice.cli<PeerListing[]>(['peers'])).map((p) => p.name)).toEqual(['carol']);
  });
});
