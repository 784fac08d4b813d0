// Issue 18, direct when possible, at node level on the NAT lab (must-hold 2's 20 connection trials
// and must-hold 3): mesh nodes as the agent builds them (node.ts with WebRTC, direct-upgrade.ts,
// stun-server.ts; from dist/) in namespaces: a public friend whose relay and STUN responder the
// others use, two homes behind easy NATs and one behind a hard (random-port) NAT. Twenty times the
// two easy-NAT nodes connect through the relay and must end on a direct link within 10 s in at
// least 19; bytes sent after the upgrade must not cross the relay (counted by nftables at the relay's
// TCP port). Hard NAT to easy NAT: the upgrade gives up within 15 s (an injected deadline, not a speed
// claim) and the relayed connection carries the transfer, every time.
// Relies on: @libp2p/webrtc 6.0 (private-to-private: signalling over an existing relayed connection,
// ICE servers from rtcConfiguration, `/webrtc` listen address advertised on relayed addresses),
// @libp2p/circuit-relay-v2 4.2, and libp2p 3.3 opening new streams on a direct connection rather than
// a relayed one (connection-manager findExistingConnection). 20 whole-agent trials would take too long
// for `npm test`: webrtc-agents.test.ts does one full round trip with agents.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { describeNatLab, dropUdp, NatLab } from '../helpers/natlab.js';
import { LabMeshNode, RelayByteCounter, type ConnectResult } from '../helpers/natlab-mesh-node.js';

const PORT = 4001;
const TRIALS = Number(process.env.WEBRTC_TRIALS ?? 20);
const DIRECT_WINDOW_MS = 10_000;
const FALLBACK_DEADLINE_MS = 15_000;
const AFTER_UPGRADE_BYTES = 2 * 1024 * 1024;
const MAX_RELAYED_AFTER_UPGRADE = 1024 * 1024;

