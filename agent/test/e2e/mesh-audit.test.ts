// A friend that no longer holds packs it took (real agents, separate processes, libp2p on
// loopback): bob puts back an older copy of his home, from before alice's second backup reached
// him. His LevelDB and his files then agree that he never had the newer packs, so nothing is
// damaged and nothing fails until a restore needs them. Alice's next replication round asks him
// what he holds (pack-list), stops counting the missing copies, says so, and copies them again.
import type { PeerListing, ReplicateResult } from '../../../protocol/api.js';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestAgent } from '../helpers/agents.js';
import { tempDir } from '../helpers/cli.js';
import { hostedPacks } from '../helpers/mesh-hosted.js';
import { Rng, writeSampleTree, type SampleEntry } from '../helpers/sample-tree.js';
import { Trio } from '../helpers/trio.js';

const MiB = 1024 * 1024;

function stepEntries(step: number): SampleEntry[] {
  const rng = new Rng(2000 + step);
  const entries: SampleEntry[] = [{ kind: 'random', path: `step-${step}/big.bin`, size: MiB }];
  for (let i = 0; i < 8; i++) entries.push({ kind: 'random', path: `step-${step}/f${i}.dat`, size: rng.range(1, 16 * 1024) });
  return entries;
}

describe('a friend that put back an older copy of its disk', () => {
  let trio: Trio;
  let work: string;
  const ids = async (friend: TestAgent) => (await hostedPacks(friend.home, trio.alice.info.peerId)).map((p) => p.id);

  beforeAll(async () => {
    work = await tempDir('cairn-audit-');
    trio = await Trio.start();
  }, 180_000);

  afterAll(async () => {
    await trio?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('is asked what it holds at the next round: the missing copies stop counting, are reported, and are made again', async () => {
    const { alice, carol } = trio;
    const src = join(work, 'src');
    await writeSampleTree(src, { seed: 1, entries: stepEntries(0) });
    await alice.cli(['backup', src]);
    expect((await alice.cli<ReplicateResult>(['replicate', '--wait'])).underReplicated).toBe(0);
    const putBackBobsOldHome = await trio.keepBobsHome(join(work, 'bob-old-home'));
    const before = await ids(trio.bob);

    await writeSampleTree(src, { seed: 2, entries: stepEntries(1) });
    await alice.cli(['backup', src]);
    const second = await alice.cli<ReplicateResult>(['replicate', '--wait']);
    expect(second.underReplicated).toBe(0);
    expect(second.problems).toEqual([]);
    const all = await ids(carol);
    expect(await ids(trio.bob)).toEqual(all);
    const missing = all.filter((id) => !before.includes(id));
    expect(missing.length).toBeGreaterThan(0);

    // bob's disk goes back to the copy from before the second backup
    await putBackBobsOldHome();
    expect(await ids(trio.bob)).toEqual(before);
    let online = false;
    for (let i = 0; i < 150 && !online; i++) {
      online = (await alice.cli<PeerListing[]>(['peers'])).some((p) => p.name === 'bob' && p.online);
      if (!online) await new Promise((r) => setTimeout(r, 200));
    }
    expect(online, 'alice did not reconnect to bob').toBe(true);

    const r = await alice.cli<ReplicateResult>(['replicate', '--wait']);
    const said = r.problems.filter((p) => p.startsWith('bob no longer holds'));
    expect(said, r.problems.join('; ')).toHaveLength(1);
    expect(said[0]).toMatch(new RegExp(`^bob no longer holds ${missing.length} of the ${all.length} packs it had taken \\(e\\.g\\. [0-9a-f]{12}\\)`));
    expect(r.pushed).toBe(missing.length);
    expect(r.underReplicated).toBe(0);
    expect(await ids(trio.bob)).toEqual(all);
    const peer = (await alice.cli<PeerListing[]>(['peers'])).find((p) => p.name === 'bob');
    expect(peer?.problems.some((p) => p.startsWith(`no longer holds ${missing.length} of the`))).toBe(true);

    // and the next round finds nothing more to say about bob
    const again = await alice.cli<ReplicateResult>(['replicate', '--wait']);
    expect(again.problems).toEqual([]);
    expect(again.pushed).toBe(0);
  }, 300_000);
});
