// Issue 18 must-hold 6: two friends on one LAN (one bridge, no announce, stored addresses that no
// longer work) find each other by mDNS and connect directly within 10 s; a stranger on the same LAN
// is heard (its mDNS answers reach them) but never dialled, and never dials them. Real agents from
// dist/ in namespaces of one home; nft counters in each namespace see every TCP SYN and mDNS packet.
// Relies on @libp2p/mdns answering every query for the service tag with the PeerId and private
// addresses of the node (its gotQuery), and asking once at start and then every interval.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PeerListing } from '../../../protocol/api.js';
import { describeNatLab, NatLab } from '../helpers/natlab.js';
import { startLabAgent, stopLabAgents, type LabAgent } from '../helpers/natlab-agents.js';

/** Must-hold 6: friends on one LAN are connected within this long of both running. */
const FOUND_WITHIN_MS = 10_000;
/** The control waits longer than that, and more than two mDNS query intervals. */
const CONTROL_WAIT_MS = 12_000;

// per host: SYNs it sends to each other host, mDNS packets it sends and receives from each
const counters = (self: string, others: Record<string, string>) => `table inet cairnlab_count {
${Object.keys(others)
  .map((n) => `  counter syn_to_${n} {\n  }\n  counter mdns_from_${n} {\n  }\n`)
  .join('')}  counter mdns_out {
  }
  chain out {
    type filter hook output priority 0; policy accept;
${Object.entries(others)
  .map(([n, ip]) => `    ip daddr ${ip} tcp flags & (syn | ack) == syn counter name "syn_to_${n}"`)
  .join('\n')}
    ip saddr ${self} udp dport 5353 counter name "mdns_out"
  }
  chain in {
    type filter hook input priority 0; policy accept;
${Object.entries(others)
  .map(([n, ip]) => `    ip saddr ${ip} udp dport 5353 counter name "mdns_from_${n}"`)
  .join('\n')}
  }
}
`;

