// forget in a running agent with a friend: the agent sends the shorter snapshot list (a new signed
// head) to its friend on its own, so a disaster recovery from that friend brings back only the kept
// snapshots, never a forgotten one, and they restore; pins travel in that list, so the recovered
// host keeps what was pinned.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { ForgetResult, ReplicateResult } from '../../../protocol/api.js';
import type { SnapshotListing } from '../../../protocol/snapshot.js';
import { pairAgents, startAgent, type TestAgent } from '../helpers/agents.js';
import { cairnJson, tempDir } from '../helpers/cli.js';

describe('forget with a friend', () => {
  let alice: TestAgent;
  let bob: TestAgent;
  let src: string;
  const agents: TestAgent[] = [];

  beforeAll(async () => {
    src = join(await tempDir('cairn-forget-mesh-'), 'src');
    await mkdir(src);
    alice = await startAgent('alice');
    bob = await startAgent('bob');
    agents.push(alice, bob);
  }, 120_000);

  afterAll(async () => {
    for (const a of agents) await a.stop();
  });

  test('the friend gets the new snapshot list, and recovery from it does not resurrect forgotten snapshots', async () => {
    await pairAgents(alice, bob);
    const made: string[] = [];
    for (let i = 0; i < 4; i++) {
      await writeFile(join(src, 'f'), `content ${i}\n`.repeat(1000));
      made.push((await alice.cli<{ id: string }>(['backup', src, ...(i === 1 ? ['--tag', 'keep-me'] : [])])).id);
    }
    const before = await alice.cli<ReplicateResult>(['replicate', '--wait']);
    expect(before.underReplicated).toBe(0);
    // let the rounds the backups scheduled (1 s after each) finish first, so that only forget's own
    // hook can publish the next head (without this wait the test could pass without the hook)
    const settled = `snapshot list seq ${before.headSeq} offered to friends`;
    for (let i = 0; i < 600 && !alice.log().includes(settled); i++) await sleep(100);
    expect(alice.log()).toContain(settled);
    await sleep(2500);

    // through the agent's API (it holds the home): removes two, keeps the tagged one and the latest
    const r = await alice.cli<ForgetResult>(['forget', '--keep-last', '1', '--keep-tag', 'keep-me']);
    expect(r.dryRun).toBe(false);
    expect(r.removedIds.sort()).toEqual([made[0], made[2]].sort());
    expect((await alice.cli<SnapshotListing[]>(['snapshots'])).map((s) => s.id)).toEqual([made[1], made[3]]);

    // no explicit replicate: the agent publishes the new head by itself after forget
    const wanted = `snapshot list seq ${before.headSeq + 1} offered to friends`;
    for (let i = 0; i < 600 && !alice.log().includes(wanted); i++) await sleep(100);
    expect(alice.log()).toContain(wanted);
    // a pin is part of the signed list too: the next round publishes it
    await alice.cliOk(['pin', made[1]!]);
    const pinned = await alice.cli<ReplicateResult>(['replicate', '--wait']);
    expect(pinned.headSeq).toBeGreaterThan(before.headSeq + 1);

    const phrase = alice.recoveryPhrase;
    await alice.stop();
    await rm(alice.home, { recursive: true, force: true });
    const { code } = await bob.cli<{ code: string }>(['invite']);
    const home = join(await tempDir('cairn-alice-recovered-'), 'home');
    const rec = await cairnJson<{ snapshots: number; warnings: string[] }>(['recover', '--invite', code], { home, env: { CAIRN_RECOVERY_PHRASE: phrase } });
    expect(rec.warnings).toEqual([]);
    expect(rec.snapshots).toBe(2);
    const listed = await cairnJson<SnapshotListing[]>(['snapshots'], { home });
    expect(listed.map((s) => [s.id, s.pinned])).toEqual([
      [made[1], true],
      [made[3], false],
    ]);
    // so the recovered host's next forget keeps it, as the lost host would have
    const again = await cairnJson<ForgetResult>(['forget', '--keep-last', '1'], { home });
    expect(again.removedIds).toEqual([]);
    const target = await tempDir('cairn-forget-mesh-restore-');
    await cairnJson(['restore', made[1]!, '--target', target], { home });
    expect(await readFile(join(target, src, 'f'), 'utf8')).toBe('content 1\n'.repeat(1000));
  }, 300_000);
});
