// Reachability (reachability.ts) between two real libp2p nodes on loopback, each with a real
// LevelDB friend book: "me" asks its friend to dial it back. While the addresses it believes are
// its own lead nowhere (a port nobody listens on: what a NAT looks like from outside) nothing is
// confirmed and it reserves on the friend it dialled; once its real address is asked about, the
// friend confirms it and the reservation is given up. Only confirmed addresses count.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Libp2p } from '@libp2p/interface';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOLS } from '../../../protocol/mesh.js';
import type { MeshContext } from '../../src/mesh/context.js';
import { openLedgers, type Ledgers } from '../../src/mesh/ledgers.js';
import { createMeshNode } from '../../src/mesh/node.js';
import { reachHandler } from '../../src/mesh/reach.js';
import { Reachability, type OwnAddresses } from '../../src/mesh/reachability.js';
import { relayControl } from '../../src/mesh/relay.js';
import { openStateDb, type StateDb } from '../../src/state/db.js';
import { systemClock } from '../../src/util/clock.js';

interface Side {
  node: Libp2p;
  book: Ledgers;
  db: StateDb;
  ctx: MeshContext;
}

const dirs: string[] = [];

async function side(name: string, friendOf: () => string): Promise<Side> {
  const dir = await mkdtemp(join(tmpdir(), `cairn-reachability-${name}-`));
  dirs.push(dir);
  const { db, sub } = await openStateDb(join(dir, 'state'));
  const book = openLedgers(sub);
  const isFriend = (id: string) => id === friendOf();
  const node = await createMeshNode({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    admit: (p) => isFriend(p.toString()),
    relay: { isFriend: (p) => isFriend(p.toString()), inviteOpen: () => false },
  });
  const ctx = { node, ...book, clock: systemClock, name } as unknown as MeshContext;
  return { node, book, db, ctx };
}

async function befriend(a: Side, b: Side, name: string): Promise<void> {
  const now = new Date().toISOString();
  await a.book.friends.put({
    peerId: b.node.peerId.toString(),
    name,
    addrs: [],
    grantToPeer: 0,
    grantFromPeer: 0,
    createdAt: now,
    lastSeen: now,
    shortfall: null,
    problems: [],
  });
}

const direct = (n: Libp2p): Multiaddr => multiaddr((n.getMultiaddrs()[0] as Multiaddr).toString().replace(/\/p2p\/[^/]+$/, ''));

describe('reachability from friends dial-backs', () => {
  let me: Side;
  let friend: Side;
  let reach: Reachability;
  let believed: Multiaddr[];

  beforeAll(async () => {
    // a port that was free a moment ago: nothing answers there
    const dead = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });
    me = await side('me', () => friend.node.peerId.toString());
    friend = await side('friend', () => me.node.peerId.toString());
    await befriend(me, friend, 'friend');
    await befriend(friend, me, 'me');
    await friend.node.handle(PROTOCOLS.reach, reachHandler(friend.ctx, { burst: 10, intervalMs: 1000, dialTimeoutMs: 2_000 }));
    believed = [multiaddr(`/ip4/127.0.0.1/tcp/${dead}`)];
    const own: OwnAddresses = { candidates: () => believed, confirm: () => undefined };
    reach = new Reachability(me.ctx, relayControl(me.node), own, { settleMs: 3_600_000, recheckMs: 3_600_000, reconcileMs: 3_600_000 });
    await reach.start();
    await me.node.dial(direct(friend.node).encapsulate(`/p2p/${friend.node.peerId.toString()}`));
  });

  afterAll(async () => {
    await reach?.stop();
    for (const s of [me, friend]) {
      await s?.node.stop();
      await s?.db.close();
    }
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('nothing confirmed: reserves on the friend it dialled and says it is reachable through it', async () => {
    await reach.check();
    expect(reach.relaysHeld()).toEqual([friend.node.peerId.toString()]);
    expect(await reach.view()).toEqual({
      state: 'relayed',
      confirmed: [],
      confirmedBy: [],
      relays: ['friend'],
      summary: 'behind NAT: reachable through friend',
    });
  });

  it('its real address confirmed: public, and the reservation is given up', async () => {
    believed = [direct(me.node)];
    await reach.check();
    expect(await reach.view()).toEqual({
      state: 'public',
      confirmed: [direct(me.node).toString()],
      confirmedBy: ['friend'],
      relays: [],
      summary: 'public: friends reach this host directly (confirmed by friend)',
    });
    expect(me.node.getMultiaddrs().filter((a) => a.toString().includes('/p2p-circuit'))).toEqual([]);
  });
});
