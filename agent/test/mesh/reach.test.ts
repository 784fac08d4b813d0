// /cairn/reach/1.0.0 between real libp2p nodes on loopback, the answering side with a real LevelDB
// friend book: a friend is dialled back on a new connection and only an address that answers with
// its PeerId is confirmed; the answering side dials only the IP the request came from (a friend
// cannot point its dials at another host), answers friends only, and a few requests per friend.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Libp2p } from '@libp2p/interface';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOLS, WireError } from '../../../protocol/mesh.js';
import type { MeshContext } from '../../src/mesh/context.js';
import { openLedgers, type Ledgers } from '../../src/mesh/ledgers.js';
import { createMeshNode } from '../../src/mesh/node.js';
import { askReach, reachHandler } from '../../src/mesh/reach.js';
import { openStateDb, type StateDb } from '../../src/state/db.js';
import { systemClock } from '../../src/util/clock.js';

async function node(): Promise<Libp2p> {
  const n = await createMeshNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], admit: () => true });
  await n.start();
  return n;
}

const addrOf = (n: Libp2p) => (n.getMultiaddrs()[0] as NonNullable<ReturnType<Libp2p['getMultiaddrs']>[0]>).toString().replace(/\/p2p\/[^/]+$/, '');

describe('reach: friends dial us back', () => {
  let dir: string;
  let db: StateDb;
  let book: Ledgers;
  let answerer: Libp2p;
  let friend: Libp2p;
  let other: Libp2p;
  let stranger: Libp2p;
  let bystander: Server;
  let bystanderPort: number;
  let bystanderConnections = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-reach-'));
    const opened = await openStateDb(join(dir, 'state'));
    db = opened.db;
    book = openLedgers(opened.sub);
    [answerer, friend, other, stranger] = await Promise.all([node(), node(), node(), node()]);
    const now = new Date().toISOString();
    for (const f of [friend, other])
      await book.friends.put({
        peerId: f.peerId.toString(),
        name: 'f',
        addrs: [],
        grantToPeer: 0,
        grantFromPeer: 0,
        createdAt: now,
        lastSeen: now,
        shortfall: null,
        problems: [],
      });
    const ctx = { node: answerer, ...book, clock: systemClock } as unknown as MeshContext;
    for (const n of [friend, other, stranger]) await n.dial(answerer.getMultiaddrs());
    await answerer.handle(PROTOCOLS.reach, reachHandler(ctx, { burst: 4, intervalMs: 3_600_000, dialTimeoutMs: 2_000 }));
    // a host on another loopback address that counts who connects to it
    bystander = createServer((s) => {
      bystanderConnections += 1;
      s.destroy();
    });
    await new Promise<void>((r) => bystander.listen(0, '127.0.0.2', r));
    bystanderPort = (bystander.address() as { port: number }).port;
  });

  afterAll(async () => {
    await Promise.all([answerer, friend, other, stranger].map((n) => n?.stop()));
    bystander?.close();
    await db?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("confirms a friend's address on a new connection that answers with the friend's PeerId", async () => {
    const before = friend.getConnections(answerer.peerId).length;
    const confirmed = await askReach({ node: friend }, answerer.peerId, [addrOf(friend)]);
    expect(confirmed).toEqual([addrOf(friend)]);
    // the dial-back connection was hung up again
    expect(friend.getConnections(answerer.peerId).length).toBe(Math.max(before, 1));
  });

  it('does not confirm an address where another peer answers', async () => {
    expect(await askReach({ node: friend }, answerer.peerId, [addrOf(other)])).toEqual([]);
  });

  it('dials only the IP the request came from: an address on another host is never dialled', async () => {
    const elsewhere = `/ip4/127.0.0.2/tcp/${bystanderPort}`;
    expect(await askReach({ node: friend }, answerer.peerId, [elsewhere])).toEqual([]);
    expect(bystanderConnections).toBe(0);
  });

  it('refuses a stranger, and a friend past its allowance', async () => {
    await expect(askReach({ node: stranger }, answerer.peerId, [addrOf(stranger)])).rejects.toMatchObject({ code: WireError.notFriend });
    await askReach({ node: friend }, answerer.peerId, [addrOf(friend)]);
    await expect(askReach({ node: friend }, answerer.peerId, [addrOf(friend)])).rejects.toMatchObject({ code: WireError.rateLimited });
  });
});
