// Strangers holding half-open connections cannot lock a friend out. A real libp2p node built by
// createMeshNode (the agent's settings) serves pack-list from a real LevelDB friend book; idle raw
// TCP sockets (connected, sending nothing: they never start Noise) are held open against its
// listener from other loopback addresses, reopened as soon as the node drops them, while a real
// friend node dials it and lists its packs. With libp2p's defaults (10 half-open connections,
// 10 s to upgrade) the friend's dial failed for as long as the sockets were held.
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Libp2p } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PROTOCOLS } from '../../../protocol/mesh.js';
import { InboundAdmission, sourceKey, type AdmissionLimits } from '../../src/mesh/admission.js';
import type { MeshContext } from '../../src/mesh/context.js';
import { openLedgers } from '../../src/mesh/ledgers.js';
import { createMeshNode } from '../../src/mesh/node.js';
import { packListHandler } from '../../src/mesh/pack-list.js';
import { openStateDb } from '../../src/state/db.js';
import { holdIdleSockets, loopbackIps, type IdleSockets } from '../helpers/idle-sockets.js';
import { RawWire, startWireNode } from '../helpers/mesh-wire.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** The node under attack: friend-only gate, pack-list served from a real friends ledger holding `friend`. */
async function startTarget(friendPeerId: string, isFriendIp: (ip: string) => boolean, admission?: AdmissionLimits): Promise<{ node: Libp2p; port: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-admission-'));
  const { db, sub } = await openStateDb(join(dir, 'state'));
  const ledgers = openLedgers(sub);
  const now = new Date().toISOString();
  await ledgers.friends.put({
    peerId: friendPeerId,
    name: 'friend',
    addrs: [],
    grantToPeer: 1 << 30,
    grantFromPeer: 0,
    createdAt: now,
    lastSeen: null,
    shortfall: null,
    problems: [],
  });
  await ledgers.hostedPacks.add(friendPeerId, 'ab'.repeat(32), 4096);
  const node = await createMeshNode({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    admit: (peer) => peer.toString() === friendPeerId,
    isFriendIp,
    ...(admission ? { admission } : {}),
  });
  await node.start();
  await node.handle(PROTOCOLS.packList, packListHandler({ ...ledgers } as unknown as MeshContext));
  cleanups.push(async () => {
    await node.stop();
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });
  const port = Number(node.getMultiaddrs()[0]?.toString().split('/tcp/')[1]?.split('/')[0]);
  return { node, port };
}

/** Idle sockets held until the test ends. */
function holdSockets(port: number, ips: string[], perIp: number): IdleSockets {
  const attack = holdIdleSockets(port, ips, perIp);
  cleanups.push(async () => attack.stop());
  return attack;
}

/** Dials the target as the friend and lists its packs: the round trip a replication starts with. */
async function friendListsPacks(friend: Libp2p, target: Libp2p, port: number): Promise<unknown> {
  const ma = multiaddr(`/ip4/127.0.0.1/tcp/${port}/p2p/${target.peerId.toString()}`);
  const stream = await friend.dialProtocol(ma, PROTOCOLS.packList, { signal: AbortSignal.timeout(8_000) });
  const r = await new RawWire(stream).request({}, 8_000);
  await stream.close().catch(() => undefined);
  await friend.hangUp(target.peerId).catch(() => undefined);
  return r;
}

const listed = { kind: 'reply', value: { ok: true, packs: [{ id: 'ab'.repeat(32), sizeBytes: 4096 }], more: false } };
const ips = loopbackIps;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('half-open connections from strangers', () => {
  it('50 idle sockets from one address: the friend still connects and lists its packs, also after the sockets were reopened', async () => {
    const friend = await startWireNode();
    cleanups.push(async () => friend.node.stop());
    const { node, port } = await startTarget(friend.node.peerId.toString(), () => false);
    const attack = holdSockets(port, ['127.0.0.2'], 50);
    await attack.ready;
    expect(await friendListsPacks(friend.node, node, port)).toEqual(listed);
    // the attack goes on: sockets the node dropped are reopened; the friend gets in again
    const before = attack.closedByTarget();
    for (let i = 0; i < 100 && attack.closedByTarget() < before + 10; i++) await sleep(100);
    expect(await friendListsPacks(friend.node, node, port)).toEqual(listed);
    expect(attack.opened(), 'the attacking sockets were connected').toBeGreaterThanOrEqual(50);
  }, 60_000);

  it('50 idle sockets from 50 addresses: the friend still connects and lists its packs', async () => {
    const friend = await startWireNode();
    cleanups.push(async () => friend.node.stop());
    const { node, port } = await startTarget(friend.node.peerId.toString(), () => false);
    const attack = holdSockets(port, ips(10, 50), 1);
    await attack.ready;
    expect(await friendListsPacks(friend.node, node, port)).toEqual(listed);
  }, 60_000);

  it('strangers that fill their whole share do not keep out a friend at an IP it was seen at; unknown, the same dial is refused', async () => {
    const limits: AdmissionLimits = { maxPendingStrangers: 12, maxPendingPerStrangerIp: 2, maxPendingPerFriendIp: 8 };
    const friend = await startWireNode();
    cleanups.push(async () => friend.node.stop());
    let friendKnown = true;
    const { node, port } = await startTarget(friend.node.peerId.toString(), (ip) => friendKnown && ip === '127.0.0.1', limits);
    // 10 addresses x 3 sockets: the strangers' pool (12) is full, whatever the per-IP cap lets in
    const attack = holdSockets(port, ips(100, 10), 3);
    await attack.ready;
    expect(await friendListsPacks(friend.node, node, port)).toEqual(listed);
    friendKnown = false;
    const refused = await friendListsPacks(friend.node, node, port).then(
      () => 'connected',
      (e: unknown) => String(e),
    );
    expect(refused, "a stranger at a new address got in while the strangers' share was full").not.toBe('connected');
  }, 60_000);
});

