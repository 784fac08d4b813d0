// /cairn/grant/1.0.0 on the wire (real libp2p nodes on loopback, real LevelDB): a friend's grant
// message sets what it grants us, an ask is stored cleaned (one pending, replaced), a refusal marks
// our ask; strangers are refused; out-of-bounds messages are E_MALFORMED; and a friend gets
// GRANT_MESSAGE_BURST messages at once, then one per GRANT_MESSAGE_INTERVAL_MS.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Libp2p } from '@libp2p/interface';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRANT_MESSAGE_BURST, GRANT_MESSAGE_INTERVAL_MS, MAX_GRANT_BYTES, PROTOCOLS, WireError } from '../../../protocol/mesh.js';
import type { MeshContext } from '../../src/mesh/context.js';
import type { Friends } from '../../src/mesh/friend-ledger.js';
import { grantHandler } from '../../src/mesh/grant.js';
import { openLedgers } from '../../src/mesh/ledgers.js';
import { openStateDb, type StateDb } from '../../src/state/db.js';
import { RawWire, startWireNode } from '../helpers/mesh-wire.js';

let us: Libp2p;
let friend: Libp2p;
let stranger: Libp2p;
let dir: string;
let db: StateDb;
let book: Friends;
let now = 1_000_000_000_000;
const GIB = 2 ** 30;

beforeAll(async () => {
  us = (await startWireNode()).node;
  friend = (await startWireNode()).node;
  stranger = (await startWireNode()).node;
  dir = await mkdtemp(join(tmpdir(), 'cairn-grant-wire-'));
  const opened = await openStateDb(join(dir, 'state'));
  db = opened.db;
  const ledgers = openLedgers(opened.sub);
  book = ledgers.friends;
  await book.put({
    peerId: friend.peerId.toString(),
    name: 'friend',
    addrs: [],
    grantToPeer: GIB,
    grantFromPeer: GIB,
    createdAt: new Date(0).toISOString(),
    lastSeen: null,
    shortfall: 'E_QUOTA: full',
    problems: [],
    askToPeer: { bytes: 5 * GIB, at: new Date(0).toISOString() },
  });
  const ctx = { node: us, ...ledgers, clock: { now: () => now } } as unknown as MeshContext;
  await us.handle(PROTOCOLS.grant, grantHandler(ctx));
  await friend.dial(us.getMultiaddrs());
  await stranger.dial(us.getMultiaddrs());
});

afterAll(async () => {
  await us?.stop();
  await friend?.stop();
  await stranger?.stop();
  await db?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const send = async (from: Libp2p, m: unknown) => {
  const o = await new RawWire(await from.dialProtocol(us.peerId, PROTOCOLS.grant, { signal: AbortSignal.timeout(10_000) })).request(m);
  return o.kind === 'reply' ? ((o.value as { code?: string }).code ?? 'ok') : o.error;
};
const mine = async () => book.get(friend.peerId.toString());

describe('grant messages', () => {
  it('a grant sets what the friend grants us and answers our ask when it covers it; an ask is kept cleaned and replaced; a refusal marks ours', async () => {
    expect(await send(friend, { op: 'grant', bytes: 2 * GIB })).toBe('ok');
    expect(await mine()).toMatchObject({ grantFromPeer: 2 * GIB, shortfall: null, askToPeer: { bytes: 5 * GIB } });
    expect(await send(friend, { op: 'grant', bytes: 6 * GIB })).toBe('ok');
    expect((await mine())?.askToPeer).toBeUndefined();
    expect(await send(friend, { op: 'ask', bytes: 7 * GIB, note: '\u001b[31mplease\u001b[0m\nmore\u202e' })).toBe('ok');
    expect((await mine())?.askFromPeer).toEqual({ bytes: 7 * GIB, note: 'please more', at: new Date(now).toISOString() });
    expect(await send(friend, { op: 'ask', bytes: 8 * GIB })).toBe('ok');
    expect((await mine())?.askFromPeer).toEqual({ bytes: 8 * GIB, note: null, at: new Date(now).toISOString() });
    await book.update(friend.peerId.toString(), (f) => (f.askToPeer = { bytes: 9 * GIB, at: '' }));
    expect(await send(friend, { op: 'refuse', bytes: 9 * GIB })).toBe('ok');
    const f = await mine();
    expect(f?.askToPeer).toEqual({ bytes: 9 * GIB, at: '', refused: true });
    expect(f?.problems.at(-1)).toBe('refused our request for 9.00 GiB');
  });

  it('refuses strangers and messages out of bounds', async () => {
    expect(await send(stranger, { op: 'grant', bytes: 1 })).toBe(WireError.notFriend);
    expect(await send(friend, { op: 'grant', bytes: MAX_GRANT_BYTES + 1 })).toBe(WireError.malformed);
    expect(await send(friend, { op: 'ask', bytes: 1, note: 'x'.repeat(201) })).toBe(WireError.malformed);
    expect((await mine())?.grantFromPeer).toBe(6 * GIB);
  });

  it(`takes ${GRANT_MESSAGE_BURST} at once from a friend, then one per ${GRANT_MESSAGE_INTERVAL_MS} ms`, async () => {
    now += 10 * GRANT_MESSAGE_INTERVAL_MS * GRANT_MESSAGE_BURST; // a full allowance again
    const outcomes: string[] = [];
    for (let i = 1; i <= GRANT_MESSAGE_BURST + 3; i++) outcomes.push(await send(friend, { op: 'grant', bytes: i }));
    expect(outcomes).toEqual([...Array<string>(GRANT_MESSAGE_BURST).fill('ok'), ...Array<string>(3).fill(WireError.rateLimited)]);
    expect((await mine())?.grantFromPeer).toBe(GRANT_MESSAGE_BURST);
    now += GRANT_MESSAGE_INTERVAL_MS;
    expect(await send(friend, { op: 'grant', bytes: 99 })).toBe('ok');
    expect(await send(friend, { op: 'grant', bytes: 100 })).toBe(WireError.rateLimited);
  });
});