describeNatLab('direct when possible: WebRTC through home NATs, STUN from a friend, signalling over its relay', () => {
  let lab: NatLab;
  let pub: LabMeshNode;
  let a: LabMeshNode;
  let b: LabMeshNode;
  let h: LabMeshNode;
  let evil: LabMeshNode;
  let counter: RelayByteCounter;
  const nodes: LabMeshNode[] = [];
  const relayedAddr = (n: LabMeshNode) => `/ip4/${lab.addressOf('pub')}/tcp/${PORT}/p2p/${pub.peerId}/p2p-circuit/p2p/${n.peerId}`;

  beforeAll(async () => {
    lab = await NatLab.create({
      homes: [
        { name: 'a', nat: 'easy' },
        { name: 'b', nat: 'easy' },
        { name: 'h', nat: 'hard' },
      ],
      publicHosts: ['pub', 'evil'],
    });
    const seeds = { pub: randomBytes(32), a: randomBytes(32), b: randomBytes(32), h: randomBytes(32) };
    const evilSeed = randomBytes(32);
    const ids = Object.fromEntries(await Promise.all(Object.entries(seeds).map(async ([k, s]) => [k, await LabMeshNode.peerIdOf(s)] as const)));
    const start = (host: keyof typeof seeds) =>
      LabMeshNode.start(lab, host, {
        seed: seeds[host],
        listen: `/ip4/${lab.addressOf(host)}/tcp/${PORT}`,
        friends: Object.entries(ids)
          .filter(([k]) => k !== host)
          .map(([, v]) => v),
        // pub has an invite open: strangers may connect to it (to pair), which the WebRTC guard must hold against
        inviteOpen: host === 'pub',
      });
    [pub, a, b, h] = await Promise.all([start('pub'), start('a'), start('b'), start('h')]);
    // a stranger that takes pub for its friend
    evil = await LabMeshNode.start(lab, 'evil', { seed: evilSeed, listen: `/ip4/${lab.addressOf('evil')}/tcp/${PORT}`, friends: [ids.pub as string] });
    nodes.push(pub, a, b, h, evil);
    counter = await RelayByteCounter.install(lab, 'pub', PORT);
    // each NATed node dials the public friend and holds a reservation on its relay
    const pubAddr = `/ip4/${lab.addressOf('pub')}/tcp/${PORT}`;
    for (const n of [a, b, h]) {
      expect(await n.call('dial', { addr: `${pubAddr}/p2p/${pub.peerId}` })).toBe('direct');
      const addrs = await n.call<string[]>('reserve', { relay: pub.peerId, addr: pubAddr });
      expect(addrs).toContain(`${pubAddr}/p2p/${pub.peerId}/p2p-circuit/webrtc/p2p/${n.peerId}`);
    }
    // friends know each other's addresses (the agent keeps them in the friends ledger)
    for (const x of [a, b, h]) for (const y of [a, b, h]) if (x !== y) await x.call('know', { peer: y.peerId, addrs: await y.call<string[]>('addrs') });
  }, 240_000);

  afterAll(async () => {
    for (const n of nodes) await n.stop();
    await lab?.destroy();
  });

  test(`two friends behind easy NATs end on a direct WebRTC link within 10 s in at least 19 of ${TRIALS} trials; what follows does not cross the relay`, async () => {
    const results: Array<ConnectResult & { relayedAfter?: number }> = [];
    for (let i = 0; i < TRIALS; i++) {
      const r: ConnectResult & { relayedAfter?: number } = await a.call<ConnectResult>('connect', {
        peer: b.peerId,
        addr: relayedAddr(b),
        deadlineMs: FALLBACK_DEADLINE_MS,
        windowMs: DIRECT_WINDOW_MS,
      });
      expect(r.first, `trial ${i}`).toBe('relayed');
      if (r.directMs !== null) {
        const before = await counter.bytes();
        const sent = await a.call<{ ok: string; link: string }>('sink', { peer: b.peerId, bytes: AFTER_UPGRADE_BYTES });
        expect(sent, `trial ${i}`).toMatchObject({ ok: 'ok', link: 'webrtc' });
        r.relayedAfter = (await counter.bytes()) - before;
      }
      results.push(r);
      await a.call('hangup', { peer: b.peerId });
      await b.call('hangup', { peer: a.peerId });
    }
    const direct = results.filter((r) => r.directMs !== null && r.directMs <= DIRECT_WINDOW_MS);
    expect(direct.length, JSON.stringify(results) + a.log().slice(-3000)).toBeGreaterThanOrEqual(TRIALS - 1);
    for (const r of direct) {
      expect(r.reach).toBe('webrtc');
      expect(r.relayedAfter).toBeLessThanOrEqual(MAX_RELAYED_AFTER_UPGRADE);
    }
    // the NATed nodes learnt their routers' addresses from the public friend's STUN responder
    expect(await pub.call<number>('stunAnswered')).toBeGreaterThan(0);
  }, 600_000);

  test('hard NAT to easy NAT with the punch impossible: every upgrade attempt gives up within 15 s and the relay carries the transfer, in every trial', async () => {
    // A random-port NAT usually defeats the punch from its side (research/nat.md: 0 of 3), but not
    // always: toward an easy NAT, ICE sometimes found a peer-reflexive path in this lab (seen in a
    // full run, and a trial that went direct left the next one starting on WebRTC). The fallback is
    // therefore tested with the punch made impossible: UDP dropped at h's router; each attempt must
    // give up within the deadline and the relay carry the transfer.
    await dropUdp(lab, 'h');
    const outcomes: string[] = [];
    for (let i = 0; i < 3; i++) {
      // each trial starts with no connection between them (an attempt given up may still finish late)
      for (let k = 0; k < 40 && (await h.call<string[]>('links', { peer: a.peerId })).length > 0; k++) {
        await h.call('hangup', { peer: a.peerId });
        await a.call('hangup', { peer: h.peerId });
        await sleep(250);
      }
      const r = await h.call<ConnectResult>('connect', { peer: a.peerId, addr: relayedAddr(a), deadlineMs: FALLBACK_DEADLINE_MS, windowMs: 0 });
      expect(r.first, `trial ${i}: ${JSON.stringify(r)} after ${outcomes.join(', ')}`).toBe('relayed');
      // ended by the deadline, one way or the other ('deadline' when it had not)
      expect(['relayed', 'webrtc', 'direct'], `trial ${i}: ${JSON.stringify(r)}`).toContain(r.outcome);
      outcomes.push(r.outcome);
      const sent = await h.call<{ ok: string; link: string }>('sink', { peer: a.peerId, bytes: 1024 * 1024 });
      expect(sent.ok, `trial ${i}`).toBe('ok');
      expect(sent.link, `trial ${i}`).toBe(r.outcome === 'relayed' ? 'relayed' : sent.link);
      await h.call('hangup', { peer: a.peerId });
      await a.call('hangup', { peer: h.peerId });
    }
    expect(outcomes).toEqual(['relayed', 'relayed', 'relayed']);
  }, 300_000);

  test('a stranger connected while an invite is open cannot open a WebRTC connection to the agent; a friend can', async () => {
    const pubAddr = `/ip4/${lab.addressOf('pub')}/tcp/${PORT}/p2p/${pub.peerId}`;
    // signalling over the TCP connection each already has to pub (@libp2p/webrtc reuses an existing connection)
    expect(await evil.call('dial', { addr: pubAddr })).toBe('direct');
    expect(await evil.call<string>('webrtcDial', { addr: `${pubAddr}/p2p-circuit/webrtc/p2p/${pub.peerId}` })).toMatch(/^refused: /);
    expect(await pub.call<string[]>('links', { peer: evil.peerId })).not.toContain('webrtc');
    expect(await a.call<string>('webrtcDial', { addr: `${pubAddr}/p2p-circuit/webrtc/p2p/${pub.peerId}` })).toBe('webrtc');
  }, 120_000);
});