/** What the gater sees of a socket before Noise: its remote address, its status, its close event. */
class HalfOpen extends EventTarget {
  readonly remoteAddr;
  status: 'open' | 'closed' = 'open';
  constructor(ip: string) {
    super();
    this.remoteAddr = multiaddr(`/${ip.includes(':') ? 'ip6' : 'ip4'}/${ip}/tcp/40000`);
  }
  close(): void {
    this.status = 'closed';
    this.dispatchEvent(new Event('close'));
  }
}

describe('InboundAdmission counting', () => {
  const limits: AdmissionLimits = { maxPendingStrangers: 5, maxPendingPerStrangerIp: 2, maxPendingPerFriendIp: 3 };
  const asConn = (h: HalfOpen) => h as unknown as Parameters<InboundAdmission['deny']>[0];

  it('caps strangers per IP and together, gives friend IPs room of their own, and frees a slot on close or upgrade', () => {
    const a = new InboundAdmission((ip) => ip === '10.0.0.9', limits);
    const one = [new HalfOpen('10.0.0.1'), new HalfOpen('10.0.0.1'), new HalfOpen('10.0.0.1')];
    expect(one.map((h) => a.deny(asConn(h)))).toEqual([false, false, true]); // the third from one IP is refused
    const others = ['10.0.0.2', '10.0.0.2', '10.0.0.3', '10.0.0.4'].map((ip) => new HalfOpen(ip));
    expect(others.map((h) => a.deny(asConn(h)))).toEqual([false, false, false, true]); // the pool of 5 is full
    const friends = Array.from({ length: 4 }, () => new HalfOpen('10.0.0.9'));
    expect(friends.map((h) => a.deny(asConn(h)))).toEqual([false, false, false, true]); // friend IP: 3 of its own
    one[0]!.close(); // refused or timed out: its slot is free again
    expect(a.deny(asConn(new HalfOpen('10.0.0.5')))).toBe(false);
    expect(a.deny(asConn(new HalfOpen('10.0.0.6')))).toBe(true);
    a.settled(asConn(others[0]!)); // upgraded: no longer half-open
    others[0]!.close(); // a later close changes nothing more
    expect(a.deny(asConn(new HalfOpen('10.0.0.6')))).toBe(false);
    expect(a.deny(asConn(new HalfOpen('10.0.0.7')))).toBe(true);
    expect(a.pendingCount).toBe(5 + 3);
  });

  it('IPv6 strangers are counted per /64 (one host holds a whole /64); IPv4-mapped addresses as IPv4', () => {
    expect(sourceKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:DB8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8::9')).toBe('2001:db8:0:0::/64');
    expect(sourceKey('::1')).toBe('0:0:0:0::/64');
    expect(sourceKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(sourceKey('10.1.2.3')).toBe('10.1.2.3');
    const a = new InboundAdmission(() => false, limits);
    const fromOne64 = ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:ffff::3'].map((ip) => a.deny(asConn(new HalfOpen(ip))));
    expect(fromOne64).toEqual([false, false, true]);
    expect(a.deny(asConn(new HalfOpen('2001:db8:1:3::1')))).toBe(false); // the next /64 is another source
  });

  it('a socket already closed when the gater sees it is refused and not counted', () => {
    const a = new InboundAdmission(() => false, limits);
    const gone = new HalfOpen('10.0.0.1');
    gone.status = 'closed';
    expect(a.deny(asConn(gone))).toBe(true);
    expect(a.pendingCount).toBe(0);
  });
});
