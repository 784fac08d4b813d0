// Pairing against a real inviter: a libp2p node (createMeshNode) serving /cairn/pair/1.0.0 from a
// real LevelDB friend book, and joiner nodes that present the invite at once. An invite makes one
// friendship however many present it together; its used flag is written with a synced write; a
// joiner's name is data (no control characters or escapes reach the book); and the memory of failed
// attempts is bounded however many identities a stranger makes.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Libp2p } from '@libp2p/interface';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeInvite, INVITE_SECRET_BYTES, inviteId } from '../../../protocol/invite.js';
import { PROTOCOLS, WireError, type PairRequest } from '../../../protocol/mesh.js';
import type { MeshContext } from '../../src/mesh/context.js';
import { openLedgers, type Ledgers } from '../../src/mesh/ledgers.js';
import { createMeshNode } from '../../src/mesh/node.js';
import { MAX_PAIRING_PEERS_TRACKED, pairHandler, PairingFailures, pairProof } from '../../src/mesh/pair.js';
import { openStateDb, type StateDb } from '../../src/state/db.js';
import { systemClock } from '../../src/util/clock.js';
import { pairNode, RawWire, startWireNode, type Outcome } from '../helpers/mesh-wire.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

interface Inviter {
  node: Libp2p;
  book: Ledgers;
  db: StateDb;
  code: string;
  id: string;
  secret: string;
}

async function startInviter(quotaBytes = 1 << 20): Promise<Inviter> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-pair-'));
  const { db, sub } = await openStateDb(join(dir, 'state'));
  const book = openLedgers(sub);
  const node = await createMeshNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], admit: () => true });
  await node.start();
  const ctx = { node, ...book, clock: systemClock, name: 'inviter', onFriend: async () => undefined } as unknown as MeshContext;
  await node.handle(PROTOCOLS.pair, pairHandler(ctx), { maxInboundStreams: 64 });
  const secret = randomBytes(INVITE_SECRET_BYTES).toString('hex');
  const expiresAt = Math.floor(systemClock.now() / 1000) + 3600;
  await book.friends.putInvite({ id: inviteId(secret), secret, expiresAt, quotaBytes, failures: 0, used: false });
  const addrs = node.getMultiaddrs().map((a) => a.toString().replace(/\/p2p\/[^/]+$/, ''));
  const code = encodeInvite({ peerId: node.peerId.toString(), addrs, expiresAt, quotaBytes, secret });
  cleanups.push(async () => {
    await node.stop();
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { node, book, db, code, id: inviteId(secret), secret };
}

async function joiners(n: number): Promise<Libp2p[]> {
  const out = await Promise.all(Array.from({ length: n }, () => startWireNode()));
  for (const j of out) cleanups.push(async () => j.node.stop());
  return out.map((j) => j.node);
}

const accepted = (o: Outcome) => o.kind === 'reply' && (o.value as { ok?: unknown }).ok === true;

describe('pairing with one invite', () => {
  it('twelve joiners presenting one code at once make exactly one friend; the others are told it was used', async () => {
    const inviter = await startInviter();
    const nodes = await joiners(12);
    // every joiner connected and its stream open first, so the twelve requests arrive together
    const streams = await Promise.all(
      nodes.map(async (n) => n.dialProtocol(inviter.node.getMultiaddrs(), PROTOCOLS.pair, { signal: AbortSignal.timeout(15_000) })),
    );
    const outcomes = await Promise.all(
      streams.map(async (s, i) => {
        const req: PairRequest = {
          inviteId: inviter.id,
          proof: pairProof(inviter.secret, inviter.node.peerId.toString(), nodes[i]!.peerId.toString()),
          name: `joiner-${i}`,
          grantBytes: 1 << 30,
          addrs: [],
        };
        return new RawWire(s).request(req);
      }),
    );
    const winners = outcomes.filter(accepted);
    expect(winners.length, JSON.stringify(outcomes)).toBe(1);
    for (const o of outcomes.filter((x) => !accepted(x))) expect(o).toMatchObject({ kind: 'reply', value: { ok: false, code: WireError.inviteUsed } });
    expect((await inviter.book.friends.list()).length).toBe(1);
    expect((await inviter.book.friends.getInvite(inviter.id))?.used).toBe(true);
  }, 60_000);

  it('the used flag and hosted-pack records are written with a synced LevelDB write', async () => {
    const inviter = await startInviter();
    const synced: string[] = [];
    const put = inviter.db.put.bind(inviter.db);
    const del = inviter.db.del.bind(inviter.db);
    // every sublevel write goes through the root database's put/del with the caller's options
    inviter.db.put = (async (key: string, value: string, options?: { sync?: boolean }) => {
      if (options?.sync === true) synced.push(key);
      return put(key, value, options as never);
    }) as typeof inviter.db.put;
    inviter.db.del = (async (key: string, options?: { sync?: boolean }) => {
      if (options?.sync === true) synced.push(`del ${key}`);
      return del(key, options as never);
    }) as typeof inviter.db.del;
    const [joiner] = await joiners(1);
    expect(accepted(await pairNode(joiner!, inviter.code, 'joiner', 1 << 30))).toBe(true);
    expect(
      synced.some((k) => k.includes('invites') && k.endsWith(inviter.id)),
      synced.join(', '),
    ).toBe(true);
    await inviter.book.hostedPacks.add(joiner!.peerId.toString(), 'cd'.repeat(32), 100);
    await inviter.book.hostedPacks.remove(joiner!.peerId.toString(), 'cd'.repeat(32));
    expect(synced.filter((k) => k.includes('hosted') && k.endsWith('cd'.repeat(32))).length, synced.join(', ')).toBe(2);
  }, 60_000);

  it("a joiner's name reaches the friend book without control characters, escapes or bidi overrides", async () => {
    const inviter = await startInviter();
    const [joiner] = await joiners(1);
    expect(accepted(await pairNode(joiner!, inviter.code, '\u001b[31mEVIL\u001b[0m\r\nok\u202egnp.exe\u0007', 1 << 30))).toBe(true);
    const [friend] = await inviter.book.friends.list();
    expect(friend?.name).toBe('EVIL ok gnp.exe');
  }, 60_000);
});

describe('failed pairing attempts', () => {
  it('are remembered for a bounded number of peers, the longest ago forgotten first', () => {
    let now = 1_000_000;
    const failures = new PairingFailures(() => now, 100);
    for (let i = 0; i < 5; i++) failures.add('persistent');
    for (let i = 0; i < 1000; i++) {
      now += 1;
      failures.add(`sybil-${i}`);
      if (i % 50 === 0) failures.add('persistent'); // failing again keeps it among the newest
    }
    expect(failures.size).toBe(100);
    expect(failures.recent('persistent')).toBe(5);
    expect(failures.recent('sybil-0')).toBe(0);
    expect(failures.recent('sybil-999')).toBe(1);
    now += 11 * 60_000; // past the window: nothing is held against anyone
    expect(failures.recent('persistent')).toBe(0);
  });

  it('the default bound is MAX_PAIRING_PEERS_TRACKED', () => {
    const failures = new PairingFailures(() => 0);
    for (let i = 0; i < MAX_PAIRING_PEERS_TRACKED + 500; i++) failures.add(`p${i}`);
    expect(failures.size).toBe(MAX_PAIRING_PEERS_TRACKED);
  });
});
