// `cairn forget`, `pin` and `unpin` through the real binary on a real home: the dry-run JSON, a
// real forget and what `snapshots --json` shows after it, pins protecting snapshots, the data still
// sound for `check --read-data`, and exit codes for bad flags.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { ForgetResult, PinResult } from '../../../protocol/api.js';
import type { SnapshotListing } from '../../../protocol/snapshot.js';
import { cairn, cairnJson, cairnOk, initHome, tempDir } from '../helpers/cli.js';

let work: string;
let home: string;
let a: string;
let b: string;
/** Snapshot IDs in the order they were made. */
const madeA: string[] = [];
const madeB: string[] = [];

beforeAll(async () => {
  work = await tempDir('cairn-forget-');
  a = join(work, 'a');
  b = join(work, 'b');
  await mkdir(a);
  await mkdir(b);
  home = await initHome();
  for (let i = 0; i < 4; i++) {
    await writeFile(join(a, 'f'), `version ${i}\n`.repeat(100 + i));
    madeA.push((await cairnJson<{ id: string }>(['backup', a, ...(i === 0 ? ['--tag', 'release'] : [])], { home })).id);
  }
  for (let i = 0; i < 2; i++) {
    await writeFile(join(b, 'g'), `other ${i}\n`);
    madeB.push((await cairnJson<{ id: string }>(['backup', b], { home })).id);
  }
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
  if (home) await rm(dirname(home), { recursive: true, force: true });
});

const listIds = async () => (await cairnJson<SnapshotListing[]>(['snapshots'], { home })).map((s) => s.id).sort();

