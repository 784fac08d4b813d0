// A friend's side of pack-put against an owner that drips the pack (a byte per frame, every 100 ms)
// or goes silent after the request: a real agent's mesh (createMesh on a real repository, real
// LevelDB and pack directory) with small injected deadlines, the owner an in-process libp2p node
// writing raw frames. The friend resets the stream, deletes the temp file and frees the
// reservation: a grant exactly one pack large takes an honest pack right after.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Libp2p } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOLS } from '../../../protocol/mesh.js';
import { createMesh, type Mesh } from '../../src/mesh/compose.js';
import type { Stores } from '../../src/compose-root.js';
import type { Repository } from '../../src/repo/repository.js';
import { initStores } from '../helpers/stores.js';
import { systemClock } from '../../src/util/clock.js';
import { RawWire, startWireNode } from '../helpers/mesh-wire.js';

const SIZE = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let work: string;
let repo: Repository;
let stores: Stores | undefined;
let friend: Mesh;
let owner: Libp2p;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'cairn-put-deadline-'));
  stores = await initStores(join(work, 'home'), 'pw', new Date());
  repo = stores.repo;
  // a transfer of SIZE bytes gets 1 s + SIZE at 1 MiB/s = 2 s; 1.5 s without a frame is a stall
  friend = await createMesh(stores, {
    listen: ['/ip4/127.0.0.1/tcp/0'],
    name: 'friend',
    replicas: 1,
    diskFloorBytes: 0,
    clock: systemClock,
    limits: { frameTimeoutMs: 1500, graceMs: 1000, minBytesPerSec: 1024 * 1024 },
  });
  owner = (await startWireNode()).node;
  const now = new Date().toISOString();
  // the owner may store exactly one pack of SIZE bytes here
  await friend.ledgers.friends.put({
    peerId: owner.peerId.toString(),
    name: 'owner',
    addrs: [],
    grantToPeer: SIZE,
    grantFromPeer: 0,
    createdAt: now,
    lastSeen: now,
    shortfall: null,
    problems: [],
  });
  await friend.presence.remember();
}, 60_000);

afterAll(async () => {
  await owner?.stop();
  await friend?.stop();
  await stores?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

async function putStream(): Promise<RawWire> {
  const addr = multiaddr(`${friend.addresses()[0] as string}/p2p/${friend.peerId}`);
  return new RawWire(await owner.dialProtocol(addr, PROTOCOLS.packPut, { signal: AbortSignal.timeout(15_000) }));
}

/** Every file the friend keeps for the owner (packs and temp files). */
async function hostedFiles(): Promise<string[]> {
  const dir = join(repo.paths.home, 'hosted', owner.peerId.toString());
  const out: string[] = [];
  for (const sub of await readdir(dir).catch(() => [])) for (const name of await readdir(join(dir, sub)).catch(() => [])) out.push(name);
  return out;
}

/** Sends a frame of one byte every 100 ms (or nothing, when silent) until the friend resets the stream; gives up after 30 s. */
async function dripUntilReset(w: RawWire, silent: boolean): Promise<boolean> {
  for (let i = 0; i < 300; i++) {
    try {
      if (!silent) await w.frame(Buffer.of(0x41));
    } catch {
      return true;
    }
    if (w.stream.status !== 'open') return true;
    await sleep(100);
  }
  return false;
}

describe('pack-put from an owner that stalls', () => {
  it.each([
    ['drips a byte per frame', false],
    ['goes silent after the request', true],
  ])(
    'an owner that %s: the stream is reset, the temp file is gone, the reservation is free again',
    async (_what, silent) => {
      const pack = randomBytes(SIZE);
      const packId = createHash('sha256').update(pack).digest('hex');
      const w = await putStream();
      await w.json({ packId, sizeBytes: SIZE });
      expect(await w.readJson()).toEqual({ ok: true, have: false });
      expect(await dripUntilReset(w, silent)).toBe(true);
      expect(await hostedFiles()).toEqual([]);
      // the grant holds exactly one such pack: a reservation left behind would refuse this one
      const honest = await putStream();
      await honest.json({ packId, sizeBytes: SIZE });
      expect(await honest.readJson()).toEqual({ ok: true, have: false });
      await honest.sendPack(pack);
      expect(await honest.readJson()).toEqual({ ok: true, storedBytes: SIZE });
      expect(await hostedFiles()).toEqual([packId]);
      await friend.ctx.hosted.remove(owner.peerId.toString(), packId);
    },
    60_000,
  );
});
