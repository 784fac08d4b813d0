// `cairn tag` (issue 21 item 4, restic's tag): --add, --remove, --set on the snapshots named or on
// every one the filters match. A changed snapshot is a new snapshot blob with a new ID that replaces
// the old record (its pin moves with it); the running agent sends the new snapshot list to friends
// by itself, so a recovery from a friend brings back the retagged snapshots, pinned as before.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { CheckResult, ReplicateResult, TagResult } from '../../../protocol/api.js';
import type { SnapshotListing } from '../../../protocol/snapshot.js';
import { pairAgents, startAgent, type TestAgent } from '../helpers/agents.js';
import { cairn, cairnJson, initHome, tempDir } from '../helpers/cli.js';

let work: string;
let src: string;

beforeAll(async () => {
  work = await tempDir('cairn-tag-');
  src = join(work, 'src');
  await mkdir(src);
  await writeFile(join(src, 'a.txt'), 'alpha\n'.repeat(500));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const tagsOf = async (home: string) =>
  Object.fromEntries((await cairnJson<SnapshotListing[]>(['snapshots'], { home })).map((s) => [s.id, { tags: s.tags, pinned: s.pinned }]));

describe('cairn tag', () => {
  test('in process: --add/--remove/--set by ID, by "latest" with a filter, by filter alone; pins move; the new snapshots read back', async () => {
    const home = await initHome();
    try {
      const a = (await cairnJson<{ id: string }>(['backup', src, '--tag', 'nightly'], { home })).id;
      await writeFile(join(src, 'b.txt'), 'bravo\n');
      const b = (await cairnJson<{ id: string }>(['backup', src, '--tag', 'nightly', '--tag', 'db'], { home })).id;
      const c = (await cairnJson<{ id: string }>(['backup', src], { home })).id;
      await cairnJson(['pin', b], { home });

      // no ID: every snapshot the filter matches (restic's --tag)
      const r1 = await cairnJson<TagResult>(['tag', '--tag', 'nightly', '--add', 'weekly'], { home });
      expect(r1.changed.map((x) => x.from).sort()).toEqual([a, b].sort());
      expect(r1.unchanged).toBe(0);
      const a1 = r1.changed.find((x) => x.from === a)!.id;
      const b1 = r1.changed.find((x) => x.from === b)!.id;
      expect([a1, b1]).not.toContain(a);
      expect([a1, b1]).not.toContain(b);
      let now = await tagsOf(home);
      expect(Object.keys(now).sort()).toEqual([a1, b1, c].sort());
      expect(now[a1]).toEqual({ tags: ['nightly', 'weekly'], pinned: false });
      expect(now[b1]).toEqual({ tags: ['db', 'nightly', 'weekly'], pinned: true }); // the pin moved with it
      expect(now[c]).toEqual({ tags: [], pinned: false });

      // "latest" narrowed by the filter; comma-separated tags
      const r2 = await cairnJson<TagResult>(['tag', 'latest', '--tag', 'db', '--remove', 'nightly,weekly'], { home });
      expect(r2.changed.map((x) => [x.from, x.tags])).toEqual([[b1, ['db']]]);
      const b2 = r2.changed[0]!.id;
      // by ID prefix; --set "" clears, as restic's
      const r3 = await cairnJson<TagResult>(['tag', a1.slice(0, 8), '--set', ''], { home });
      expect(r3.changed.map((x) => x.tags)).toEqual([[]]);
      const a2 = r3.changed[0]!.id;
      // nothing to change: the same snapshot, no new ID
      const r4 = await cairnJson<TagResult>(['tag', c, '--remove', 'never-there'], { home });
      expect(r4).toEqual({ changed: [], unchanged: 1 });
      now = await tagsOf(home);
      expect(now).toEqual({ [a2]: { tags: [], pinned: false }, [b2]: { tags: ['db'], pinned: true }, [c]: { tags: [], pinned: false } });
      // restic's `original`: the ID the backup gave, through every rewrite
      const originals = Object.fromEntries((await cairnJson<SnapshotListing[]>(['snapshots'], { home })).map((s) => [s.id, s.original]));
      expect(originals).toEqual({ [a2]: a, [b2]: b, [c]: undefined });

      // words, and the mistakes refused in one line with exit 2
      const words = await cairn(['tag', b2, '--add', 'x'], { home });
      expect(words.code, words.stderr).toBe(0);
      expect(words.stdout).toMatch(new RegExp(`^snapshot ${b2.slice(0, 8)} is now [0-9a-f]{8}: tags db,x\\n1 snapshot changed`));
      for (const bad of [
        ['tag', 'latest'],
        ['tag', 'latest', '--set', 'a', '--add', 'b'],
        ['tag', 'latest', '--add', 'a,,b'],
      ]) {
        const r = await cairn(bad, { home });
        expect(r.code, bad.join(' ')).toBe(2);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
      }
      const help = await cairn(['tag', '--help'], { home });
      expect(help.stdout).toContain('cairn tag latest --add keep,release');

      // the retagged snapshots are whole: their files read back and check finds nothing wrong
      const restored = join(work, 'restored');
      await cairnJson(['restore', 'latest', '--tag', 'db', '--target', restored], { home });
      expect(await readFile(join(restored, src, 'b.txt'), 'utf8')).toBe('bravo\n');
      const check = await cairnJson<CheckResult>(['check'], { home });
      expect(check.problems).toEqual([]);
    } finally {
      await rm(dirname(home), { recursive: true, force: true });
    }
  }, 180_000);

  test('through the running agent: the friend gets the new snapshot list, and a recovery brings back the retagged snapshots and their pin', async () => {
    const agents: TestAgent[] = [];
    try {
      const alice = await startAgent('tag-alice');
      const bob = await startAgent('tag-bob');
      agents.push(alice, bob);
      await pairAgents(alice, bob);
      const x = (await alice.cli<{ id: string }>(['backup', src, '--tag', 'nightly'])).id;
      const y = (await alice.cli<{ id: string }>(['backup', src])).id;
      await alice.cliOk(['pin', x]);
      const before = await alice.cli<ReplicateResult>(['replicate', '--wait']);
      // let the rounds the backups scheduled finish first, so only tag's own hook can publish the next head
      const settled = `snapshot list seq ${before.headSeq} offered to friends`;
      for (let i = 0; i < 600 && !alice.log().includes(settled); i++) await sleep(100);
      expect(alice.log()).toContain(settled);
      await sleep(2500);

      const r = await alice.cli<TagResult>(['tag', x, '--add', 'keep']);
      const x1 = r.changed[0]!.id;
      expect(r.changed).toEqual([{ from: x, id: x1, shortId: x1.slice(0, 8), tags: ['keep', 'nightly'] }]);
      // no explicit replicate: the agent publishes the new head by itself after tag
      const wanted = `snapshot list seq ${before.headSeq + 1} offered to friends`;
      for (let i = 0; i < 600 && !alice.log().includes(wanted); i++) await sleep(100);
      expect(alice.log()).toContain(wanted);
      await alice.cli<ReplicateResult>(['replicate', '--wait']); // the pack holding the new snapshot blob

      const phrase = alice.recoveryPhrase;
      await alice.stop();
      await rm(alice.home, { recursive: true, force: true });
      const { code } = await bob.cli<{ code: string }>(['invite']);
      const home = join(await tempDir('cairn-tag-recovered-'), 'home');
      const rec = await cairnJson<{ snapshots: number; warnings: string[] }>(['recover', '--invite', code], { home, env: { CAIRN_RECOVERY_PHRASE: phrase } });
      expect(rec.warnings).toEqual([]);
      expect(await tagsOf(home)).toEqual({ [x1]: { tags: ['keep', 'nightly'], pinned: true }, [y]: { tags: [], pinned: false } });
      await rm(dirname(home), { recursive: true, force: true });
    } finally {
      for (const a of agents) await a.stop();
    }
  }, 300_000);
});
