// The relay among friends with real libp2p nodes on loopback (createMeshNode, as agents build it):
// friends reach each other through a friend's relay, unlimited and end-to-end Noise; a stranger
// can neither reserve on the relay nor be relayed to a friend, even while invites are open on both
// sides; and a friend refuses a stranger relayed by a relay that is not its friend, even while its
// invite is open (the Noise gate alone would let that stranger in). Relies on
// @libp2p/circuit-relay-v2 4.2 asking the gater's denyInboundRelayReservation,
// denyOutboundRelayedConnection and denyInboundRelayedConnection, and sending no limit when
// applyDefaultLimit is false.
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Libp2p, PeerId } from '@libp2p/interface';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { RELAY_V2_STOP_CODEC } from '@libp2p/circuit-relay-v2';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayServer } from '@libp2p/circuit-relay-v2';
import { identify } from '@libp2p/identify';
import { tcp } from '@libp2p/tcp';
import { createLibp2p } from 'libp2p';
import { openStream, transferLimits } from '../../src/mesh/deadline.js';
import { createMeshNode } from '../../src/mesh/node.js';
import { relayControl } from '../../src/mesh/relay.js';

const ECHO = '/cairn-test/echo/1.0.0';

interface TestNode {
  node: Libp2p;
  friends: Set<string>;
  invite: { open: boolean };
}

/** A node as an agent builds it, with a friend list and an invite switch of its own. */
async function meshNode(opts: { permissive?: boolean } = {}): Promise<TestNode> {
  const friends = new Set<string>();
  const invite = { open: false };
  const isFriend = (p: PeerId) => opts.permissive === true || friends.has(p.toString());
  const node = await createMeshNode({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    admit: (p) => isFriend(p) || invite.open,
    relay: { isFriend, inviteOpen: () => invite.open },
  });
  await node.start();
  await node.handle(ECHO, async (stream) => {
    for await (const chunk of stream) if (!stream.send(chunk)) await stream.onDrain({ signal: AbortSignal.timeout(10_000) });
    await stream.close();
  });
  return { node, friends, invite };
}

function befriend(a: TestNode, b: TestNode): void {
  a.friends.add(b.node.peerId.toString());
  b.friends.add(a.node.peerId.toString());
}

function tcpAddr(n: TestNode): Multiaddr {
  const a = n.node.getMultiaddrs().find((m) => m.toString().includes('/tcp/') && !m.toString().includes('p2p-circuit'));
  if (!a) throw new Error('no tcp address');
  return multiaddr(a.toString().replace(/\/p2p\/[^/]+$/, ''));
}

function circuitTo(relay: TestNode, target: TestNode): Multiaddr {
  return tcpAddr(relay).encapsulate(`/p2p/${relay.node.peerId.toString()}/p2p-circuit/p2p/${target.node.peerId.toString()}`);
}

async function reserve(client: TestNode, relay: TestNode): Promise<void> {
  await relayControl(client.node).reserve(relay.node.peerId, tcpAddr(relay));
}

async function echo(from: TestNode, to: Multiaddr, bytes: Uint8Array): Promise<Uint8Array> {
  const stream = await from.node.dialProtocol(to, ECHO, { signal: AbortSignal.timeout(10_000) });
  for (let at = 0; at < bytes.length; at += 64 * 1024)
    if (!stream.send(bytes.subarray(at, at + 64 * 1024))) await stream.onDrain({ signal: AbortSignal.timeout(10_000) });
  await stream.close();
  const parts: Uint8Array[] = [];
  for await (const c of stream) parts.push(c.subarray());
  return Buffer.concat(parts);
}

