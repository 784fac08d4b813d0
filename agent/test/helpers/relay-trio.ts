// Real libp2p nodes on loopback for the relay tests (createMeshNode, as agents build it): a relay
// and two friends of it (and of each other), bob holding a reservation, each answering an echo
// protocol; the relay's budget has a clock the test moves and sleeps the test can hold.
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Libp2p, PeerId } from '@libp2p/interface';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { createMeshNode } from '../../src/mesh/node.js';
import { relayControl } from '../../src/mesh/relay.js';
import { RelayBudget, type RelayLimits } from '../../src/mesh/relay-budget.js';

const KIB = 1024;

export const ECHO = '/cairn-test/echo/1.0.0';

export async function meshNode(friends: Set<string>, budget?: RelayBudget): Promise<Libp2p> {
  const isFriend = (p: PeerId) => friends.has(p.toString());
  const node = await createMeshNode({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    admit: isFriend,
    relay: { isFriend, inviteOpen: () => false },
    ...(budget ? { relayBudget: budget } : {}),
  });
  await node.start();
  await node.handle(ECHO, async (stream) => {
    for await (const chunk of stream) if (!stream.send(chunk)) await stream.onDrain({ signal: AbortSignal.timeout(20_000) });
    await stream.close();
  });
  return node;
}

export function tcpAddr(n: Libp2p): Multiaddr {
  const a = n.getMultiaddrs().find((m) => m.toString().includes('/tcp/') && !m.toString().includes('p2p-circuit'));
  if (!a) throw new Error('no tcp address');
  return multiaddr(a.toString().replace(/\/p2p\/[^/]+$/, ''));
}

export async function echo(from: Libp2p, to: Multiaddr, bytes: Uint8Array): Promise<Uint8Array> {
  const stream = await from.dialProtocol(to, ECHO, { signal: AbortSignal.timeout(20_000) });
  for (let at = 0; at < bytes.length; at += 64 * KIB)
    if (!stream.send(bytes.subarray(at, at + 64 * KIB))) await stream.onDrain({ signal: AbortSignal.timeout(20_000) });
  await stream.close();
  const parts: Uint8Array[] = [];
  for await (const c of stream) parts.push(c.subarray());
  return Buffer.concat(parts);
}

/** A relay with `limits` and two friends of it (and of each other), bob holding a reservation; a clock the test moves and sleeps it holds. */
export async function trio(limits: RelayLimits) {
  const clock = { t: Date.UTC(2026, 11, 5, 12), now: () => clock.t };
  const held: Array<() => void> = [];
  let holding = false;
  const waits: number[] = [];
  const budget = new RelayBudget(limits, clock, (ms) => {
    waits.push(ms);
    return holding ? new Promise<void>((r) => held.push(r)) : Promise.resolve();
  });
  const ids = new Set<string>();
  const relay = await meshNode(ids, budget);
  const alice = await meshNode(ids);
  const bob = await meshNode(ids);
  for (const n of [relay, alice, bob]) ids.add(n.peerId.toString());
  await relayControl(bob).reserve(relay.peerId, tcpAddr(relay));
  const circuit = tcpAddr(relay).encapsulate(`/p2p/${relay.peerId.toString()}/p2p-circuit/p2p/${bob.peerId.toString()}`);
  return {
    clock,
    budget,
    relay,
    alice,
    bob,
    circuit,
    waits,
    hold: (on: boolean) => {
      holding = on;
      if (!on) for (const r of held.splice(0)) r();
    },
    stop: () => Promise.all([relay, alice, bob].map((n) => n.stop())),
  };
}
