// What friends send is data. Between real libp2p nodes (TCP + Noise + Yamux on loopback) and a
// real LevelDB friend book: a friend's refusal (any code string, up to 256 KiB of any text)
// becomes a RefusedError with a known code and one clean, short line; problems and shortfalls that
// quote a friend are stored clean; and a friend's head puts, each a rewrite of up to 256 KiB in
// our database, are rate-limited per friend.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Libp2p, PrivateKey } from '@libp2p/interface';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEAD_PUT_BURST, HEAD_PUT_INTERVAL_MS, MAX_MESSAGE_BYTES, PROTOCOLS, WireError, type Head } from '../../../protocol/mesh.js';
import type { MeshContext } from '../../src/mesh/context.js';
import { Frames, RefusedError, serve } from '../../src/mesh/framing.js';
import { Friends } from '../../src/mesh/friend-ledger.js';
import { openLedgers } from '../../src/mesh/ledgers.js';
import { signHead } from '../../src/mesh/head-chain.js';
import { headHandler } from '../../src/mesh/head.js';
import { openStateDb, type StateDb } from '../../src/state/db.js';
import { MAX_UNTRUSTED_TEXT_CHARS } from '../../src/util/untrusted-text.js';
import { RawWire, startWireNode } from '../helpers/mesh-wire.js';

const REFUSE = '/cairn-test/refuse/1.0.0';
const HOSTILE = `\u001b[2J\u001b[31mYOUR BACKUPS ARE GONE\u001b[0m\r\n\u202eexe.txt${'A'.repeat(MAX_MESSAGE_BYTES - 200)}`;

let owner: { node: Libp2p; key: PrivateKey };
let friend: { node: Libp2p; key: PrivateKey };
let dir: string;
let db: StateDb;
let book: Friends;
let now = 1_000_000_000_000;
/** What the friend's refusal says next. */
let refusal: { code: string; message: unknown } = { code: 'E_QUOTA', message: '' };

beforeAll(async () => {
  owner = await startWireNode();
  friend = await startWireNode();
  dir = await mkdtemp(join(tmpdir(), 'cairn-friend-text-'));
  const opened = await openStateDb(join(dir, 'state'));
  db = opened.db;
  const ledgers = openLedgers(opened.sub);
  book = ledgers.friends;
  const stamp = new Date(0).toISOString();
  await book.put({
    peerId: owner.node.peerId.toString(),
    name: 'owner',
    addrs: [],
    grantToPeer: 1 << 30,
    grantFromPeer: 0,
    createdAt: stamp,
    lastSeen: null,
    shortfall: null,
    problems: [],
  });
  // the friend refuses whatever it is asked, with the words the test chose
  await friend.node.handle(REFUSE, (stream) =>
    serve(stream, async (f) => {
      await f.readJson();
      await f.writeJson({ ok: false, ...refusal });
    }),
  );
  // the friend keeps heads for the owner, on a clock the test moves
  const ctx = { node: friend.node, ...ledgers, clock: { now: () => now } } as unknown as MeshContext;
  await friend.node.handle(PROTOCOLS.head, headHandler(ctx));
  await owner.node.dial(friend.node.getMultiaddrs());
});

