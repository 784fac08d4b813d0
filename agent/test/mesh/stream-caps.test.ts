// Streams one peer may hold open per protocol, counted over all its connections (service.ts,
// protocol/mesh.ts INBOUND_STREAMS_PER_PEER): every open stream may make us buffer up to 4 MiB
// unread, so a friend opening many (the soak's hostile friend kept 192 open) must be cut off as
// each opens. libp2p's own limit counts one connection only; a peer with two connections is the
// case it misses. Real libp2p nodes on loopback TCP.
import type { Connection, Libp2p, Stream } from '@libp2p/interface';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { DEFAULT_INBOUND_STREAMS_PER_PEER, INBOUND_STREAMS_PER_PEER, INBOUND_STREAMS_PER_PROTOCOL, PROTOCOLS } from '../../../protocol/mesh.js';
import { ProtocolService } from '../../src/mesh/service.js';
import { startWireNode } from '../helpers/mesh-wire.js';

const PROTOCOL = PROTOCOLS.head;
const LIMIT = INBOUND_STREAMS_PER_PEER[PROTOCOL] ?? DEFAULT_INBOUND_STREAMS_PER_PEER;
let server: Libp2p;
let client: Libp2p;
let service: ProtocolService;
/** Streams the handler holds until released. */
const held: Array<() => void> = [];

beforeAll(async () => {
  server = (await startWireNode()).node;
  client = (await startWireNode()).node;
  service = new ProtocolService(server, PROTOCOL, async (stream: Stream, _c: Connection) => {
    await new Promise<void>((release) => held.push(release));
    await stream.close().catch(() => undefined);
  });
  await service.start();
});

const others: Libp2p[] = [];

afterAll(async () => {
  for (const r of held.splice(0)) r();
  await service?.stop();
  await Promise.all([client?.stop(), server?.stop(), ...others.map((n) => n.stop())]);
});

/** Opens a stream on `conn` and writes a byte (so the server's side negotiates it); whether it was reset within `ms`. */
async function opensAndStays(conn: Connection, ms: number): Promise<boolean> {
  const stream = await conn.newStream(PROTOCOL, { signal: AbortSignal.timeout(10_000) });
  const reset = new Promise<boolean>((resolve) => stream.addEventListener('close', () => resolve(false), { once: true }));
  try {
    stream.send(new Uint8Array([1]));
  } catch {
    return false; // reset already
  }
  return Promise.race([reset, sleep(ms).then(() => true)]);
}

test('a peer with two connections gets LIMIT streams at once in all; the rest are reset; released, it gets more', async () => {
  const addr = server.getMultiaddrs()[0];
  if (!addr) throw new Error('server has no address');
  const first = await client.dial(addr);
  const second = await client.dial(addr, { force: true });
  expect(second.id).not.toBe(first.id);
  // under libp2p's per-connection limit on each connection, over ours across both
  const perConn = LIMIT - 1;
  const results = await Promise.all([
    ...Array.from({ length: perConn }, () => opensAndStays(first, 1500)),
    ...Array.from({ length: perConn }, () => opensAndStays(second, 1500)),
  ]);
  expect(results.filter(Boolean)).toHaveLength(LIMIT);
  expect(held).toHaveLength(LIMIT);
  // the held ones end: the peer may open streams again
  for (const r of held.splice(0)) r();
  await sleep(200);
  expect(await opensAndStays(second, 1000)).toBe(true);
  expect(held).toHaveLength(1);
});

test('all peers together get at most INBOUND_STREAMS_PER_PROTOCOL streams of one protocol at once', async () => {
  for (const r of held.splice(0)) r();
  await sleep(200);
  const addr = server.getMultiaddrs()[0];
  if (!addr) throw new Error('server has no address');
  // enough peers, each within its own limit, to pass the total
  const peers = Math.ceil(INBOUND_STREAMS_PER_PROTOCOL / LIMIT) + 1;
  for (let i = 0; i < peers; i++) others.push((await startWireNode()).node);
  const conns = await Promise.all(others.map((n) => n.dial(addr)));
  const results = await Promise.all(conns.flatMap((c) => Array.from({ length: LIMIT }, () => opensAndStays(c, 2500))));
  expect(results).toHaveLength(peers * LIMIT);
  expect(results.filter(Boolean)).toHaveLength(INBOUND_STREAMS_PER_PROTOCOL);
  expect(held).toHaveLength(INBOUND_STREAMS_PER_PROTOCOL);
}, 60_000);
