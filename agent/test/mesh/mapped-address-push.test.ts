// A port the router maps after friends connected still reaches them: the node pushes its new
// address list (libp2p identify-push, on the address manager's self:peer:update) and the friend's
// node reports it as an identify (peer:identify), which friend presence stores (friend-presence.ts).
import type { IdentifyResult } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, expect, test } from 'vitest';
import { partsOf } from '../../src/mesh/node-parts.js';
import { PORT_MAPPING_LEASE_S } from '../../src/mesh/port-mapping.js';
import { startWireNode } from '../helpers/mesh-wire.js';

const PUSH_WAIT_MS = 10_000;
const nodes: Array<Awaited<ReturnType<typeof startWireNode>>> = [];

afterAll(async () => {
  for (const n of nodes) await n.node.stop();
});

test('an address mapped while a friend is connected is pushed to that friend', async () => {
  const a = await startWireNode();
  const b = await startWireNode();
  nodes.push(a, b);
  const identified = new Promise<void>((resolve) => b.node.addEventListener('peer:identify', () => resolve(), { once: true }));
  await a.node.dial(b.node.getMultiaddrs()[0]!);
  await identified;
  const mapped = '/ip4/25.200.0.100/tcp/4001';
  const pushed = new Promise<boolean>((resolve) => {
    const on = (e: CustomEvent<IdentifyResult>) => {
      if (e.detail.peerId.equals(a.node.peerId) && e.detail.listenAddrs.some((x) => x.toString() === mapped)) resolve(true);
    };
    b.node.addEventListener('peer:identify', on);
  });
  const local = /\/ip4\/127\.0\.0\.1\/tcp\/(\d+)/.exec(a.node.getMultiaddrs()[0]!.toString());
  const am = partsOf(a.node).addressManager;
  am.addPublicAddressMapping('127.0.0.1', Number(local?.[1]), '25.200.0.100', 4001, 'tcp');
  am.confirmObservedAddr(multiaddr(mapped), { type: 'ip-mapping', ttl: PORT_MAPPING_LEASE_S * 1000 });
  expect(a.node.getMultiaddrs().map((x) => x.toString().replace(/\/p2p\/.*$/, ''))).toContain(mapped);
  expect(await Promise.race([pushed, sleep(PUSH_WAIT_MS).then(() => false)])).toBe(true);
});
