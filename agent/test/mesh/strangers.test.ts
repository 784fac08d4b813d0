// A real agent (separate process, its own LevelDB home) against in-process libp2p nodes that
// speak the mesh protocols by hand: strangers are kept out (no connection without an open
// invite, E_NOT_FRIEND on every protocol but pairing with one), oversize length prefixes reset the
// stream without the agent allocating or dying, and a node that paired with an invite is held to
// its grant, to pack IDs that match the bytes, and to newer-or-equal heads.
import { createHash, randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Libp2p, PrivateKey } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_FRAME_BYTES, MAX_MESSAGE_BYTES, PROTOCOLS, WireError, type Head } from '../../../protocol/mesh.js';
import { signHead } from '../../src/mesh/head-chain.js';
import { startAgent, type TestAgent } from '../helpers/agents.js';
import { dial, health, pairNode, RawWire, rssBytes, startWireNode, type Outcome } from '../helpers/mesh-wire.js';

const GIB = 1024 * 1024 * 1024;
const MIB = 1024 * 1024;

interface Peer {
  name: string;
  peerId: string;
  storedForPeerBytes: number;
  grantToPeer: number;
}

/** Every file below a directory (recursively), relative; [] when it does not exist. */
async function filesBelow(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(join(dir, rel));
    } catch {
      return;
    }
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      const entries = await readdir(join(dir, r)).catch(() => null);
      if (entries === null) out.push(r);
      else await walk(r);
    }
  };
  await walk('');
  return out.sort();
}

function refusal(o: Outcome): { code?: string; message?: string } | undefined {
  if (o.kind !== 'reply') return undefined;
  const v = o.value as { ok?: unknown; code?: string; message?: string };
  return v.ok === false ? v : undefined;
}

function packOf(size: number): { id: string; bytes: Buffer } {
  const bytes = randomBytes(size);
  return { id: createHash('sha256').update(bytes).digest('hex'), bytes };
}

async function fakeHead(key: PrivateKey, seq: number, prev: string | null) {
  const head: Head = { version: 1, repoId: 'f'.repeat(64), seq, prev, time: new Date(0).toISOString(), snapshots: [], chunker: 'fastcdc', sealedFriends: '' };
  return signHead(key, head);
}

