// Two restores at once keep their own counts of packs fetched from friends (issue 17 item 3): the
// reader credits a fetch to the tally of the work that asked for it or joined it in flight, by its
// async context, never to a shared counter one restore resets under the other. A real local pack
// store; the friends are a stand-in fetcher that writes the pack after a delay.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { sha256Hex } from '../../src/crypto/ids.js';
import { FetchTally, MeshPackReader } from '../../src/mesh/mesh-reader.js';
import { LocalPackStore } from '../../src/store/local-pack-store.js';

const packs = new Map<string, Buffer>();
for (let i = 0; i < 6; i++) {
  const bytes = Buffer.from(`pack number ${i} `.repeat(100));
  packs.set(sha256Hex(bytes), bytes);
}
const ids = [...packs.keys()];
/** Which friend serves which pack (by index): a serves the even ones, b the odd. */
const holderOf = (id: string) => (ids.indexOf(id) % 2 === 0 ? 'a' : 'b');
let dir: string;
let fetches = 0;
let reader: MeshPackReader;
/** The shared pack's fetch waits for this, so the second restore surely joins it in flight. */
let releaseShared: () => void = () => undefined;
const sharedGate = new Promise<void>((resolve) => (releaseShared = resolve));
/** Packs a read found missing locally (the moment a restore goes to friends for it). */
const missed = new Set<string>();

class WatchedStore extends LocalPackStore {
  override async get(id: string): Promise<Buffer> {
    try {
      return await super.get(id);
    } catch (err) {
      missed.add(id);
      throw err;
    }
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-tally-'));
  const local = new WatchedStore(dir);
  await local.open();
  reader = new MeshPackReader(local, {
    holdersOf: async (id) => [{ peerId: holderOf(id), name: holderOf(id) }],
    fetch: async (_peer, id, into) => {
      fetches++;
      if (id === ids[2]) await sharedGate;
      else await sleep(20);
      await into.put(id, [packs.get(id) as Buffer]);
    },
    report: async () => undefined,
  });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('two restores at once: each counts the packs it needed, a shared pack in both, fetched once', async () => {
  const first = new FetchTally();
  const second = new FetchTally();
  const [p0, p1, p2, p3] = ids as [string, string, string, string];
  const both = Promise.all([
    first.run(async () => {
      await reader.prefetch([p2, p0, p1], 2); // p2 first: its fetch is in flight (held at the gate)
      await reader.get(p0); // read again after its prefetch: local now, not counted twice
    }),
    second.run(async () => {
      await Promise.all([reader.get(p2), reader.get(p3)]); // p2 joins first's fetch in flight
    }),
  ]);
  for (let i = 0; i < 500 && !missed.has(p2); i++) await sleep(10);
  await sleep(10); // second's read, having missed p2 locally, joins the fetch in flight
  releaseShared();
  await both;
  expect(first.fetched).toEqual(
    new Map([
      ['a', 2],
      ['b', 1],
    ]),
  );
  expect(second.fetched).toEqual(
    new Map([
      ['a', 1],
      ['b', 1],
    ]),
  );
  expect(fetches).toBe(4);
  // a later restore of the same packs finds them local: nothing fetched, nothing counted
  const third = new FetchTally();
  await third.run(() => reader.prefetch([p0, p1, p2, p3], 2));
  expect(third.fetched.size).toBe(0);
});
