// LanDiscovery's handling of mDNS answers, with a stand-in node that counts dials: a friend's answer
// is dialled at its LAN addresses, at most once per LAN_REDIAL_MS and never while a dial or a
// connection is open; a stranger's answer is never dialled. What friends announce is remembered
// (friends only, LAN addresses only) so that a direct connection to such an address shows as "LAN"
// (reachOf, with real libp2p nodes on loopback). (The real thing on a LAN of namespaces:
// agent/test/nat/lan-discovery.test.ts.)
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Libp2p, PeerId, PeerInfo } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { expect, test } from 'vitest';
import type { MeshContext } from '../../src/mesh/context.js';
import type { FriendGate } from '../../src/mesh/friend-gate.js';
import { LAN_QUERY_INTERVAL_MS, LAN_REDIAL_MS, LanAnnouncements, LanDiscovery } from '../../src/mesh/lan-discovery.js';
import { reachOf } from '../../src/mesh/reachability.js';
import { startWireNode } from '../helpers/mesh-wire.js';

async function peer(): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
}

test("only a friend's answer is dialled, at most once per LAN_REDIAL_MS, not while a dial or a connection is open", async () => {
  const [friend, stranger] = [await peer(), await peer()];
  let now = 1_000_000;
  const dials: Multiaddr[][] = [];
  let settle: (() => void) | undefined;
  let connected = false;
  const node = {
    getConnections: () => (connected ? [{}] : []),
    dial: (addrs: Multiaddr[]) => {
      dials.push(addrs);
      return new Promise((_resolve, reject) => (settle = () => reject(new Error('refused'))));
    },
  } as unknown as Libp2p;
  const ctx = { node, clock: { now: () => now } } as unknown as MeshContext;
  const gate = { isFriend: (id: string) => id === friend.toString() } as unknown as FriendGate;
  const lan = new LanDiscovery(ctx, gate, () => undefined);
  const answer = (id: PeerId, addrs = ['/ip4/192.168.1.3/tcp/4002', '/ip4/25.0.0.1/tcp/4002']) =>
    (lan as unknown as { onPeer: (e: CustomEvent<PeerInfo>) => void }).onPeer(
      new CustomEvent('peer', { detail: { id, multiaddrs: addrs.map((a) => multiaddr(a)) } }),
    );

  for (let i = 0; i < 10; i++) answer(stranger);
  expect(dials).toEqual([]);

  answer(friend);
  expect(dials.map((d) => d.map(String))).toEqual([[`/ip4/192.168.1.3/tcp/4002/p2p/${friend.toString()}`]]);
  // while that dial runs, and within LAN_REDIAL_MS after it, more answers change nothing
  for (let i = 0; i < 10; i++) answer(friend);
  settle?.();
  await new Promise((r) => setImmediate(r));
  now += LAN_REDIAL_MS - 1;
  answer(friend);
  expect(dials).toHaveLength(1);
  now += 1;
  answer(friend);
  expect(dials).toHaveLength(2);
  settle?.();
  await new Promise((r) => setImmediate(r));
  // connected already: nothing to dial
  connected = true;
  now += LAN_REDIAL_MS;
  answer(friend);
  expect(dials).toHaveLength(2);
  // an answer with no LAN address is not dialled
  connected = false;
  answer(friend, ['/ip4/25.0.0.1/tcp/4002', '/ip4/127.0.0.1/tcp/4002']);
  expect(dials).toHaveLength(2);
});

test('what a friend announces on the LAN is remembered (its LAN IPs, replaced by its next answer, also while connected); a stranger, or a friend removed, is not', async () => {
  const [friend, stranger] = [await peer(), await peer()];
  const friends = new Set([friend.toString()]);
  const node = { getConnections: () => [{}], dial: async () => ({}) } as unknown as Libp2p;
  const ctx = { node, clock: { now: () => 0 } } as unknown as MeshContext;
  const gate = { isFriend: (id: string) => friends.has(id) } as unknown as FriendGate;
  const announced = new LanAnnouncements();
  const lan = new LanDiscovery(ctx, gate, () => undefined, LAN_QUERY_INTERVAL_MS, announced);
  const answer = (id: PeerId, addrs: string[]) =>
    (lan as unknown as { onPeer: (e: CustomEvent<PeerInfo>) => void }).onPeer(
      new CustomEvent('peer', { detail: { id, multiaddrs: addrs.map((a) => multiaddr(a)) } }),
    );
  answer(stranger, ['/ip4/192.168.1.9/tcp/4001']);
  expect(announced.ipsOf(stranger.toString())).toBeUndefined();
  answer(friend, ['/ip4/192.168.1.3/tcp/4002', '/ip4/25.0.0.1/tcp/4002', '/ip4/127.0.0.1/tcp/4002']);
  expect([...(announced.ipsOf(friend.toString()) ?? [])]).toEqual(['192.168.1.3']);
  answer(friend, ['/ip4/10.0.0.7/tcp/4002']);
  expect([...(announced.ipsOf(friend.toString()) ?? [])]).toEqual(['10.0.0.7']);
  friends.delete(friend.toString());
  friends.add(stranger.toString());
  answer(stranger, ['/ip4/192.168.1.9/tcp/4001']);
  expect(announced.ipsOf(friend.toString())).toBeUndefined();
});

test('reachOf: a direct connection to an IP the friend announced on the LAN is "lan", any other direct one "direct"', async () => {
  const a = await startWireNode();
  const b = await startWireNode();
  try {
    await a.node.dial(b.node.getMultiaddrs());
    const id = b.node.peerId.toString();
    expect(reachOf(a.node, id).reach).toBe('direct');
    expect(reachOf(a.node, id, new Set(['192.168.1.3'])).reach).toBe('direct');
    expect(reachOf(a.node, id, new Set(['127.0.0.1']))).toEqual({ reach: 'lan', via: null });
    await a.node.hangUp(b.node.peerId);
    expect(reachOf(a.node, id, new Set(['127.0.0.1'])).reach).toBe('unreachable');
  } finally {
    await a.node.stop();
    await b.node.stop();
  }
});
