// Relay budgets with real libp2p nodes on loopback (createMeshNode, as agents build it): the relay
// counts what it carries for each friend (both ends of a relayed connection), pauses a relayed
// stream while a friend is over its rate (a held sleep keeps it paused: nothing more crosses), and
// cuts a friend's relayed connections and refuses new ones once its daily volume is used up, until
// the next UTC day. Relies on @libp2p/circuit-relay-v2 4.2's server joining the source's HOP stream
// (unwrapped in handleConnect) and the STOP stream from stopHop, and on yamux holding back window
// updates while a stream is paused.
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Libp2p, PeerId } from '@libp2p/interface';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createMeshNode } from '../../src/mesh/node.js';
import { relayControl } from '../../src/mesh/relay.js';
import { RelayBudget, type RelayLimits } from '../../src/mesh/relay-budget.js';

const ECHO = '/cairn-test/echo/1.0.0';
const KIB = 1024;

async function meshNode(friends: Set<string>, budget?: RelayBudget): Promise<Libp2p> {
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

function tcpAddr(n: Libp2p): Multiaddr {
  const a = n.getMultiaddrs().find((m) => m.toString().includes('/tcp/') && !m.toString().includes('p2p-circuit'));
  if (!a) throw new Error('no tcp address');
  return multiaddr(a.toString().replace(/\/p2p\/[^/]+$/, ''));
}

async function echo(from: Libp2p, to: Multiaddr, bytes: Uint8Array): Promise<Uint8Array> {
  const stream = await from.dialProtocol(to, ECHO, { signal: AbortSignal.timeout(20_000) });
  for (let at = 0; at < bytes.length; at += 64 * KIB)
    if (!stream.send(bytes.subarray(at, at + 64 * KIB))) await stream.onDrain({ signal: AbortSignal.timeout(20_000) });
  await stream.close();
  const parts: Uint8Array[] = [];
  for await (const c of stream) parts.push(c.subarray());
  return Buffer.concat(parts);
}

/** A relay with `limits` and two friends of it (and of each other), bob holding a reservation; a clock the test moves and sleeps it holds. */
async function trio(limits: RelayLimits) {
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

describe('relay budgets', () => {
  let stop: (() => Promise<unknown>) | undefined;
  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });

  it('counts what the relay carries for each friend, both directions, for both ends', async () => {
    const t = await trio({ bytesPerSec: 0, bytesPerDay: 0 });
    stop = t.stop;
    const big = Buffer.alloc(512 * KIB, 3);
    expect(Buffer.compare(Buffer.from(await echo(t.alice, t.circuit, big)), big)).toBe(0);
    // 512 KiB each way, plus Noise and Yamux framing
    for (const who of [t.alice, t.bob]) {
      const c = t.budget.count(who.peerId.toString());
      expect(c.totalBytes).toBeGreaterThanOrEqual(1024 * KIB);
      expect(c.totalBytes).toBeLessThan(1200 * KIB);
      expect(c.todayBytes).toBe(c.totalBytes);
    }
    expect(t.budget.count(t.relay.peerId.toString()).totalBytes).toBe(0);
  });

  it('pauses a relayed stream while a friend is over its rate: nothing more crosses until the wait is over', async () => {
    const t = await trio({ bytesPerSec: 64 * KIB, bytesPerDay: 0 });
    stop = t.stop;
    t.hold(true);
    const big = Buffer.alloc(1024 * KIB, 5);
    let done = false;
    const p = echo(t.alice, t.circuit, big).then((b) => {
      done = true;
      return b;
    });
    for (let i = 0; i < 100 && t.waits.length === 0; i++) await sleep(50);
    expect(t.waits.length).toBeGreaterThan(0);
    // each of the two streams stops at its first message over the rate: let both get there
    const count = () => t.budget.count(t.alice.peerId.toString()).totalBytes;
    let seen = count();
    for (let i = 0; i < 50; i++) {
      await sleep(200);
      if (count() === seen) break;
      seen = count();
    }
    await sleep(500);
    // paused: the relay read nothing more, and the megabyte did not get through
    expect(t.budget.count(t.alice.peerId.toString()).totalBytes).toBe(seen);
    expect(seen).toBeLessThan(1024 * KIB);
    expect(done).toBe(false);
    t.hold(false);
    expect(Buffer.compare(Buffer.from(await p), big)).toBe(0);
  });

  it("cuts a friend's relayed connection once its daily volume is used up, refuses new ones that day, and relays again the next day", async () => {
    const t = await trio({ bytesPerSec: 0, bytesPerDay: 256 * KIB });
    stop = t.stop;
    await expect(echo(t.alice, t.circuit, Buffer.alloc(1024 * KIB, 1))).rejects.toThrow();
    expect(t.budget.exhausted(t.alice.peerId.toString())).toBe(true);
    await t.alice.hangUp(t.bob.peerId);
    await expect(echo(t.alice, t.circuit, Buffer.from('more'))).rejects.toThrow(/PERMISSION_DENIED/);
    t.clock.t += 86_400_000;
    expect(Buffer.from(await echo(t.alice, t.circuit, Buffer.from('next day'))).toString()).toBe('next day');
    expect(t.budget.count(t.alice.peerId.toString()).todayBytes).toBeLessThan(64 * KIB);
  });
});