describe('cairn forget', () => {
  test('--dry-run --json reports every snapshot, grouped by path set, with reasons, and removes nothing', async () => {
    const r = await cairnJson<ForgetResult>(['forget', '--keep-last', '2', '--keep-tag', 'release', '--dry-run', '--time-zone', 'Europe/Berlin'], { home });
    expect(r.dryRun).toBe(true);
    expect(r.timeZone).toBe('Europe/Berlin');
    expect(r.groups.map((g) => g.paths)).toEqual([[a], [b]]);
    const ga = r.groups[0]!;
    expect(ga.policy).toBe('keep last 2, tags release');
    // newest first
    expect(ga.snapshots.map((s) => s.id)).toEqual([...madeA].reverse());
    expect(ga.snapshots.map((s) => [s.keep, s.reasons])).toEqual([
      [true, ['last 1 of 2', 'latest']],
      [true, ['last 2 of 2']],
      [false, []],
      [true, ['tag release']],
    ]);
    expect(r.groups[1]!.snapshots.map((s) => s.reasons)).toEqual([['last 1 of 2', 'latest'], ['last 2 of 2']]);
    expect(r.removedIds).toEqual([madeA[1]]);
    expect(r.removed).toBe(1);
    expect(r.kept).toBe(5);
    expect(await listIds()).toEqual([...madeA, ...madeB].sort());
  });

  test('the human output names each group, decision and reason, and says prune gives the space back', async () => {
    const r = await cairnOk(['forget', '--keep-last', '1', '--dry-run', '--time-zone', 'UTC'], { home });
    expect(r.stdout).toContain(`paths ${a}: keep last 1`);
    expect(r.stdout).toMatch(new RegExp(`${madeA[3]!.slice(0, 8)} .* keep +last 1 of 1, latest`));
    expect(r.stdout).toMatch(new RegExp(`${madeA[0]!.slice(0, 8)} .* would remove`));
    expect(r.stdout).toContain('dry run: would remove 4 snapshots, keep 2 snapshots; nothing was changed');
    expect(await listIds()).toHaveLength(6);
  });

  test('a pinned snapshot is kept ("pinned"), a real forget removes the rest, snapshots --json agrees, check --read-data passes', async () => {
    const pin = await cairnJson<PinResult>(['pin', madeA[1]!.slice(0, 10)], { home });
    expect(pin).toMatchObject({ id: madeA[1], pinned: true, unchanged: false });
    const again = await cairnJson<PinResult>(['pin', madeA[1]!], { home });
    expect(again).toMatchObject({ unchanged: true, pinnedAt: pin.pinnedAt });
    const listed = await cairnJson<SnapshotListing[]>(['snapshots'], { home });
    expect(listed.filter((s) => s.pinned).map((s) => s.id)).toEqual([madeA[1]]);
    const table = (await cairnOk(['snapshots'], { home })).stdout;
    expect(table).toContain(`${madeA[1]!.slice(0, 8)}* `);
    expect(table).toContain('6 snapshots (* = pinned: 1)');

    const human = await cairnOk(['forget', '--keep-last', '1'], { home });
    expect(human.stdout).toContain('removed 3 snapshots, kept 3 snapshots');
    expect(human.stdout).toContain('cairn prune');
    expect(await listIds()).toEqual([madeA[1], madeA[3], madeB[1]].sort());
    const after = await cairnJson<SnapshotListing[]>(['snapshots'], { home });
    expect(after.find((s) => s.id === madeA[1])?.pinned).toBe(true);

    // the pin's reason shows, and forgetting again removes nothing
    const r = await cairnJson<ForgetResult>(['forget', '--keep-last', '1'], { home });
    expect(r.removed).toBe(0);
    expect(r.groups[0]!.snapshots.map((s) => s.reasons)).toEqual([['last 1 of 1', 'latest'], ['pinned']]);

    const check = await cairnJson<{ ok: boolean; snapshots: number }>(['check', '--read-data'], { home });
    expect(check).toMatchObject({ ok: true, snapshots: 3 });
    // kept snapshots still restore
    const target = await tempDir('cairn-forget-restore-');
    await cairnOk(['restore', madeA[1]!, '--target', target], { home });

    // unpinned, it goes
    const un = await cairnJson<PinResult>(['unpin', madeA[1]!], { home });
    expect(un).toMatchObject({ pinned: false, unchanged: false });
    expect((await cairnJson<PinResult>(['unpin', madeA[1]!], { home })).unchanged).toBe(true);
    const last = await cairnJson<ForgetResult>(['forget', '--keep-last', '1'], { home });
    expect(last.removedIds).toEqual([madeA[1]]);
    expect(await listIds()).toEqual([madeA[3], madeB[1]].sort());
  });

  test('the latest snapshot of each group survives a policy that keeps nothing else', async () => {
    const r = await cairnJson<ForgetResult>(['forget', '--keep-tag', 'no-such-tag'], { home });
    expect(r.removed).toBe(0);
    expect(r.groups.map((g) => g.snapshots.map((s) => s.reasons))).toEqual([[['latest']], [['latest']]]);
  });

  test.each([
    [['forget'], 2, /forget needs a policy/],
    [['forget', '--keep-last', 'x'], 2, /--keep-last: "x" is not a number/],
    [['forget', '--keep-daily', '-2'], 2, /--keep-daily: "-2" is not a number/],
    [['forget', '--keep-within', '3m'], 2, /keep-within: "3m"/],
    [['forget', '--keep-within', 'soon'], 2, /keep-within: "soon" is not a duration/],
    [['forget', '--keep-last', '1', '--time-zone', 'Mars/Olympus'], 2, /"Mars\/Olympus" is not a time zone/],
    [['forget', '--keep-last'], 2, /argument missing/],
    [['pin'], 2, /missing required argument/],
    [['pin', 'xyz'], 2, /"xyz" is not a snapshot ID/],
    [['pin', 'deadbeefdeadbeef'], 1, /no snapshot deadbeefdeadbeef/],
    [['unpin', 'deadbeefdeadbeef'], 1, /no snapshot deadbeefdeadbeef/],
  ])('cairn %j exits %i with one plain line', async (args, code, message) => {
    const r = await cairn(args, { home });
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(await listIds()).toEqual([madeA[3], madeB[1]].sort());
  });

  test('"unlimited" and -1 mean every such snapshot, like restic', async () => {
    for (const v of ['unlimited', '-1']) {
      const r = await cairnJson<ForgetResult>(['forget', '--keep-daily', v, '--dry-run'], { home });
      expect(r.groups[0]!.policy).toBe('keep all daily');
      expect(r.groups[0]!.snapshots[0]!.reasons).toEqual(['daily (unlimited)', 'latest']);
    }
  });
});
