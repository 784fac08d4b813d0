// fetchPack (a whole pack from a friend, straight into the local store) against a friend that
// serves honestly, flips a bit, announces an absurd size, or stops halfway; real libp2p nodes
// (TCP + Noise + Yamux on loopback) and a real pack directory. A pack lands only when its bytes
// hash to its ID, a damaged local copy is replaced, and a failure leaves no file behind.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Libp2p } from '@libp2p/interface';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MalformedMessageError, PACK_FRAME_BYTES, PROTOCOLS } from '../../../protocol/mesh.js';
import type { MeshContext } from '../../src/mesh/context.js';
import { serve } from '../../src/mesh/framing.js';
import { fetchPack } from '../../src/mesh/pack-get.js';
import { PackHashMismatchError } from '../../src/mesh/pack-receive.js';
import { LocalPackStore } from '../../src/store/local-pack-store.js';
import { startWireNode } from '../helpers/mesh-wire.js';

type Behaviour = 'honest' | 'flip' | 'huge' | 'cut';

const pack = randomBytes(3 * PACK_FRAME_BYTES + 12345);
const packId = createHash('sha256').update(pack).digest('hex');
let behaviour: Behaviour = 'honest';
let owner: Libp2p;
let friend: Libp2p;

beforeAll(async () => {
  owner = (await startWireNode()).node;
  friend = (await startWireNode()).node;
  await friend.handle(PROTOCOLS.packGet, (stream) =>
    serve(stream, async (f) => {
      await f.readJson();
      if (behaviour === 'huge') {
        await f.writeJson({ ok: true, sizeBytes: 2 ** 40 });
        return;
      }
      await f.writeJson({ ok: true, sizeBytes: pack.length });
      const served = Buffer.from(pack);
      if (behaviour === 'flip') served[served.length - 7] = (served[served.length - 7] as number) ^ 0x10;
      const half = 2 * PACK_FRAME_BYTES;
      await f.sendWindowed(behaviour === 'cut' ? half : pack.length, PACK_FRAME_BYTES, async (off, target) => {
        target.set(served.subarray(off, off + target.length));
      });
      if (behaviour === 'cut') stream.abort(new Error('friend went away'));
    }),
  );
  await owner.dial(friend.getMultiaddrs());
});

afterAll(async () => {
  await owner?.stop();
  await friend?.stop();
});

async function freshStore(): Promise<LocalPackStore> {
  const store = new LocalPackStore(await mkdtemp(join(tmpdir(), 'cairn-pack-get-')));
  await store.open();
  return store;
}

/** Every file under the store's directory (temp files included). */
async function filesIn(store: LocalPackStore): Promise<string[]> {
  const out: string[] = [];
  for (const sub of await readdir(store.dir)) for (const name of await readdir(join(store.dir, sub)).catch(() => [])) out.push(name);
  return out;
}

const ctx = (): MeshContext => ({ node: owner }) as unknown as MeshContext;

describe('fetchPack from a friend into the local store', () => {
  it('an honest friend: the pack lands byte for byte, and a damaged local copy is replaced (also for a reader that had it open)', async () => {
    behaviour = 'honest';
    const store = await freshStore();
    await mkdir(dirname(store.path(packId)), { recursive: true });
    await writeFile(store.path(packId), Buffer.alloc(pack.length, 0xee));
    const before = Buffer.alloc(16);
    await store.readInto(packId, 0, before); // opens (and caches) a handle on the damaged copy
    expect(before.every((b) => b === 0xee)).toBe(true);
    await fetchPack(ctx(), friend.peerId, packId, store);
    expect(Buffer.compare(await readFile(store.path(packId)), pack)).toBe(0);
    const after = Buffer.alloc(pack.length);
    await store.readInto(packId, 0, after);
    expect(Buffer.compare(after, pack)).toBe(0);
    expect(await filesIn(store)).toEqual([packId]);
  });

  it('a flipped bit: PackHashMismatchError, and nothing is kept', async () => {
    behaviour = 'flip';
    const store = await freshStore();
    await expect(fetchPack(ctx(), friend.peerId, packId, store)).rejects.toBeInstanceOf(PackHashMismatchError);
    expect(await store.stat(packId)).toBeUndefined();
    expect(await filesIn(store)).toEqual([]);
  });

  it('an absurd announced size is refused before anything is written', async () => {
    behaviour = 'huge';
    const store = await freshStore();
    const err = await fetchPack(ctx(), friend.peerId, packId, store).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MalformedMessageError);
    expect((err as Error).message).toMatch(/announced 1099511627776 bytes for a pack \(at most \d+\)/);
    expect(await filesIn(store)).toEqual([]);
  });

  it('a friend that stops halfway: an error, and no partial file is left', async () => {
    behaviour = 'cut';
    const store = await freshStore();
    await expect(fetchPack(ctx(), friend.peerId, packId, store)).rejects.toThrow();
    expect(await store.stat(packId)).toBeUndefined();
    expect(await filesIn(store)).toEqual([]);
  });
});