describeNatLab('LAN discovery: friends on one LAN find each other by mDNS, strangers are not contacted', () => {
  let lab: NatLab;
  let alice: LabAgent;
  let bob: LabAgent;
  let carol: LabAgent;
  const agents: LabAgent[] = [];
  const hosts = ['h1', 'h2', 'h3'] as const;

  const count = async (host: string, counter: string): Promise<number> => {
    const out = await lab.execOk(host, 'nft', ['list', 'counter', 'inet', 'cairnlab_count', counter]);
    return Number(/packets (\d+)/.exec(out)?.[1] ?? NaN);
  };
  const resetCounters = async () => {
    for (const h of hosts) await lab.execOk(h, 'nft', ['reset', 'counters', 'table', 'inet', 'cairnlab_count']);
  };
  const online = async (a: LabAgent, friend: string): Promise<PeerListing | undefined> =>
    (await a.cli<PeerListing[]>(['peers'])).find((p) => p.name === friend && p.online);
  /** Restarts alice and bob on their homes, listening on `port` (friends stored the old port). */
  const restartPair = async (port: number, config: string) => {
    await alice.stop();
    await bob.stop();
    const again = (a: LabAgent) => startLabAgent(lab, a.host, a.name, { home: a.home, listen: `/ip4/${lab.addressOf(a.host)}/tcp/${port}`, config });
    [alice, bob] = await Promise.all([again(alice), again(bob)]);
    agents.push(alice, bob);
  };

  beforeAll(async () => {
    lab = await NatLab.create({ homes: [{ name: 'home', nat: 'easy', hosts: [...hosts] }] });
    for (const h of hosts) {
      const others = Object.fromEntries(hosts.filter((o) => o !== h).map((o) => [o, lab.addressOf(o)]));
      await lab.nft(h, counters(lab.addressOf(h), others));
    }
    [alice, bob, carol] = await Promise.all([startLabAgent(lab, 'h1', 'alice'), startLabAgent(lab, 'h2', 'bob'), startLabAgent(lab, 'h3', 'carol')]);
    agents.push(alice, bob, carol);
    // alice and bob are friends (paired at their port 4001 addresses); carol is nobody's friend
    const { code } = await bob.cli<{ code: string }>(['invite', '--quota', '1G']);
    await alice.cli(['pair', code, '--quota', '1G']);
  }, 240_000);

  afterAll(async () => {
    await stopLabAgents(agents);
    await lab?.destroy();
  });

  test('control: with lan-discovery: false and their stored addresses stale, the friends stay apart and send no mDNS', async () => {
    await restartPair(4003, 'lan-discovery: false\n');
    await resetCounters();
    await sleep(CONTROL_WAIT_MS);
    expect(await online(alice, 'bob')).toBeUndefined();
    expect(await online(bob, 'alice')).toBeUndefined();
    expect(await count('h1', 'mdns_out')).toBe(0);
    expect(await count('h2', 'mdns_out')).toBe(0);
    // carol still asks (her mDNS is on): the silence is alice's and bob's
    expect(await count('h3', 'mdns_out')).toBeGreaterThan(0);
  }, 120_000);

  test('by mDNS the friends connect directly within 10 s on their new port; carol is heard by both and dialled by neither', async () => {
    await resetCounters();
    await restartPair(4002, 'lan-discovery: true\n');
    const deadline = performance.now() + FOUND_WITHIN_MS;
    let seen: [PeerListing | undefined, PeerListing | undefined] = [undefined, undefined];
    while (performance.now() < deadline && !(seen[0] && seen[1])) {
      seen = [await online(alice, 'bob'), await online(bob, 'alice')];
      if (!(seen[0] && seen[1])) await sleep(200);
    }
    expect(seen[0], 'alice sees bob online').toBeDefined();
    expect(seen[1], 'bob sees alice online').toBeDefined();
    // directly, at the LAN address mDNS announced (identify then stored it in place of the old one)
    expect(seen[0]?.addresses).toContain(`/ip4/${lab.addressOf('h2')}/tcp/4002`);
    // and `cairn peers` says so: reached on the LAN, each at an IP the other announced by mDNS (the
    // side that was dialled hears the other's answer at its next query at the latest)
    const reachDeadline = performance.now() + CONTROL_WAIT_MS;
    let reach = seen.map((p) => p?.reach);
    while (performance.now() < reachDeadline && !reach.every((r) => r === 'lan')) {
      await sleep(500);
      reach = [(await online(alice, 'bob'))?.reach, (await online(bob, 'alice'))?.reach];
    }
    expect(reach).toEqual(['lan', 'lan']);
    expect(alice.log() + bob.log()).toMatch(/lan: friend \w+ found on this network, connected at \/ip4\/192\.168\.\d+\.\d+\/tcp\/4002/);

    // the stranger answered them (its announcements reached both), yet no TCP SYN went either way
    for (const h of ['h1', 'h2']) {
      expect(await count(h, 'mdns_from_h3'), `${h} heard carol`).toBeGreaterThan(0);
      expect(await count(h, 'syn_to_h3'), `${h} dialled carol`).toBe(0);
      expect(await count('h3', `syn_to_${h}`), `carol dialled ${h}`).toBe(0);
    }
  }, 120_000);

  test('an agent listening only on loopback stays off the LAN: no mDNS at all', async () => {
    await carol.stop();
    await resetCounters();
    carol = await startLabAgent(lab, 'h3', 'carol', { home: carol.home, listen: '/ip4/127.0.0.1/tcp/4001' });
    agents.push(carol);
    // alice and bob keep asking; carol neither asks nor answers
    await sleep(CONTROL_WAIT_MS);
    expect(await count('h1', 'mdns_out')).toBeGreaterThan(0);
    expect(await count('h3', 'mdns_out')).toBe(0);
  }, 120_000);
});