describe('the relay among friends', () => {
  const nodes: TestNode[] = [];
  let relay: TestNode;
  let alice: TestNode;
  let bob: TestNode;
  let stranger: TestNode;

  beforeAll(async () => {
    [relay, alice, bob] = await Promise.all([meshNode(), meshNode(), meshNode()]);
    // the stranger relays and admits anyone: only the friends' gaters stand in its way
    stranger = await meshNode({ permissive: true });
    nodes.push(relay, alice, bob, stranger);
    befriend(relay, alice);
    befriend(relay, bob);
    befriend(alice, bob);
    await reserve(bob, relay);
  });

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.node.stop()));
  });

  it("advertises the friend's relayed address once a reservation is held", () => {
    expect(bob.node.getMultiaddrs().map(String)).toContain(`${circuitTo(relay, bob).toString()}`);
  });

  it('relays between two friends: a relayed connection without limits, Noise end to end, more than the default 128 KiB', async () => {
    const big = Buffer.alloc(512 * 1024, 7);
    const got = await echo(alice, circuitTo(relay, bob), big);
    expect(Buffer.compare(Buffer.from(got), big)).toBe(0);
    const conn = alice.node.getConnections(bob.node.peerId).find((c) => c.remoteAddr.toString().includes('/p2p-circuit'));
    expect(conn).toBeDefined();
    expect(conn?.limits).toBeUndefined();
    expect(conn?.encryption).toBe('/noise');
    await alice.node.hangUp(bob.node.peerId);
  });

  it('refuses a reservation from a stranger, even one connected while an invite is open', async () => {
    relay.invite.open = true;
    try {
      await expect(reserve(stranger, relay)).rejects.toThrow(/PERMISSION_DENIED|denied/i);
    } finally {
      relay.invite.open = false;
      await stranger.node.hangUp(relay.node.peerId);
    }
  });

  it('does not relay a stranger to a friend, even while both have an invite open', async () => {
    relay.invite.open = true;
    bob.invite.open = true;
    try {
      await expect(echo(stranger, circuitTo(relay, bob), Buffer.from('hi'))).rejects.toThrow(/PERMISSION_DENIED/);
    } finally {
      relay.invite.open = false;
      bob.invite.open = false;
      await stranger.node.hangUp(relay.node.peerId);
    }
  });

  it('lets a friend of the relay reach us to pair while our invite is open, and not once it is closed', async () => {
    const carol = await meshNode();
    nodes.push(carol);
    befriend(relay, carol);
    await expect(echo(carol, circuitTo(relay, bob), Buffer.from('no invite'))).rejects.toThrow();
    bob.invite.open = true;
    try {
      expect(Buffer.from(await echo(carol, circuitTo(relay, bob), Buffer.from('pair me'))).toString()).toBe('pair me');
    } finally {
      bob.invite.open = false;
      await carol.node.hangUp(bob.node.peerId);
    }
  });

  it('a relay we hold no reservation on cannot open a relayed connection to us, nor make us reserve on it', async () => {
    const via = `/p2p/${stranger.node.peerId.toString()}/p2p-circuit`;
    bob.invite.open = true;
    try {
      // a STOP request by hand: libp2p's transport would answer it and start listening on (reserving at) its sender
      const stream = await stranger.node.dialProtocol(tcpAddr(bob).encapsulate(`/p2p/${bob.node.peerId.toString()}`), RELAY_V2_STOP_CODEC, {
        signal: AbortSignal.timeout(10_000),
      });
      try {
        stream.send(Uint8Array.from([0x02, 0x08, 0x01]));
      } catch {
        // already reset by bob
      }
      // bob resets it (a reader may see that as the end of the stream)
      await (async () => {
        for await (const _ of stream) void _;
      })().catch(() => undefined);
      let advertised = false;
      for (let i = 0; i < 30 && !advertised; i++) {
        await sleep(100);
        advertised = bob.node.getMultiaddrs().some((a) => a.toString().includes(via));
      }
      expect(advertised).toBe(false);
    } finally {
      bob.invite.open = false;
    }
  });

  it('refuses a stranger relayed by a relay that is not our friend, even while our invite is open', async () => {
    const other = await meshNode();
    nodes.push(other);
    // bob holds a reservation on the stranger's relay (an agent never picks one; here the relay
    // lets anyone through, so only bob's own rule is left)
    await reserve(bob, stranger);
    bob.invite.open = true;
    try {
      await expect(echo(other, circuitTo(stranger, bob), Buffer.from('hi'))).rejects.toThrow();
      expect(bob.node.getConnections(other.node.peerId)).toEqual([]);
    } finally {
      bob.invite.open = false;
    }
  });
});

describe("someone else's relay, with libp2p's default limits", () => {
  const nodes: TestNode[] = [];
  let plain: Libp2p;

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.node.stop()));
    await plain?.stop();
  });

  it('a friend reachable only through it gets one clear error naming the limit, not a retry loop', async () => {
    plain = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify(), relay: circuitRelayServer() },
    });
    const [alice, bob] = await Promise.all([meshNode(), meshNode()]);
    nodes.push(alice, bob);
    befriend(alice, bob);
    const relayAddr = multiaddr((plain.getMultiaddrs()[0] as Multiaddr).toString().replace(/\/p2p\/[^/]+$/, ''));
    await relayControl(bob.node).reserve(plain.peerId, relayAddr);
    const conn = await alice.node.dial(relayAddr.encapsulate(`/p2p/${plain.peerId.toString()}/p2p-circuit/p2p/${bob.node.peerId.toString()}`));
    expect(conn.limits).toBeDefined();
    const err = await openStream(alice.node, bob.node.peerId, ECHO, transferLimits()).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'E_RELAY_LIMITED' });
    expect((err as Error).message).toBe(
      `${bob.node.peerId.toString()} is reachable only through a relay that limits relayed connections (someone else's relay): packs cannot pass; it needs a direct address or a friend's relay`,
    );
  });
});