afterAll(async () => {
  await owner?.node.stop();
  await friend?.node.stop();
  await db?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function askFriend(): Promise<RefusedError> {
  const stream = await owner.node.dialProtocol(friend.node.peerId, REFUSE, { signal: AbortSignal.timeout(10_000) });
  const f = new Frames(stream);
  await f.writeJson({});
  const err = await f.readReply().then(
    () => null,
    (e: unknown) => e,
  );
  await stream.close().catch(() => undefined);
  if (!(err instanceof RefusedError)) throw new Error(`expected a RefusedError, got ${String(err)}`);
  return err;
}

const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe("a friend's refusal", () => {
  it('a known code with 256 KiB of escapes, newlines and bidi overrides: one clean line of at most 200 characters', async () => {
    refusal = { code: WireError.quota, message: HOSTILE };
    const err = await askFriend();
    expect(err.wireCode).toBe(WireError.quota);
    expect(err.message).not.toMatch(UNSAFE);
    expect(Array.from(err.message).length).toBeLessThanOrEqual(MAX_UNTRUSTED_TEXT_CHARS);
    expect(err.message.startsWith('YOUR BACKUPS ARE GONE exe.txtAAA')).toBe(true);
  });

  it("a code we do not know becomes E_INTERNAL, the friend's code kept (cleaned) in the text", async () => {
    refusal = { code: `E_\u001b[31mWHATEVER${'Z'.repeat(5000)}`, message: 'no' };
    const err = await askFriend();
    expect(err.wireCode).toBe(WireError.internal);
    expect(err.code).toBe(WireError.internal);
    expect(err.message).not.toMatch(UNSAFE);
    expect(err.message).toMatch(/^\(code E_WHATEVERZ+…\) no$/);
    expect(Array.from(err.message).length).toBeLessThanOrEqual(MAX_UNTRUSTED_TEXT_CHARS);
  });

  it('a message that is not a string is empty', async () => {
    refusal = { code: WireError.diskFloor, message: { nested: ['\u001b[31m'] } };
    const err = await askFriend();
    expect(err.wireCode).toBe(WireError.diskFloor);
    expect(err.message).toBe('');
  });
});

describe('text stored about a friend', () => {
  it('problems and shortfalls quoting a friend are stored without controls and capped; addresses with controls are dropped', async () => {
    const peer = owner.node.peerId.toString();
    await book.addProblem(peer, `refused head seq 3: ${HOSTILE}`);
    await book.update(peer, (f) => {
      f.shortfall = `E_QUOTA: ${HOSTILE}`;
      f.addrs = ['/ip4/10.0.0.1/tcp/4001', '/ip4/10.0.0.2/tcp/4001\u001b[31m', '/dns4/nas.example.org/tcp/4001\u202e'];
    });
    const f = await book.get(peer);
    for (const text of [f?.problems.at(-1) ?? '', f?.shortfall ?? '']) {
      expect(text).not.toMatch(UNSAFE);
      expect(text.length).toBeLessThanOrEqual(400);
      expect(text).toMatch(/YOUR BACKUPS ARE GONE/);
    }
    expect(f?.addrs).toEqual(['/ip4/10.0.0.1/tcp/4001']); // an "address" carrying controls is dropped
  });
});

describe("a friend's head puts", () => {
  const head = async (seq: number) => {
    const h: Head = {
      version: 1,
      repoId: 'f'.repeat(64),
      seq,
      prev: null,
      time: new Date(0).toISOString(),
      snapshots: [],
      chunker: 'fastcdc',
      sealedFriends: 'x'.repeat(1000),
    };
    return signHead(owner.key, h);
  };
  const put = async (seq: number) =>
    new RawWire(await owner.node.dialProtocol(friend.node.peerId, PROTOCOLS.head, { signal: AbortSignal.timeout(10_000) })).request({
      op: 'put',
      head: await head(seq),
    });
  const code = (o: Awaited<ReturnType<typeof put>>) => (o.kind === 'reply' ? ((o.value as { code?: string }).code ?? 'ok') : o.error);

  it(`take ${HEAD_PUT_BURST} at once, then one per ${HEAD_PUT_INTERVAL_MS} ms; gets are not limited`, async () => {
    const outcomes: string[] = [];
    for (let seq = 1; seq <= HEAD_PUT_BURST + 5; seq++) outcomes.push(code(await put(seq)));
    expect(outcomes).toEqual([...Array<string>(HEAD_PUT_BURST).fill('ok'), ...Array<string>(5).fill(WireError.rateLimited)]);
    // the last head kept is the last one let in
    const get = await new RawWire(await owner.node.dialProtocol(friend.node.peerId, PROTOCOLS.head, { signal: AbortSignal.timeout(10_000) })).request({
      op: 'get',
    });
    expect((get as { value: { head: { head: Head } } }).value.head.head.seq).toBe(HEAD_PUT_BURST);
    now += HEAD_PUT_INTERVAL_MS;
    expect(code(await put(HEAD_PUT_BURST + 1))).toBe('ok');
    expect(code(await put(HEAD_PUT_BURST + 2))).toBe(WireError.rateLimited);
    // the head already kept, sent again (every replication round does): taken without spending
    // the allowance, as often as it comes
    for (let i = 0; i < 3; i++) expect(code(await put(HEAD_PUT_BURST + 1))).toBe('ok');
    expect(code(await put(HEAD_PUT_BURST + 2))).toBe(WireError.rateLimited);
  });
});
