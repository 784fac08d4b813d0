// Issue 18, relays among friends, on the NAT lab with real agents from dist/: a public agent and
// three homes, two behind easy NATs and one behind a hard (random-port) NAT. Every NATed agent
// pairs with the public one, learns from its dial-back (/cairn/reach/1.0.0) that nobody reaches it
// directly and reserves on the public agent's relay; the public one learns it is reachable. Two
// NATed agents then pair by invite text through that relay, back up, replicate and restore from
// each other through it; the hard-NAT home does the same in a few rounds. Relies on
// @libp2p/circuit-relay-v2 4.2 (relay server without default limits, relay transport listening on
// a friend's relay) and on the lab's routers dropping unsolicited inbound connections.
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { PeerListing } from '../../../protocol/api.js';
import { decodeInvite } from '../../../protocol/invite.js';
import { ROOT, tempDir } from '../helpers/cli.js';
import { LAB_P2P_PORT, startLabAgent, stopLabAgents, type LabAgent } from '../helpers/natlab-agents.js';
import { describeNatLab, dropUdp, NatLab } from '../helpers/natlab.js';
import { packIdsIn } from '../helpers/damage-packs.js';
import { labFriend, labReachability, labRoundTrip, labSourceTree } from '../helpers/lab-checks.js';

// A stranger: a plain libp2p node (TCP, Noise, Yamux, the relay transport) run in a namespace with
// this process's Node from the repository (its node_modules). Argument: JSON {pub, pubId, alice}.
// It connects to pub, tries to reserve on pub's relay, to reach alice through it, and to open a
// Cairn protocol on alice through it; prints what each attempt got.
const STRANGER = `
import { createLibp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { multiaddr } from '@multiformats/multiaddr';
const { pub, pubId, alice } = JSON.parse(process.argv[1]);
const node = await createLibp2p({ transports: [tcp(), circuitRelayTransport()], connectionEncrypters: [noise()], streamMuxers: [yamux()], services: { identify: identify() } });
const out = {};
const attempt = async (name, fn) => { try { await fn(); out[name] = 'ok'; } catch (e) { out[name] = (e?.name ?? 'Error') + ': ' + (e?.message ?? String(e)); } };
const signal = () => AbortSignal.timeout(15000);
await attempt('connect', () => node.dial(multiaddr(pub + '/p2p/' + pubId), { signal: signal() }));
await attempt('reserve', () => node.components.transportManager.listen([multiaddr(pub + '/p2p/' + pubId + '/p2p-circuit')]));
const circuit = multiaddr(pub + '/p2p/' + pubId + '/p2p-circuit/p2p/' + alice);
await attempt('relay', () => node.dial(circuit, { signal: signal() }));
await attempt('protocol', () => node.dialProtocol(circuit, '/cairn/pack-list/1.0.0', { signal: signal() }));
console.log(JSON.stringify(out));
await node.stop();
`;

