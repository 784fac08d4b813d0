// The NAT lab behaves like the routers it stands for (helpers/natlab.ts): probes in the namespaces
// show masquerade (the internet sees the router's WAN address), endpoint-independent mapping on an
// easy NAT and endpoint-dependent random ports on a hard one, a CGNAT home seen as its carrier,
// unsolicited inbound dropped on every router's WAN side (and getting through once those rules are
// removed, so the probe can tell), a port forward, two hosts on one LAN, nothing routed outside the
// lab, and namespaces removed by destroy() and by the sweep of a dead test run's leftovers.
import { spawnSync } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { describeNatLab, NatLab, NS_PREFIX, sweepStaleNatLabs } from '../helpers/natlab.js';
import { multicastProbe, splitEndpoint, startEchoServers, tcpProbe, tcpProbeMany, udpProbe } from '../helpers/natlab-probes.js';

const ECHO = 7001;
const ECHO2 = 7002;
const UNSOLICITED = 7100;
const FORWARDED = 7300;

async function namespaces(): Promise<string[]> {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(NS_PREFIX));
}

describeNatLab('NAT lab: routers in network namespaces', () => {
  let lab: NatLab;

  beforeAll(async () => {
    lab = await NatLab.create({
      homes: [
        { name: 'a', nat: 'easy', hosts: ['a', 'a2'] },
        { name: 'b', nat: 'hard' },
        { name: 'c', nat: 'cgnat' },
        {
          name: 'd',
          nat: 'easy',
          portForwards: [
            { proto: 'tcp', port: FORWARDED },
            { proto: 'udp', port: FORWARDED },
          ],
        },
      ],
      publicHosts: ['pub', 'pub2'],
    });
    await Promise.all([
      ...['pub', 'pub2'].map((h) => startEchoServers(lab, h, { tcp: [ECHO], udp: [ECHO, ECHO2] })),
      // on the routers themselves, and on a LAN host: nothing unsolicited may reach them
      ...['a-router', 'b-router', 'c-carrier'].map((r) => startEchoServers(lab, r, { tcp: [UNSOLICITED], udp: [UNSOLICITED] })),
      startEchoServers(lab, 'a', { tcp: [UNSOLICITED + 1] }),
      startEchoServers(lab, 'a2', { tcp: [ECHO] }),
      startEchoServers(lab, 'd', { tcp: [FORWARDED], udp: [FORWARDED] }),
    ]);
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  test("masquerade: the public host sees the router's WAN address, never a LAN address", async () => {
    for (const host of ['a', 'a2', 'b', 'c', 'd']) {
      const r = await tcpProbe(lab, host, lab.addressOf('pub'), ECHO);
      expect(r.error, host).toBeUndefined();
      expect(splitEndpoint(r.seen!).address, host).toBe(lab.publicAddressOf(host));
      expect(lab.publicAddressOf(host), host).not.toBe(lab.addressOf(host));
      expect(lab.addressOf(host)).toMatch(/^192\.168\.\d+\.\d+$/);
    }
    expect(lab.publicAddressOf('a')).toBe(lab.addressOf('a-router'));
    expect(lab.publicAddressOf('a2')).toBe(lab.addressOf('a-router'));
  });

  test('easy NAT: one internal socket keeps one external port toward every destination (endpoint-independent)', async () => {
    const dests = ['pub', 'pub2'].flatMap((h) => [ECHO, ECHO2].map((p) => `${lab.addressOf(h)}:${p}`));
    for (const host of ['a', 'd']) {
      const r = await udpProbe(lab, host, dests);
      expect(
        r.seen.every((s) => s !== null && !s.startsWith('error:')),
        JSON.stringify(r),
      ).toBe(true);
      const seen = r.seen.map((s) => splitEndpoint(s!));
      expect(new Set(seen.map((s) => s.address))).toEqual(new Set([lab.publicAddressOf(host)]));
      // one mapping for all four destinations, and Linux masquerade keeps the port when it is free
      expect(new Set(seen.map((s) => s.port))).toEqual(new Set([r.local]));
    }
  });

  test('hard NAT: a new random external port per destination (endpoint-dependent)', async () => {
    const dests = ['pub', 'pub2'].flatMap((h) => [ECHO, ECHO2].map((p) => `${lab.addressOf(h)}:${p}`));
    const r = await udpProbe(lab, 'b', dests);
    expect(
      r.seen.every((s) => s !== null && !s.startsWith('error:')),
      JSON.stringify(r),
    ).toBe(true);
    const seen = r.seen.map((s) => splitEndpoint(s!));
    expect(new Set(seen.map((s) => s.address))).toEqual(new Set([lab.publicAddressOf('b')]));
    // four destinations, four random ports: two chance collisions among 64k ports would be needed to fail
    expect(new Set(seen.map((s) => s.port)).size, JSON.stringify(r)).toBeGreaterThanOrEqual(3);
  });

  test("CGNAT: the home router's WAN is in 100.64/10 and the internet sees the carrier's address", async () => {
    expect(lab.addressOf('c-router')).toMatch(/^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.\d+\.\d+$/);
    expect(lab.publicAddressOf('c')).toBe(lab.addressOf('c-carrier'));
    expect(lab.publicAddressOf('c')).not.toBe(lab.addressOf('c-router'));
    const r = await udpProbe(lab, 'c', [`${lab.addressOf('pub')}:${ECHO}`, `${lab.addressOf('pub2')}:${ECHO}`]);
    const seen = r.seen.map((s) => splitEndpoint(s ?? 'none:0'));
    expect(seen.map((s) => s.address)).toEqual([lab.addressOf('c-carrier'), lab.addressOf('c-carrier')]);
    // two easy NATs in a row: still one external port for both destinations
    expect(seen[0]!.port).toBe(seen[1]!.port);
    // the public host has no way to the carrier's inside network
    expect((await tcpProbe(lab, 'pub', lab.addressOf('c-router'), UNSOLICITED)).error).toMatch(/^E(NET|HOST)UNREACH$/);
  });

  test("unsolicited inbound TCP and UDP to a router's WAN address is dropped; without the drop rules it gets through", async () => {
    const routers = ['a-router', 'b-router', 'c-carrier'];
    const [tcp, udp] = await Promise.all([
      tcpProbeMany(lab, 'pub', [...routers.map((r) => `${lab.addressOf(r)}:${UNSOLICITED}`), `${lab.addressOf('a-router')}:${UNSOLICITED + 1}`]),
      Promise.all(routers.map((r) => udpProbe(lab, 'pub2', [`${lab.addressOf(r)}:${UNSOLICITED}`]))),
    ]);
    for (const [i, r] of routers.entries()) {
      expect(tcp[i], r).toEqual({ error: 'TIMEOUT' });
      expect(udp[i]!.seen, r).toEqual([null]);
    }
    // the LAN host behind listens too: without a port forward nothing reaches it either
    expect(tcp[routers.length]).toEqual({ error: 'TIMEOUT' });
    // the negative control: the same probes reach the router once its WAN filter is gone
    await lab.dropUnsolicited('a-router', false);
    try {
      expect(await tcpProbe(lab, 'pub', lab.addressOf('a-router'), UNSOLICITED)).toEqual({ seen: expect.stringMatching(`^${lab.addressOf('pub')}:`) });
      expect((await udpProbe(lab, 'pub', [`${lab.addressOf('a-router')}:${UNSOLICITED}`])).seen[0]).toMatch(new RegExp(`^${lab.addressOf('pub')}:`));
    } finally {
      await lab.dropUnsolicited('a-router', true);
    }
    expect(await tcpProbe(lab, 'pub', lab.addressOf('a-router'), UNSOLICITED)).toEqual({ error: 'TIMEOUT' });
  });

  test('a port forward on a home router reaches the LAN host (TCP and UDP), unchanged source', async () => {
    const t = await tcpProbe(lab, 'pub', lab.addressOf('d-router'), FORWARDED);
    expect(splitEndpoint(t.seen ?? 'none:0').address).toBe(lab.addressOf('pub'));
    const u = await udpProbe(lab, 'pub', [`${lab.addressOf('d-router')}:${FORWARDED}`]);
    expect(splitEndpoint(u.seen[0] ?? 'none:0').address).toBe(lab.addressOf('pub'));
    // another home's router forwards nothing
    expect(await tcpProbe(lab, 'pub', lab.addressOf('a-router'), FORWARDED)).toEqual({ error: 'TIMEOUT' });
  });

  test("two hosts on one home LAN reach each other directly, without NAT, and hear each other's multicast", async () => {
    const r = await tcpProbe(lab, 'a', lab.addressOf('a2'), ECHO);
    expect(splitEndpoint(r.seen ?? 'none:0').address).toBe(lab.addressOf('a'));
    // multicast on the LAN (mDNS's group and port) reaches the other host, and does not leave the home
    expect(await multicastProbe(lab, 'a', 'a2', '224.0.0.251', 5353)).toMatch(new RegExp(`^${lab.addressOf('a')}:\\d+ hello from a$`));
    expect(await multicastProbe(lab, 'a', 'b', '224.0.0.251', 5353, 1_500)).toBe('none');
    // another home's LAN is not reachable from here
    expect((await tcpProbe(lab, 'a', lab.addressOf('b'), ECHO)).error).toMatch(/^(E(NET|HOST)UNREACH|TIMEOUT)$/);
  });

  test('nothing routes outside the lab: every host fails to reach non-lab addresses', async () => {
    const outside = ['192.0.2.1', '198.51.100.1'];
    const rootAddr = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    if (rootAddr) outside.push(rootAddr);
    const hosts = lab.hosts.filter((h) => h !== 'internet');
    const probes = await Promise.all(
      hosts.map((h) =>
        tcpProbeMany(
          lab,
          h,
          outside.map((a) => `${a}:80`),
        ),
      ),
    );
    for (const [i, host] of hosts.entries()) {
      // refused or answered would mean it arrived somewhere; a router rate-limits its ICMP, so some time out
      for (const [j, r] of probes[i]!.entries()) expect(r.error, `${host} -> ${outside[j]}`).toMatch(/^(E(NET|HOST)UNREACH|TIMEOUT)$/);
      // no IPv6 at all, not even link-local, that could pass beside the NAT
      expect(
        JSON.parse(await lab.execOk(host, 'ip', ['-6', '-j', 'addr', 'show'])).flatMap((l: { addr_info: unknown[] }) => l.addr_info),
        host,
      ).toEqual([]);
      // every route stays inside the lab's subnets
      const routes = JSON.parse(await lab.execOk(host, 'ip', ['-j', 'route', 'show'])) as Array<{ dst: string; gateway?: string }>;
      for (const route of routes) {
        expect(route.dst === 'default' ? route.gateway : route.dst, `${host}: ${JSON.stringify(route)}`).toMatch(
          /^(10\.200\.0\.|192\.168\.\d+\.|100\.64\.0\.)/,
        );
      }
    }
  });
});

describeNatLab('NAT lab: cleanup', () => {
  test("destroy() removes the lab's namespaces and what runs in them; a failed create leaves nothing", async () => {
    const before = await namespaces();
    const lab = await NatLab.create({ homes: [{ name: 'x', nat: 'easy' }], publicHosts: ['p'] });
    const server = await startEchoServers(lab, 'p', { tcp: [ECHO] });
    expect((await namespaces()).filter((n) => n.startsWith(`${lab.id}-`)).length).toBe(4);
    await lab.destroy();
    expect(server.exitCode !== null || server.signalCode !== null).toBe(true);
    expect((await namespaces()).filter((n) => n.startsWith(`${lab.id}-`))).toEqual([]);
    await expect(NatLab.create({ homes: [{ name: 'y', nat: 'easy' }], publicHosts: ['y'] })).rejects.toThrow(/two hosts named y/);
    expect((await namespaces()).filter((n) => n.startsWith(`${NS_PREFIX}${process.pid}-`)).sort()).toEqual(
      before.filter((n) => n.startsWith(`${NS_PREFIX}${process.pid}-`)).sort(),
    );
  });

  test('the sweep removes namespaces left by a test run that died, and only those', async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    const stale = `${NS_PREFIX}${dead}-0-left`;
    spawnSync('ip', ['netns', 'add', stale]);
    const live = await NatLab.create({ publicHosts: ['p'] });
    try {
      expect(await namespaces()).not.toContain(stale); // create() swept it
      spawnSync('ip', ['netns', 'add', stale]);
      const swept = await sweepStaleNatLabs();
      expect(swept).toContain(stale);
      expect(swept.filter((n) => n.startsWith(`${live.id}-`))).toEqual([]);
      expect(await namespaces()).toContain(`${live.id}-p`);
    } finally {
      await live.destroy();
    }
  });
});
