// A restore's pack fetch when OUR disk is full: two honest friends hold the pack, and the local
// store lives on a 1 MiB tmpfs that cannot take the 2 MiB pack. The fetch fails with one line
// naming the local write (a full disk), and no friend is blamed: none is reported (a report adds a
// problem to the friend and forgets its recorded copy), the second holder is not tried for nothing,
// and no temp file stays. Real libp2p nodes on loopback, a real filesystem. Needs root (mount);
// under CI a missing mount fails the test instead of skipping it.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Libp2p } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACK_FRAME_BYTES, PROTOCOLS } from '../../../protocol/mesh.js';
import type { MeshContext } from '../../src/mesh/context.js';
import { serve } from '../../src/mesh/framing.js';
import { MeshPackReader } from '../../src/mesh/mesh-reader.js';
import { fetchPack } from '../../src/mesh/pack-get.js';
import { LocalPackStore } from '../../src/store/local-pack-store.js';
import { DiskFullError } from '../../src/util/write-errors.js';
import { tempDir } from '../helpers/cli.js';
import { mountTmpfs, unmount } from '../helpers/disk-fill.js';
import { startWireNode } from '../helpers/mesh-wire.js';

const pack = randomBytes(2 * PACK_FRAME_BYTES + 4321);
const packId = createHash('sha256').update(pack).digest('hex');

const mountPoint = await tempDir('cairn-reader-disk-');
const mountProblem = mountTmpfs(mountPoint, 1);
const runHere = mountProblem === null || process.env.CI !== undefined;

let owner: Libp2p;
const holders: Libp2p[] = [];
const served: string[] = [];

describe.runIf(runHere)('a restore fetching a pack onto a full local disk', () => {
  beforeAll(async () => {
    if (mountProblem !== null) throw new Error(`${mountProblem} (this test needs root to mount a small tmpfs)`);
    owner = (await startWireNode()).node;
    for (const name of ['first', 'second']) {
      const node = (await startWireNode()).node;
      await node.handle(PROTOCOLS.packGet, (stream) =>
        serve(stream, async (f) => {
          served.push(name);
          await f.readJson();
          await f.writeJson({ ok: true, sizeBytes: pack.length });
          await f.sendWindowed(pack.length, PACK_FRAME_BYTES, async (off, target) => target.set(pack.subarray(off, off + target.length)));
        }),
      );
      await owner.dial(node.getMultiaddrs());
      holders.push(node);
    }
  });

  afterAll(async () => {
    await Promise.all([owner?.stop(), ...holders.map((h) => h.stop())]);
    if (mountProblem === null) unmount(mountPoint);
    await rm(mountPoint, { recursive: true, force: true });
  });

  it('fails with the local disk named, reports no friend, tries no second holder, leaves no temp file', async () => {
    const ctx = { node: owner, limits: { frameTimeoutMs: 5000, graceMs: 5000, minBytesPerSec: 1024 * 1024 } } as unknown as MeshContext;
    const dir = join(mountPoint, 'packs');
    await mkdir(dir);
    const local = new LocalPackStore(dir);
    await local.open();
    const reports: string[] = [];
    const reader = new MeshPackReader(local, {
      holdersOf: async () => holders.map((h, i) => ({ peerId: h.peerId.toString(), name: i === 0 ? 'first' : 'second' })),
      fetch: (peerId, id, into) => fetchPack(ctx, peerIdFromString(peerId), id, into),
      report: async (peerId, problem) => {
        reports.push(`${peerId}: ${problem}`);
      },
    });
    const err = await reader.get(packId).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DiskFullError);
    expect((err as Error).message).toMatch(new RegExp(`^disk full while writing pack ${packId} to ${dir}: no space left on device \\(ENOSPC\\)$`));
    expect(reports).toEqual([]);
    expect(served).toEqual(['first']);
    const files: string[] = [];
    for (const sub of await readdir(dir)) for (const name of await readdir(join(dir, sub)).catch(() => [])) files.push(name);
    expect(files).toEqual([]);
  }, 60_000);
});