describeNatLab('relays among friends: NATed agents reach each other through a public friend', () => {
  let lab: NatLab;
  let pub: LabAgent;
  let alice: LabAgent;
  let bob: LabAgent;
  let hana: LabAgent;
  const agents: LabAgent[] = [];

  beforeAll(async () => {
    lab = await NatLab.create({
      homes: [
        { name: 'a', nat: 'easy' },
        { name: 'b', nat: 'easy' },
        { name: 'h', nat: 'hard' },
      ],
      publicHosts: ['pub', 'evil'],
    });
    // the home routers drop UDP: WebRTC cannot upgrade the relayed connections these tests are about
    // (webrtc-trials.test.ts and webrtc-agents.test.ts test the upgrade)
    for (const home of ['a', 'b', 'h']) await dropUdp(lab, home);
    [pub, alice, bob, hana] = await Promise.all([
      startLabAgent(lab, 'pub', 'pub'),
      startLabAgent(lab, 'a', 'alice'),
      startLabAgent(lab, 'b', 'bob'),
      startLabAgent(lab, 'h', 'hana'),
    ]);
    agents.push(pub, alice, bob, hana);
    // pub offers the NATed agents less space than one pack is charged (MIN_PACK_CHARGE_BYTES): their
    // packs go to each other, through pub's relay (replication would otherwise prefer pub, reached
    // directly, over a friend reached only through a relay)
    for (const joiner of [alice, bob, hana]) {
      const { code } = await pub.cli<{ code: string }>(['invite', '--quota', '32K']);
      await joiner.cli(['pair', code, '--quota', '1G']);
    }
  }, 300_000);

  afterAll(async () => {
    await stopLabAgents(agents);
    await lab?.destroy();
  });

  test('friends dial each other back: the public agent is confirmed public, the NATed ones hold a reservation on its relay', async () => {
    const p = await labReachability(pub, 'public');
    expect(p.confirmed).toEqual([`/ip4/${lab.addressOf('pub')}/tcp/${LAB_P2P_PORT}`]);
    expect(p.confirmedBy.length).toBeGreaterThan(0);
    for (const a of [alice, bob, hana]) {
      const r = await labReachability(a, 'relayed', ['pub']);
      expect(r.summary).toBe('behind NAT: reachable through pub');
    }
    const status = await alice.cairn(['status']);
    expect(status.stdout).toContain('reachability: behind NAT: reachable through pub');
    expect((await pub.cairn(['status'])).stdout).toMatch(/reachability: public: friends reach this host directly \(confirmed by [a-z, ]+\)/);
  });

  test('two agents behind easy NATs pair by invite text through the relay, back up, replicate, and restore from each other: identical bytes', async () => {
    await labReachability(bob, 'relayed', ['pub']);
    const { code } = await bob.cli<{ code: string }>(['invite', '--quota', '1G']);
    const relayed = `/ip4/${lab.addressOf('pub')}/tcp/${LAB_P2P_PORT}/p2p/${pub.info.peerId}/p2p-circuit`;
    expect(decodeInvite(code).addrs).toContain(relayed);
    await alice.cli(['pair', code, '--quota', '1G']);
    const bobAtAlice = await labFriend(alice, 'bob');
    expect(bobAtAlice).toMatchObject({ online: true, reach: 'relayed', via: 'pub' });
    expect(bobAtAlice.addresses).toContain(relayed);
    expect(await labFriend(bob, 'alice')).toMatchObject({ reach: 'relayed', via: 'pub' });
    expect(await labFriend(alice, 'pub')).toMatchObject({ reach: 'direct', via: null });
    expect((await alice.cairn(['peers'])).stdout).toMatch(/bob\s+yes\s+relayed via pub/);

    const src = await labSourceTree('relay');
    await labRoundTrip(alice, bob, src, 'relay');
    // pub's relay carried the pack out and back: its owner sees that per friend (relay budgets, SPEC 13.1)
    for (const name of ['alice', 'bob']) expect((await labFriend(pub, name)).relayedForPeer.todayBytes, name).toBeGreaterThan(12 * 1024 * 1024);
    expect((await pub.cairn(['peers'])).stdout).toMatch(/our relay carried \d+(\.\d+)? MiB for alice today/);
    await rm(join(src, '..'), { recursive: true, force: true });
  });

  test('hard NAT to easy NAT: the agents fall back to the relay and every round completes', async () => {
    await labReachability(alice, 'relayed', ['pub']);
    const { code } = await alice.cli<{ code: string }>(['invite', '--quota', '1G']);
    await hana.cli(['pair', code, '--quota', '1G']);
    expect(await labFriend(hana, 'alice')).toMatchObject({ reach: 'relayed', via: 'pub' });
    const src = await tempDir('cairn-lab-hard-src-');
    for (let round = 0; round < 3; round++) {
      await writeFile(join(src, `round${round}.bin`), randomBytes(1024 * 1024));
      await hana.cli(['backup', src]);
      const r = await hana.cli<{ underReplicated: number }>(['replicate', '--wait']);
      expect(r.underReplicated, `round ${round}`).toBe(0);
      expect(await packIdsIn(join(alice.home, 'hosted', hana.info.peerId)), `round ${round}`).toEqual(await packIdsIn(join(hana.home, 'repo', 'packs')));
    }
    await rm(src, { recursive: true, force: true });
  });

  test("a stranger cannot reserve on a friend's relay, nor be relayed through it to a friend, nor reach a Cairn protocol that way, even while an invite is open", async () => {
    // an open invite at pub lets the stranger connect (for pairing): only the relay rules stand in its way
    await pub.cli(['invite', '--quota', '1G']);
    const args = JSON.stringify({ pub: `/ip4/${lab.addressOf('pub')}/tcp/${LAB_P2P_PORT}`, pubId: pub.info.peerId, alice: alice.info.peerId });
    const r = await lab.exec('evil', process.execPath, ['--input-type=module', '-e', STRANGER, args], { cwd: ROOT, timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, string>;
    expect(got.connect).toBe('ok');
    expect(got.reserve).toMatch(/PERMISSION_DENIED/);
    expect(got.relay).toMatch(/PERMISSION_DENIED/);
    expect(got.protocol).not.toBe('ok');
    expect((await alice.cli<PeerListing[]>(['peers'])).map((p) => p.name)).not.toContain('evil');
  });
});