describe('strangers and hostile frames against a real agent', () => {
  let target: TestAgent;
  const nodes: Libp2p[] = [];
  let friend: { node: Libp2p; key: PrivateKey };
  let code: string;

  const newNode = async () => {
    const n = await startWireNode();
    nodes.push(n.node);
    return n;
  };

  beforeAll(async () => {
    target = await startAgent('target');
  }, 120_000);

  afterAll(async () => {
    for (const n of nodes) await Promise.resolve(n.stop()).catch(() => undefined);
    await target?.stop();
    if (target) await rm(dirname(target.home), { recursive: true, force: true });
  });

  it('with no open invite, a stranger cannot open any /cairn/* protocol', async () => {
    const { node } = await newNode();
    for (const protocol of Object.values(PROTOCOLS)) {
      // libp2p rejects with an Error or with the connection's close event
      const opened = await dial(node, target, protocol).then(
        () => true,
        () => false,
      );
      expect(opened, `${protocol} opened for a stranger`).toBe(false);
    }
    expect(node.getConnections().filter((c) => c.status === 'open')).toEqual([]);
    expect(await target.cli<Peer[]>(['peers'])).toEqual([]);
  }, 120_000);

  it('with an invite open, a stranger connects but every protocol except pairing refuses it and nothing is stored', async () => {
    code = (await target.cli<{ code: string }>(['invite', '--quota', '1M'])).code;
    const { node, key } = await newNode();
    const pack = packOf(4096);

    const put = new RawWire(await dial(node, target, PROTOCOLS.packPut));
    const putReply = await put.request({ packId: pack.id, sizeBytes: pack.bytes.length });
    // a stranger that ignores the refusal and sends the pack anyway
    await put.frame(pack.bytes).catch(() => undefined);
    const outcomes: Record<string, Outcome> = {
      packPut: putReply,
      packGet: await new RawWire(await dial(node, target, PROTOCOLS.packGet)).request({ packId: pack.id }),
      packList: await new RawWire(await dial(node, target, PROTOCOLS.packList)).request({}),
      headGet: await new RawWire(await dial(node, target, PROTOCOLS.head)).request({ op: 'get' }),
      headPut: await new RawWire(await dial(node, target, PROTOCOLS.head)).request({ op: 'put', head: await fakeHead(key, 1, null) }),
    };
    for (const [what, o] of Object.entries(outcomes)) {
      // the agent answers with a refusal (a reset would also keep the stranger out, but it does answer)
      expect(refusal(o), `${what}: ${JSON.stringify(o)}`).toMatchObject({ code: WireError.notFriend });
    }
    expect(node.getConnections(peerIdFromString(target.info.peerId)).length, 'the stranger was never connected').toBeGreaterThan(0);
    expect(await filesBelow(join(target.home, 'hosted'))).toEqual([]);
    expect(await target.cli<Peer[]>(['peers'])).toEqual([]);
  }, 120_000);

  it('resets streams whose length prefix exceeds MAX_FRAME_BYTES, without allocating or dying', async () => {
    const { node } = await newNode();
    const pid = target.info.pid;
    const before = await rssBytes(pid);
    // a stranger may only speak pairing: 1 GiB announced, 2 MiB actually sent, several at once
    const results = await Promise.all(
      [GIB, GIB, 2 * GIB - 1, MAX_FRAME_BYTES + 1].map(async (announced) => new RawWire(await dial(node, target, PROTOCOLS.pair)).oversize(announced, 2 * MIB)),
    );
    for (const r of results) expect(r.ended, r.detail).toBe('reset');
    const after = await rssBytes(pid);
    expect(after - before, `agent RSS grew from ${before} to ${after}`).toBeLessThan(200 * MIB);
    expect(target.proc.exitCode).toBeNull();
    expect((await health(target)).peerId).toBe(target.info.peerId);

    // a frame under MAX_FRAME_BYTES but over MAX_MESSAGE_BYTES is more than a message stream keeps unread (SPEC 13.2): reset, never read whole
    const big = new RawWire(await dial(node, target, PROTOCOLS.pair));
    const o = await big.request({ pad: 'x'.repeat(MAX_MESSAGE_BYTES + 10) });
    expect(o.kind, JSON.stringify(o).slice(0, 300)).toBe('closed');
    // and the mesh still serves afterwards
    const again = await new RawWire(await dial(node, target, PROTOCOLS.packList)).request({});
    expect(refusal(again)).toMatchObject({ code: WireError.notFriend });
  }, 180_000);

  it('a node that pairs with the invite becomes a friend; the used invite closes the gate to strangers again', async () => {
    friend = await newNode();
    const accepted = await pairNode(friend.node, code, 'wire-friend', 5 * MIB);
    expect(accepted).toMatchObject({ kind: 'reply', value: { ok: true, name: 'target', grantBytes: MIB, known: false } });
    const peers = await target.cli<Peer[]>(['peers']);
    expect(peers).toMatchObject([{ name: 'wire-friend', peerId: friend.node.peerId.toString(), grantToPeer: MIB, storedForPeerBytes: 0 }]);

    // the same code again, from another node: refused (the gate is shut, or pairing says it was used)
    const late = await newNode();
    const second = await pairNode(late.node, code, 'late', MIB).catch((e: unknown) => ({ kind: 'closed' as const, error: String(e) }));
    expect(second.kind === 'closed' || refusal(second)?.code === WireError.inviteUsed, JSON.stringify(second)).toBe(true);
    const third = await newNode();
    const opened = await dial(third.node, target, PROTOCOLS.packList).then(
      () => true,
      () => false,
    );
    expect(opened, 'a stranger could still connect after the only invite was used').toBe(false);
    expect((await target.cli<Peer[]>(['peers'])).map((p) => p.name)).toEqual(['wire-friend']);
  }, 120_000);

  it('a friend is held to its grant and to pack IDs that match the bytes', async () => {
    const { node } = friend;
    const hostedDir = join(target.home, 'hosted', node.peerId.toString());
    const storedPath = (id: string) => `${id.slice(0, 2)}/${id}`;

    // larger than the whole grant: refused before any byte is read
    const huge = packOf(MIB + 1);
    const w1 = new RawWire(await dial(node, target, PROTOCOLS.packPut));
    expect(refusal(await w1.request({ packId: huge.id, sizeBytes: huge.bytes.length }))).toMatchObject({ code: WireError.quota });

    // bytes that do not hash to the announced ID: refused after the transfer, nothing kept
    const real = packOf(600 * 1024);
    const liar = createHash('sha256').update('something else').digest('hex');
    const w2 = new RawWire(await dial(node, target, PROTOCOLS.packPut));
    expect(await w2.request({ packId: liar, sizeBytes: real.bytes.length })).toMatchObject({ kind: 'reply', value: { ok: true, have: false } });
    const sent = await w2.sendPack(real.bytes).then(
      () => null,
      (e: unknown) => e,
    );
    const done = sent === null ? await w2.readJson().catch((e: unknown) => ({ error: String(e) })) : { error: String(sent) };
    expect(done).toMatchObject({ ok: false, code: WireError.badPack });
    expect(await filesBelow(hostedDir)).toEqual([]);

    // an honest pack within the grant is stored under its ID, listed and served back
    const w3 = new RawWire(await dial(node, target, PROTOCOLS.packPut));
    expect(await w3.request({ packId: real.id, sizeBytes: real.bytes.length })).toMatchObject({ kind: 'reply', value: { ok: true, have: false } });
    await w3.sendPack(real.bytes);
    expect(await w3.readJson()).toEqual({ ok: true, storedBytes: real.bytes.length });
    expect(await filesBelow(hostedDir)).toEqual([storedPath(real.id)]);
    const list = await new RawWire(await dial(node, target, PROTOCOLS.packList)).request({});
    expect(list).toEqual({ kind: 'reply', value: { ok: true, packs: [{ id: real.id, sizeBytes: real.bytes.length }], more: false } });
    const get = new RawWire(await dial(node, target, PROTOCOLS.packGet));
    expect(await get.request({ packId: real.id, offset: 100, length: 1000 })).toEqual({ kind: 'reply', value: { ok: true, sizeBytes: 1000 } });
    const range = await get.readFrame();
    expect(range?.equals(real.bytes.subarray(100, 1100))).toBe(true);

    // a second pack that would take usage past the 1 MiB grant: refused, nothing written
    const more = packOf(600 * 1024);
    const w4 = new RawWire(await dial(node, target, PROTOCOLS.packPut));
    const over = refusal(await w4.request({ packId: more.id, sizeBytes: more.bytes.length }));
    expect(over).toMatchObject({ code: WireError.quota });
    expect(over?.message).toMatch(/quota/);
    expect(await filesBelow(hostedDir)).toEqual([storedPath(real.id)]);

    // a pack-put that turns hostile mid-transfer (1 GiB length prefix): reset, no partial file left
    const small = packOf(300 * 1024);
    const w5 = new RawWire(await dial(node, target, PROTOCOLS.packPut));
    expect(await w5.request({ packId: small.id, sizeBytes: small.bytes.length })).toMatchObject({ kind: 'reply', value: { ok: true, have: false } });
    expect((await w5.oversize(GIB, MIB)).ended).toBe('reset');
    // the reset is asynchronous at the agent: give it a moment to remove its temp file
    for (let i = 0; i < 50 && (await filesBelow(hostedDir)).length > 1; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await filesBelow(hostedDir)).toEqual([storedPath(real.id)]);
    const peers = await target.cli<Peer[]>(['peers']);
    expect(peers[0]?.storedForPeerBytes).toBe(real.bytes.length);
    expect(target.proc.exitCode).toBeNull();
  }, 180_000);

  it('concurrent pack-puts cannot together exceed the grant', async () => {
    const { node } = friend;
    const hostedDir = join(target.home, 'hosted', node.peerId.toString());
    const before = (await target.cli<Peer[]>(['peers']))[0]!;
    const room = before.grantToPeer - before.storedForPeerBytes;
    // four packs that each fit in the remaining room, but no two of them together
    const size = Math.floor(room * 0.6);
    const packs = Array.from({ length: 4 }, () => packOf(size));
    const wires = await Promise.all(packs.map(async () => new RawWire(await dial(node, target, PROTOCOLS.packPut))));
    const replies = await Promise.all(wires.map((w, i) => w.request({ packId: packs[i]!.id, sizeBytes: size })));
    const admitted = replies.flatMap((r, i) => (r.kind === 'reply' && (r.value as { ok?: boolean }).ok === true ? [i] : []));
    for (const [i, r] of replies.entries()) if (!admitted.includes(i)) expect(refusal(r), JSON.stringify(r)).toMatchObject({ code: WireError.quota });
    // send whatever was admitted; the friend must end within its grant
    await Promise.all(
      admitted.map(async (i) => {
        await wires[i]!.sendPack(packs[i]!.bytes);
        return wires[i]!.readJson();
      }),
    );
    const after = (await target.cli<Peer[]>(['peers']))[0]!;
    const note = `${admitted.length} of 4 concurrent ${size}-byte packs admitted with ${room} of ${after.grantToPeer} granted bytes left`;
    expect(after.storedForPeerBytes, note).toBeLessThanOrEqual(after.grantToPeer);
    expect(admitted.length, note).toBe(1);
    expect((await filesBelow(hostedDir)).length).toBe(2);
  }, 120_000);

  it("a friend's head must verify with its own key and may not go back", async () => {
    const { node, key } = friend;
    const put = async (head: unknown) => new RawWire(await dial(node, target, PROTOCOLS.head)).requestOnce({ op: 'put', head });
    const h1 = await fakeHead(key, 1, null);
    const h2 = await fakeHead(key, 2, 'a'.repeat(64));
    expect(await put(h1)).toEqual({ kind: 'reply', value: { ok: true, head: h1 } });
    expect(await put(h2)).toEqual({ kind: 'reply', value: { ok: true, head: h2 } });
    expect(refusal(await put(h1))).toMatchObject({ code: WireError.staleHead });
    // a head altered after signing: its signature no longer verifies
    expect(refusal(await put({ ...h2, head: { ...h2.head, time: new Date(1).toISOString() } }))).toMatchObject({ code: WireError.badSignature });
    const other = await startWireNode();
    nodes.push(other.node);
    const h3Forged = await fakeHead(other.key, 3, 'b'.repeat(64));
    expect(refusal(await put(h3Forged))).toMatchObject({ code: WireError.badSignature });
    // a validly signed but different head with the kept seq: refused as stale
    expect(refusal(await put(await fakeHead(key, 2, 'c'.repeat(64))))).toMatchObject({ code: WireError.staleHead });
    expect(await new RawWire(await dial(node, target, PROTOCOLS.head)).requestOnce({ op: 'get' })).toEqual({ kind: 'reply', value: { ok: true, head: h2 } });
  }, 120_000);
});
