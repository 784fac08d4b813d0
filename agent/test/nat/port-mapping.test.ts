// Issue 18, port mapping: agents behind home routers that run miniupnpd (UPnP IGD and/or NAT-PMP,
// nftables) map their listening port, say so, and tell friends the mapped address: a public agent
// pairs with them through it. With port-mapping: false the router is never asked and nothing gets
// through. Behind a carrier-grade NAT the home router has no public address (miniupnpd answers
// NAT-PMP "network failure" and UPnP an empty address): the agent says so in plain words. The lab's
// internet uses routable-looking addresses (miniupnpd refuses to map behind a private WAN address);
// it has no link out of its namespaces.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PeerListing } from '../../../protocol/api.js';
import type { PortMappingStatus, StatusResult } from '../../../protocol/console-api.js';
import { decodeInvite } from '../../../protocol/invite.js';
import { describeNatLabUpnp, NatLab, ROUTABLE_LOOKING_NET } from '../helpers/natlab.js';
import { LAB_P2P_PORT, startLabAgent, stopLabAgents, type LabAgent } from '../helpers/natlab-agents.js';

/** NAT-PMP gives up after 3.75 s, a UPnP search listens 5 s: an answer comes well within this. */
const SETTLE_MS = 60_000;

describeNatLabUpnp('port mapping: UPnP IGD and NAT-PMP on home routers; CGNAT said in plain words', () => {
  let lab: NatLab;
  let pub: LabAgent;
  let viaUpnp: LabAgent;
  let viaPmp: LabAgent;
  let off: LabAgent;
  let cgnat: LabAgent;
  let noRouter: LabAgent;
  const agents: LabAgent[] = [];

  /** The agent's port mapping once it is no longer searching. */
  const settled = async (a: LabAgent): Promise<PortMappingStatus> => {
    const until = performance.now() + SETTLE_MS;
    for (;;) {
      const s = (await a.cli<StatusResult>(['status'])).portMapping;
      if (s.state !== 'searching' || performance.now() > until) return s;
      await sleep(250);
    }
  };
  const dnatRules = async (home: string): Promise<string> =>
    (await lab.execOk(lab.routerOf(home), 'nft', ['list', 'chain', 'inet', 'cairnlab_upnp', 'prerouting_miniupnpd']))
      .split('\n')
      .filter((l) => /dnat/.test(l))
      .join('\n');

  beforeAll(async () => {
    lab = await NatLab.create({
      internetNet: ROUTABLE_LOOKING_NET,
      publicHosts: ['pub'],
      homes: [
        { name: 'u', nat: 'easy', portMapping: 'upnp' },
        { name: 'p', nat: 'easy', portMapping: 'nat-pmp' },
        { name: 'n', nat: 'easy', portMapping: true },
        { name: 'c', nat: 'cgnat', portMapping: true },
        { name: 'x', nat: 'easy' },
      ],
    });
    [pub, viaUpnp, viaPmp, off, cgnat, noRouter] = await Promise.all([
      startLabAgent(lab, 'pub', 'pub'),
      startLabAgent(lab, 'u', 'upnp-home'),
      startLabAgent(lab, 'p', 'pmp-home'),
      startLabAgent(lab, 'n', 'no-mapping', { config: 'port-mapping: false\n' }),
      startLabAgent(lab, 'c', 'cgnat-home'),
      startLabAgent(lab, 'x', 'plain-home'),
    ]);
    agents.push(pub, viaUpnp, viaPmp, off, cgnat, noRouter);
  }, 300_000);

  afterAll(async () => {
    await stopLabAgents(agents);
    await lab?.destroy();
  });

  for (const [home, via] of [
    ['u', 'UPnP IGD'],
    ['p', 'NAT-PMP'],
  ] as const) {
    test(`${via}: the agent maps its port, says so, and a public agent pairs through the mapping`, async () => {
      const a = home === 'u' ? viaUpnp : viaPmp;
      const mapped = `/ip4/${lab.publicAddressOf(home)}/tcp/${LAB_P2P_PORT}`;
      expect(await settled(a)).toEqual({
        state: 'mapped',
        via,
        address: mapped,
        message: `the router forwards ${mapped} to this agent (${via}); friends are told that address`,
      });
      expect(a.log()).toContain(`port mapping: the router forwards ${mapped} to this agent (${via})`);
      expect((await a.cairn(['status'])).stdout).toContain(`port mapping: the router forwards ${mapped}`);
      expect(await dnatRules(home)).toContain(`dport ${LAB_P2P_PORT} dnat ip to ${lab.addressOf(home)}:${LAB_P2P_PORT}`);
      // friends are told the mapped address (the invite carries it beside the LAN one) ...
      const { code } = await a.cli<{ code: string }>(['invite', '--quota', '1G']);
      expect(decodeInvite(code).addrs).toContain(mapped);
      // ... and the public agent, which cannot reach the LAN address, gets in through it
      await pub.cli(['pair', code, '--quota', '1G']);
      expect((await pub.cli<PeerListing[]>(['peers'])).find((p) => p.name === a.name)?.online).toBe(true);
    }, 120_000);
  }

  test('port-mapping: false: the router is never asked, nothing is forwarded, the public agent cannot pair', async () => {
    expect(await settled(off)).toMatchObject({ state: 'off', via: null, address: null });
    expect(await dnatRules('n')).toBe('');
    const { code } = await off.cli<{ code: string }>(['invite', '--quota', '1G']);
    expect(decodeInvite(code).addrs).toEqual([`/ip4/${lab.addressOf('n')}/tcp/${LAB_P2P_PORT}`]);
    // the router's WAN port leads nowhere
    const tryPair = await pub.cairn(['pair', code, '--quota', '1G']);
    expect(tryPair.code).toBe(1);
    expect(tryPair.stderr).toMatch(/cannot reach the inviter/);
  }, 120_000);

  test("behind CGNAT: the agent says in plain words that it is reachable only through friends' relays, and maps nothing", async () => {
    const s = await settled(cgnat);
    expect(s.state).toBe('no-public-address');
    expect(s.address).toBeNull();
    expect(s.message).toMatch(
      /^behind carrier-grade or double NAT \(the router has no public address, (NAT-PMP|UPnP IGD)\): reachable only through friends' relays$/,
    );
    expect(cgnat.log()).toContain(`port mapping: ${s.message}`);
    expect((await cgnat.cairn(['status'])).stdout).toContain(`port mapping: ${s.message}`);
    expect(await dnatRules('c')).toBe('');
  }, 120_000);

  test('a router that speaks neither: after NAT-PMP goes unanswered and the UPnP search ends, the agent says so', async () => {
    expect(await settled(noRouter)).toEqual({
      state: 'no-router',
      via: null,
      address: null,
      message: 'no router answered NAT-PMP or UPnP IGD: friends reach this agent through a port you forward (announce) or through their relays',
    });
  }, 120_000);

  test('a stopping agent removes its mapping from the router', async () => {
    for (const [home, a] of [
      ['u', viaUpnp],
      ['p', viaPmp],
    ] as const) {
      expect(await dnatRules(home)).not.toBe('');
      await a.stop();
      expect(await dnatRules(home), a.name).toBe('');
    }
  }, 60_000);

  test('an agent listening only on loopback does not ask the router (a mapping could not reach it)', async () => {
    const again = await startLabAgent(lab, 'p', 'pmp-home', { home: viaPmp.home, listen: '/ip4/127.0.0.1/tcp/4001' });
    agents.push(again);
    expect(await settled(again)).toEqual({
      state: 'not-on-lan',
      via: null,
      address: null,
      message: `the agent does not listen on ${lab.addressOf('p')}, the address the router knows: the router is not asked`,
    });
    expect(await dnatRules('p')).toBe('');
  }, 120_000);
});
