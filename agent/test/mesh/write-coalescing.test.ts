// Few, large writes under Noise (write-coalescing.ts, SPEC 13.1 "Relayed throughput"). Relies on
// @chainsafe/libp2p-noise 17 handing the connection below it one list of pieces per batch it
// encrypts (length prefixes, ciphertext pieces and tags apart) and on @libp2p/tcp 11 writing each
// piece of what it is sent with its own socket.write: without coalescing a 64 KiB message costs
// at least seven writes at every hop. Real mesh nodes (node.ts) on loopback TCP; a relayed
// connection through a third node's circuit relay, as bench/nat.ts measures it.
import type { Libp2p, Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { Socket } from 'node:net';
import { afterEach, expect, test, vi } from 'vitest';
import { createMeshNode } from '../../src/mesh/node.js';
import { relayControl } from '../../src/mesh/relay.js';
import { linkOf, relaysHeld } from '../../src/mesh/relayed-addrs.js';
import { COALESCED_WRITE_MAX_BYTES, coalescedPieces } from '../../src/mesh/write-coalescing.js';

const SINK = '/cairn-test/sink/1.0.0';
const CHUNK_BYTES = 64 * 1024;
const TOTAL_BYTES = 4 * 1024 * 1024;
const CHUNKS = TOTAL_BYTES / CHUNK_BYTES;

const nodes: Libp2p[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

/** A mesh node on loopback that admits everyone and relays between anyone (the policies are not under test). */
async function meshNode(): Promise<Libp2p> {
  const node = await createMeshNode({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    admit: () => true,
    relay: { isFriend: () => true, inviteOpen: () => false },
    webrtc: false,
  });
  await node.start();
  nodes.push(node);
  // the sink: counts what arrives until the sender closes, answers the count
  await node.handle(SINK, async (stream: Stream) => {
    let got = 0;
    for await (const chunk of stream) got += chunk.byteLength;
    stream.send(new TextEncoder().encode(String(got)));
    await stream.close();
  });
  return node;
}

function tcpPort(node: Libp2p): number {
  const a = node.getMultiaddrs().find((m) => linkOf(m) === 'direct');
  const port = a?.getComponents().find((c) => c.name === 'tcp')?.value;
  if (port === undefined) throw new Error('node has no TCP address');
  return Number(port);
}

/** Socket writes per local TCP port while `fn` runs (every mesh node here listens on its own port; its inbound sockets share it). */
async function countWrites(fn: () => Promise<void>): Promise<Map<number, number>> {
  const writes = new Map<number, number>();
  const write = Socket.prototype.write;
  vi.spyOn(Socket.prototype, 'write').mockImplementation(function (this: Socket, ...args: unknown[]) {
    if (this.localPort !== undefined) writes.set(this.localPort, (writes.get(this.localPort) ?? 0) + 1);
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  });
  await fn();
  vi.restoreAllMocks();
  return writes;
}

/** Sends TOTAL_BYTES in 64 KiB writes on a new SINK stream over `conn`'s peer; what the sink says it got. */
async function sendAll(from: Libp2p, to: Libp2p, addr?: string): Promise<number> {
  const stream = addr
    ? await from.dialProtocol(multiaddr(addr), SINK, { signal: AbortSignal.timeout(15_000) })
    : await from.dialProtocol(to.peerId, SINK, { signal: AbortSignal.timeout(15_000) });
  const chunk = new Uint8Array(CHUNK_BYTES).fill(7);
  for (let i = 0; i < CHUNKS; i++) if (!stream.send(chunk)) await stream.onDrain({ signal: AbortSignal.timeout(15_000) });
  await stream.close({ signal: AbortSignal.timeout(15_000) });
  let answer = '';
  for await (const c of stream) answer += new TextDecoder().decode(c.subarray());
  return Number(answer);
}

test('coalescedPieces copies runs of pieces into buffers of at most the bound, a lone piece uncopied', () => {
  const one = new Uint8Array([1, 2, 3]);
  expect(coalescedPieces(one)[0]).toBe(one);
  const pieces = [new Uint8Array([1, 2]), new Uint8Array([3, 4, 5]), new Uint8Array(0), new Uint8Array([6])];
  const list = {
    *[Symbol.iterator]() {
      yield* pieces;
    },
    byteLength: 6,
  } as unknown as Parameters<typeof coalescedPieces>[0];
  const out = coalescedPieces(list);
  expect(out.map((b) => [...b])).toEqual([[1, 2, 3, 4, 5, 6]]);
  // bound 4: [1,2] + [3,4,5] would be 5 bytes: two buffers, the second with the [6] after it
  expect(coalescedPieces(list, 4).map((b) => [...b])).toEqual([
    [1, 2],
    [3, 4, 5, 6],
  ]);
  // a piece over the bound passes through as it is
  const big = new Uint8Array(COALESCED_WRITE_MAX_BYTES + 1);
  const withBig = {
    *[Symbol.iterator]() {
      yield one;
      yield big;
    },
  } as unknown as Parameters<typeof coalescedPieces>[0];
  const outBig = coalescedPieces(withBig);
  expect(outBig).toHaveLength(2);
  expect(outBig[1]).toBe(big);
});

test('a direct stream leaves the sender in at most 2 socket writes per 64 KiB', async () => {
  const [alice, bob] = [await meshNode(), await meshNode()];
  await alice.dial(bob.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(15_000) });
  let got = 0;
  const writes = await countWrites(async () => {
    got = await sendAll(alice, bob);
  });
  expect(got).toBe(TOTAL_BYTES);
  const aliceWrites = [...writes].filter(([port]) => port !== tcpPort(bob)).reduce((n, [, w]) => n + w, 0);
  // without coalescing: a length prefix, the yamux header, the data and a tag per Noise message, two messages per chunk
  expect(aliceWrites).toBeLessThanOrEqual(2 * CHUNKS);
});

test('a relayed stream crosses the relay in at most 3 socket writes per 64 KiB it forwards', async () => {
  const [pub, alice, bob] = [await meshNode(), await meshNode(), await meshNode()];
  const pubAddr = pub.getMultiaddrs().find((m) => linkOf(m) === 'direct')!;
  for (const n of [alice, bob]) await n.dial(pubAddr, { signal: AbortSignal.timeout(15_000) });
  await relayControl(bob).reserve(pub.peerId, multiaddr(pubAddr.toString().replace(/\/p2p\/.*$/, '')));
  await expect.poll(() => relaysHeld(bob)).toContain(pub.peerId.toString());
  const circuit = `${pubAddr.toString().replace(/\/p2p\/.*$/, '')}/p2p/${pub.peerId}/p2p-circuit/p2p/${bob.peerId}`;
  let got = 0;
  const writes = await countWrites(async () => {
    got = await sendAll(alice, bob, circuit);
  });
  expect(got).toBe(TOTAL_BYTES);
  expect(alice.getConnections(bob.peerId).map((c) => linkOf(c.remoteAddr))).toEqual(['relayed']);
  // pub's sockets are those accepted on its listening port: data to bob, window updates to both
  const pubWrites = writes.get(tcpPort(pub)) ?? 0;
  expect(pubWrites).toBeGreaterThan(0);
  expect(pubWrites).toBeLessThanOrEqual(3 * CHUNKS);
});
