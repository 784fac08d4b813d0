// /cairn/challenge/1.0.0, the friend's side (mesh/challenge.ts), on real libp2p nodes (TCP + Noise +
// Yamux on loopback), a real LevelDB and a real hosted pack directory: an honest answer is
// SHA-256(nonce || the ranges' bytes); a pack not held is said so plainly; and what a hostile owner
// may ask is bounded: too many ranges, too many bytes, empty ranges or ranges beyond any pack are
// refused as malformed, ranges beyond the pack held are refused E_NOT_FOUND, strangers E_NOT_FRIEND.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Libp2p } from '@libp2p/interface';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CHALLENGE_BYTES, MAX_CHALLENGE_RANGES, MAX_PACK_BYTES, PROTOCOLS, WireError, type ChallengeRequest } from '../../../protocol/mesh.js';
import { askChallenge } from '../../src/mesh/challenge.js';
import { challengeHandler } from '../../src/mesh/challenge.js';
import type { MeshContext } from '../../src/mesh/context.js';
import { HostedStore } from '../../src/mesh/hosted-store.js';
import { openLedgers, type Ledgers } from '../../src/mesh/ledgers.js';
import { openStateDb, type StateDb } from '../../src/state/db.js';
import { RawWire, startWireNode } from '../helpers/mesh-wire.js';

const MIB = 1024 * 1024;
const pack = randomBytes(3 * MIB + 777);
const packId = createHash('sha256').update(pack).digest('hex');
const shortPack = randomBytes(100_000);
const shortId = createHash('sha256').update(shortPack).digest('hex');

let dir: string;
let db: StateDb;
let ledgers: Ledgers;
let hosted: HostedStore;
let friend: Libp2p;
let owner: Libp2p;
let stranger: Libp2p;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-challenge-'));
  const opened = await openStateDb(join(dir, 'state'));
  db = opened.db;
  ledgers = openLedgers(opened.sub);
  hosted = new HostedStore(join(dir, 'hosted'), ledgers.hostedPacks, { floorBytes: 0 });
  friend = (await startWireNode()).node;
  owner = (await startWireNode()).node;
  stranger = (await startWireNode()).node;
  const o = owner.peerId.toString();
  await ledgers.friends.put({
    peerId: o,
    name: 'owner',
    addrs: [],
    grantToPeer: 1024 * MIB,
    grantFromPeer: 1024 * MIB,
    createdAt: new Date().toISOString(),
    lastSeen: null,
    shortfall: null,
    problems: [],
  });
  for (const [id, bytes] of [
    [packId, pack],
    [shortId, shortPack],
  ] as const) {
    await (await hosted.storeFor(o)).put(id, [bytes]);
    await ledgers.hostedPacks.add(o, id, bytes.length);
  }
  await friend.handle(PROTOCOLS.challenge, challengeHandler({ friends: ledgers.friends, hostedPacks: ledgers.hostedPacks, hosted }));
});

afterAll(async () => {
  await owner?.stop();
  await stranger?.stop();
  await friend?.stop();
  await db?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function ask(from: Libp2p, req: unknown): Promise<unknown> {
  const stream = await from.dialProtocol(friend.getMultiaddrs(), PROTOCOLS.challenge, { signal: AbortSignal.timeout(15_000) });
  const r = await new RawWire(stream).request(req);
  if (r.kind !== 'reply') throw new Error(`no reply: ${r.error}`);
  return r.value;
}

const nonce = () => randomBytes(32).toString('hex');

function expected(bytes: Buffer, n: string, ranges: ChallengeRequest['ranges']): string {
  const h = createHash('sha256').update(Buffer.from(n, 'hex'));
  for (const r of ranges) h.update(bytes.subarray(r.offset, r.offset + r.length));
  return h.digest('hex');
}

describe('the challenge handler (friend side)', () => {
  it('answers SHA-256 over the nonce and the ranges, which changes with every nonce', async () => {
    const ranges = [
      { offset: 0, length: 10 },
      { offset: 2 * MIB + 5, length: 64 * 1024 + 3 },
      { offset: pack.length - 100, length: 100 },
    ];
    const n1 = nonce();
    const n2 = nonce();
    const a1 = await ask(owner, { packId, nonce: n1, ranges });
    const a2 = await ask(owner, { packId, nonce: n2, ranges });
    expect(a1).toEqual({ ok: true, held: true, digest: expected(pack, n1, ranges) });
    expect(a2).toEqual({ ok: true, held: true, digest: expected(pack, n2, ranges) });
    // and the owner's side of the exchange gets the same
    const ctx = { node: owner } as unknown as MeshContext;
    expect(await askChallenge(ctx, friend.peerId, { packId, nonce: n1, ranges })).toEqual(a1);
  });

  it('says plainly that it does not hold a pack it never had', async () => {
    const other = randomBytes(32).toString('hex');
    expect(await ask(owner, { packId: other, nonce: nonce(), ranges: [{ offset: 0, length: 1 }] })).toEqual({ ok: true, held: false });
  });

  it('refuses ranges beyond the bytes it holds of the pack (E_NOT_FOUND), also once the file shrank behind its back', async () => {
    const beyond = await ask(owner, { packId: shortId, nonce: nonce(), ranges: [{ offset: shortPack.length - 10, length: 11 }] });
    expect(beyond).toMatchObject({ ok: false, code: WireError.notFound });
    await truncate((await hosted.storeFor(owner.peerId.toString())).path(shortId), 50_000);
    const shrunk = await ask(owner, { packId: shortId, nonce: nonce(), ranges: [{ offset: 60_000, length: 10 }] });
    expect(shrunk).toMatchObject({ ok: false, code: WireError.notFound });
  });

  it(`refuses more than ${MAX_CHALLENGE_RANGES} ranges, more than ${MAX_CHALLENGE_BYTES} bytes in all, empty ranges and ranges beyond any pack (E_MALFORMED)`, async () => {
    const many = Array.from({ length: MAX_CHALLENGE_RANGES + 1 }, (_, i) => ({ offset: i, length: 1 }));
    expect(await ask(owner, { packId, nonce: nonce(), ranges: many })).toMatchObject({ ok: false, code: WireError.malformed });
    const big = [
      { offset: 0, length: MAX_CHALLENGE_BYTES / 2 + 1 },
      { offset: MIB, length: MAX_CHALLENGE_BYTES / 2 },
    ];
    expect(await ask(owner, { packId, nonce: nonce(), ranges: big })).toMatchObject({ ok: false, code: WireError.malformed });
    expect(await ask(owner, { packId, nonce: nonce(), ranges: [{ offset: 0, length: 0 }] })).toMatchObject({ ok: false, code: WireError.malformed });
    expect(await ask(owner, { packId, nonce: nonce(), ranges: [{ offset: MAX_PACK_BYTES, length: 1 }] })).toMatchObject({
      ok: false,
      code: WireError.malformed,
    });
    expect(await ask(owner, { packId, nonce: nonce(), ranges: [] })).toMatchObject({ ok: false, code: WireError.malformed });
    expect(await ask(owner, { packId, nonce: 'ab', ranges: [{ offset: 0, length: 1 }] })).toMatchObject({ ok: false, code: WireError.malformed });
  });

  it('refuses a stranger (E_NOT_FRIEND)', async () => {
    expect(await ask(stranger, { packId, nonce: nonce(), ranges: [{ offset: 0, length: 1 }] })).toMatchObject({ ok: false, code: WireError.notFriend });
  });
});
