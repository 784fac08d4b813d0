// The benchmark-only sink (/cairn/bench-sink/1.0.0) between two real libp2p nodes (TCP + Noise +
// Yamux on loopback): every mode delivers exactly the bytes asked; "stored" sends the owner's own
// pack files back to back and the sink writes them to disk and removes them afterwards; strangers
// are refused. npm run bench compares replication with these streams, so they must be honest.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Libp2p } from '@libp2p/interface';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BENCH_SINK_PROTOCOL, benchSinkHandler, benchStream, packReader } from '../../../bench/sink/bench-sink.js';
import type { MeshContext } from '../../src/mesh/context.js';
import { LocalPackStore } from '../../src/store/local-pack-store.js';
import { sha256Hex } from '../../src/crypto/ids.js';
import { startWireNode } from '../helpers/mesh-wire.js';

const MIB = 1024 * 1024;
let owner: Libp2p;
let stranger: Libp2p;
let friend: Libp2p;
let friendHome: string;
let ownPacks: LocalPackStore;
let packBytes: Buffer;
/** Where the sink believes the friend's hosted packs are (its files go next to them). */
const hosted = { dir: '' };

beforeAll(async () => {
  owner = (await startWireNode()).node;
  stranger = (await startWireNode()).node;
  friend = (await startWireNode()).node;
  friendHome = await mkdtemp(join(tmpdir(), 'cairn-bench-sink-'));
  hosted.dir = join(friendHome, 'hosted');
  const ctx = {
    node: friend,
    friends: { get: async (id: string) => (id === owner.peerId.toString() ? { peerId: id } : undefined) },
    hosted,
  } as unknown as MeshContext;
  await friend.handle(BENCH_SINK_PROTOCOL, benchSinkHandler(ctx));
  // the owner's packs: uneven sizes, so frames straddle pack boundaries
  ownPacks = new LocalPackStore(await mkdtemp(join(tmpdir(), 'cairn-bench-packs-')));
  await ownPacks.open();
  const packs = [5 * MIB + 12345, 17 * MIB + 1, 3 * MIB - 7, 11 * MIB].map((n) => randomBytes(n));
  for (const p of packs) await ownPacks.put(sha256Hex(p), [p]);
  const listed: string[] = [];
  for await (const p of ownPacks.list()) listed.push(p.id);
  packBytes = Buffer.concat(listed.map((id) => packs.find((p) => sha256Hex(p) === id) as Buffer));
  for (const n of [owner, stranger]) await n.dial(friend.getMultiaddrs());
});

afterAll(async () => {
  await ownPacks?.close();
  for (const n of [owner, stranger, friend]) await n?.stop();
});

const ctxOf = (node: Libp2p) => ({ node }) as unknown as MeshContext;

describe('bench sink', () => {
  it('raw, windowed and stored each deliver exactly the bytes asked, and stored leaves no file behind', async () => {
    const bytes = 33 * MIB + 777; // three sink files, the last one short
    for (const mode of ['raw', 'windowed', 'stored'] as const) {
      const r = await benchStream(ctxOf(owner), friend.peerId, bytes, mode, ownPacks);
      expect(r).toMatchObject({ mode, bytes });
      expect(r.ms).toBeGreaterThan(0);
    }
    expect(await readdir(friendHome)).toEqual([]);
  });

  it("stored mode writes to the friend's disk: a sink whose home is not a directory fails the stream", async () => {
    const notADir = join(friendHome, 'file');
    await writeFile(notADir, 'in the way');
    hosted.dir = join(notADir, 'hosted');
    try {
      await expect(benchStream(ctxOf(owner), friend.peerId, 2 * MIB, 'stored', ownPacks)).rejects.toThrow();
      // the windowed mode writes nothing and still works
      await expect(benchStream(ctxOf(owner), friend.peerId, 2 * MIB, 'windowed', ownPacks)).resolves.toMatchObject({ bytes: 2 * MIB });
    } finally {
      hosted.dir = join(friendHome, 'hosted');
      await rm(notADir);
    }
  });

  it('the owner reads its own packs back to back, across pack boundaries', async () => {
    const read = await packReader(ownPacks, packBytes.length);
    for (const [off, len] of [
      [0, MIB],
      [5 * MIB + 12000, MIB],
      [22 * MIB, 3 * MIB],
      [packBytes.length - 100, 100],
      [MIB, 7],
    ] as const) {
      const got = Buffer.alloc(len);
      await read(off, got);
      expect(Buffer.compare(got, packBytes.subarray(off, off + len))).toBe(0);
    }
    await expect(packReader(ownPacks, packBytes.length + 1)).rejects.toThrow(/bytes asked/);
  });

  it('a stranger is refused', async () => {
    await expect(benchStream(ctxOf(stranger), friend.peerId, MIB, 'windowed', ownPacks)).rejects.toThrow(/not a friend/);
  });
});
