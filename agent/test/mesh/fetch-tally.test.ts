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

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-tally-'));
  const local = new LocalPackStore(dir);
  await local.open();
  reader = new MeshPackReader(local, {
    holdersOf: async (id) => [{ peerId: holderOf(id), name: holderOf(id) }],
    fetch: async (_peer, id, into) => {
      fetches++;
      await sleep(50); // long enough for the other restore to join the fetch in flight
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
  await Promise.all([
    first.run(async () => {
      await reader.prefetch([p0, p1, p2], 2);
      await reader.get(p0); // read again after its prefetch: local now, not counted twice
    }),
    second.run(async () => {
      await Promise.all([reader.get(p2), reader.get(p3)]); // p2 joins first's fetch in flight
    }),
  ]);
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
