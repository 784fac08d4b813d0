// A restore's pack fetch when the first holder drips the pack (a byte per frame, every 50 ms, for
// ever) or goes silent after announcing it, and the second holder is honest: MeshPackReader with
// fetchPack over real libp2p nodes on loopback, small injected deadlines. The fetch fails at the
// first holder within its deadline, the holder is reported, and the pack comes from the second.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Libp2p } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACK_FRAME_BYTES, PROTOCOLS } from '../../../protocol/mesh.js';
import type { MeshContext } from '../../src/mesh/context.js';
import { serve } from '../../src/mesh/framing.js';
import { FetchTally, MeshPackReader } from '../../src/mesh/mesh-reader.js';
import { fetchPack } from '../../src/mesh/pack-get.js';
import { LocalPackStore } from '../../src/store/local-pack-store.js';
import { startWireNode } from '../helpers/mesh-wire.js';

const pack = randomBytes(2 * PACK_FRAME_BYTES + 4321);
const packId = createHash('sha256').update(pack).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let slowBehaviour: 'drip' | 'silent' = 'drip';
let owner: Libp2p;
let slow: Libp2p;
let honest: Libp2p;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'cairn-reader-deadline-'));
  owner = (await startWireNode()).node;
  slow = (await startWireNode()).node;
  honest = (await startWireNode()).node;
  await slow.handle(PROTOCOLS.packGet, (stream) =>
    serve(stream, async (f) => {
      await f.readJson();
      await f.writeJson({ ok: true, sizeBytes: pack.length });
      // until the owner resets the stream: a byte per frame, or nothing at all
      for (let off = 0; stream.status === 'open'; off++) {
        if (slowBehaviour === 'drip') await f.writeBytes(pack.subarray(off, off + 1));
        await sleep(50);
      }
    }),
  );
  await honest.handle(PROTOCOLS.packGet, (stream) =>
    serve(stream, async (f) => {
      await f.readJson();
      await f.writeJson({ ok: true, sizeBytes: pack.length });
      await f.sendWindowed(pack.length, PACK_FRAME_BYTES, async (off, target) => target.set(pack.subarray(off, off + target.length)));
    }),
  );
  await owner.dial(slow.getMultiaddrs());
  await owner.dial(honest.getMultiaddrs());
});

afterAll(async () => {
  await Promise.all([owner?.stop(), slow?.stop(), honest?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('a restore reading a pack held by a stalling friend and an honest one', () => {
  it.each([
    ['drips a byte per frame', 'drip'],
    ['goes silent after announcing the pack', 'silent'],
  ] as const)(
    'the first holder %s: it is reported, and the pack comes from the second',
    async (_what, behaviour) => {
      slowBehaviour = behaviour;
      // the pack (2 MiB) may take 1.5 s + its size at 2 MiB/s; 1 s without a frame is a stall
      const ctx = { node: owner, limits: { frameTimeoutMs: 1000, graceMs: 1500, minBytesPerSec: 2 * 1024 * 1024 } } as unknown as MeshContext;
      const local = new LocalPackStore(await mkdtemp(join(work, 'store-')));
      await local.open();
      const reports: Array<{ peerId: string; problem: string }> = [];
      const reader = new MeshPackReader(local, {
        holdersOf: async () => [
          { peerId: slow.peerId.toString(), name: 'slow' },
          { peerId: honest.peerId.toString(), name: 'honest' },
        ],
        fetch: (peerId, id, into) => fetchPack(ctx, peerIdFromString(peerId), id, into),
        report: async (peerId, problem) => {
          reports.push({ peerId, problem });
        },
      });
      const tally = new FetchTally();
      const got = await tally.run(() => reader.get(packId));
      expect(Buffer.compare(got, pack)).toBe(0);
      expect(tally.fetched).toEqual(new Map([['honest', 1]]));
      expect(reports).toHaveLength(1);
      expect(reports[0]?.peerId).toBe(slow.peerId.toString());
      expect(reports[0]?.problem).toMatch(
        behaviour === 'drip'
          ? new RegExp(`^could not serve pack ${packId}: fetching ${pack.length} bytes of pack ${packId} did not finish within \\d+(\\.\\d+)? s$`)
          : new RegExp(`^could not serve pack ${packId}: waiting for pack bytes from the peer: nothing happened for 1 s$`),
      );
      // the abandoned transfer left no temp file
      const files: string[] = [];
      for (const sub of await readdir(local.dir)) for (const name of await readdir(join(local.dir, sub)).catch(() => [])) files.push(name);
      expect(files).toEqual([packId]);
    },
    60_000,
  );
});
