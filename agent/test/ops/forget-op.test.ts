// The forget, pin and snapshots operations on a real repository (real LevelDB, real packs) whose
// snapshots were made by real backups at chosen times (an injected clock): sources, --source,
// calendar policies in a zone, pins, the after-change hook, and removeSnapshots' refusals.
import { parseConfig } from '../../src/config/load.js';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { backupOp } from '../../src/ops/backup.js';
import { forgetOp } from '../../src/ops/forget.js';
import { pinOp, unpinOp } from '../../src/ops/pin.js';
import type { Services } from '../../src/ops/services.js';
import { snapshotsOp } from '../../src/ops/snapshots.js';
import type { Stores } from '../../src/compose-root.js';
import { initStores } from '../helpers/stores.js';
import { checkRepository } from '../../src/repo/checker.js';

let open: Stores[] = [];
afterEach(async () => {
  for (const r of open) await r.close();
  open = [];
});

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-forget-op-'));
  const src = join(dir, 'src');
  await mkdir(src);
  const stores = await initStores(join(dir, 'home'), 'pw', new Date('2024-01-01T00:00:00Z'));
  open.push(stores);
  const { repo, ledgers } = stores;
  let now = 0;
  let changes = 0;
  const svc: Services = { home: join(dir, 'home'), repo, ledgers, clock: { now: () => now }, afterBackup: () => (changes += 1) };
  const backupAt = async (iso: string, opts: { source?: string; tags?: string[] } = {}) => {
    now = Date.parse(iso);
    await writeFile(join(src, 'f'), iso);
    return (await backupOp(svc, { paths: [src], tags: opts.tags ?? [], ...(opts.source !== undefined ? { source: opts.source } : {}) })).id;
  };
  return { svc, repo, src, backupAt, setNow: (iso: string) => (now = Date.parse(iso)), changes: () => changes };
}

describe('forgetOp', () => {
  test('sources and ad-hoc backups are separate groups; --source limits forget to one', async () => {
    const { svc, backupAt, setNow } = await setup();
    const db1 = await backupAt('2024-03-01T10:00:00Z', { source: 'db' });
    const db2 = await backupAt('2024-03-02T10:00:00Z', { source: 'db' });
    const web1 = await backupAt('2024-03-01T11:00:00Z', { source: 'web' });
    const web2 = await backupAt('2024-03-03T11:00:00Z', { source: 'web' });
    const adhoc1 = await backupAt('2024-03-01T12:00:00Z');
    const adhoc2 = await backupAt('2024-03-04T12:00:00Z');
    setNow('2024-04-01T00:00:00Z');

    const dry = await forgetOp(svc, { policy: { keepLast: 1 }, dryRun: true, timeZone: 'UTC' });
    expect(dry.groups.map((g) => [g.source ?? g.paths, g.snapshots.map((s) => [s.id, s.keep])])).toEqual([
      [
        [join(svc.home, '..', 'src')],
        [
          [adhoc2, true],
          [adhoc1, false],
        ],
      ],
      [
        'db',
        [
          [db2, true],
          [db1, false],
        ],
      ],
      [
        'web',
        [
          [web2, true],
          [web1, false],
        ],
      ],
    ]);

    const onlyDb = await forgetOp(svc, { policy: { keepLast: 1 }, source: 'db', dryRun: false, timeZone: 'UTC' });
    expect(onlyDb.groups.map((g) => g.source)).toEqual(['db']);
    expect(onlyDb.removedIds).toEqual([db1]);
    expect((await snapshotsOp(svc)).map((s) => s.id).sort()).toEqual([db2, web1, web2, adhoc1, adhoc2].sort());

    const none = await forgetOp(svc, { policy: { keepLast: 1 }, source: 'nope', dryRun: false });
    expect(none.groups).toEqual([]);
    expect(none.removed).toBe(0);
  });

  test('calendar rules follow the zone given; the next backup of a source takes the kept latest as parent', async () => {
    const { svc, backupAt, setNow, changes } = await setup();
    // 22:30Z and 23:30Z on Mar 30 are different days in Berlin (23:30 CET, 00:30 CET Mar 31), the same day in UTC
    const a = await backupAt('2024-03-30T22:30:00Z');
    const b = await backupAt('2024-03-30T23:30:00Z');
    const c = await backupAt('2024-03-31T10:00:00Z');
    setNow('2024-04-01T00:00:00Z');
    const utc = await forgetOp(svc, { policy: { keepDaily: 2 }, dryRun: true, timeZone: 'UTC' });
    expect(utc.groups[0]?.snapshots.map((s) => [s.id, s.reasons])).toEqual([
      [c, ['daily 1 of 2', 'latest']],
      [b, ['daily 2 of 2']],
      [a, []],
    ]);
    expect(changes()).toBe(0); // dry run: nothing changed, nothing to publish
    const berlin = await forgetOp(svc, { policy: { keepDaily: 2 }, dryRun: false, timeZone: 'Europe/Berlin' });
    expect(berlin.timeZone).toBe('Europe/Berlin');
    expect(berlin.removedIds).toEqual([b]);
    expect(changes()).toBe(1);
    const again = await forgetOp(svc, { policy: { keepDaily: 2 }, dryRun: false, timeZone: 'Europe/Berlin' });
    expect(again.removed).toBe(0);
    expect(changes()).toBe(1); // nothing removed: no new head needed
    const report = await checkRepository(svc.repo, { readData: true });
    expect(report.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(report.snapshots).toBe(2);
  });

  test('keep-within counts from the newest snapshot not after the clock', async () => {
    const { svc, backupAt, setNow } = await setup();
    const old = await backupAt('2024-05-01T00:00:00Z');
    const mid = await backupAt('2024-05-02T12:00:00Z');
    const newest = await backupAt('2024-05-03T00:00:00Z');
    setNow('2024-05-02T13:00:00Z'); // the newest snapshot is in the future: measure from mid (cutoff Apr 30 23:00)
    const r = await forgetOp(svc, { policy: { keepWithinMs: 37 * 3_600_000 }, dryRun: true, timeZone: 'UTC' });
    expect(r.groups[0]?.snapshots.map((s) => [s.id, s.keep])).toEqual([
      [newest, true],
      [mid, true],
      [old, true],
    ]);
    setNow('2024-06-01T00:00:00Z');
    const later = await forgetOp(svc, { policy: { keepWithinMs: 37 * 3_600_000 }, dryRun: true, timeZone: 'UTC' });
    expect(later.removedIds).toEqual([old]);
  });

  test('pins protect, show in snapshots, and removeSnapshots refuses pinned or unknown IDs atomically', async () => {
    const { svc, repo, backupAt, setNow } = await setup();
    const s1 = await backupAt('2024-05-01T00:00:00Z');
    const s2 = await backupAt('2024-05-02T00:00:00Z');
    const s3 = await backupAt('2024-05-03T00:00:00Z');
    setNow('2024-05-04T00:00:00Z');
    const pinned = await pinOp(svc, { snapshot: s1.slice(0, 12) });
    expect(pinned).toEqual({ id: s1, shortId: s1.slice(0, 8), pinned: true, pinnedAt: '2024-05-04T00:00:00.000Z', unchanged: false });
    expect((await snapshotsOp(svc)).map((s) => [s.id, s.pinned])).toEqual([
      [s1, true],
      [s2, false],
      [s3, false],
    ]);
    await expect(repo.removeSnapshots([s2, s1])).rejects.toThrow(/pinned/);
    await expect(repo.removeSnapshots([s2, 'f'.repeat(64)])).rejects.toThrow(/no snapshot/);
    expect((await repo.listSnapshots()).length).toBe(3); // refused batches removed nothing
    const r = await forgetOp(svc, { policy: { keepLast: 1 }, dryRun: false, timeZone: 'UTC' });
    expect(r.removedIds).toEqual([s2]);
    expect(r.groups[0]?.snapshots.find((s) => s.id === s1)?.reasons).toEqual(['pinned']);
    await unpinOp(svc, { snapshot: 'latest' }); // s3 was not pinned
    expect((await repo.pins()).has(s1)).toBe(true);
    await unpinOp(svc, { snapshot: s1 });
    expect((await forgetOp(svc, { policy: { keepLast: 1 }, dryRun: false, timeZone: 'UTC' })).removedIds).toEqual([s1]);
  });

  test("without a policy: each source's configured retention; ad-hoc groups and unconfigured sources keep everything", async () => {
    const { svc, backupAt, setNow } = await setup();
    const db = [
      await backupAt('2024-03-01T10:00:00Z', { source: 'db' }),
      await backupAt('2024-03-02T10:00:00Z', { source: 'db' }),
      await backupAt('2024-03-03T10:00:00Z', { source: 'db' }),
    ];
    const gone = [await backupAt('2024-03-01T11:00:00Z', { source: 'gone' }), await backupAt('2024-03-02T11:00:00Z', { source: 'gone' })];
    const adhoc = [await backupAt('2024-03-01T12:00:00Z'), await backupAt('2024-03-02T12:00:00Z')];
    setNow('2024-04-01T00:00:00Z');
    const config = parseConfig(
      'sources:\n  - name: db\n    paths: [/srv/db]\n    retention:\n      keep-last: 2\n  - name: gone\n    paths: [/srv/gone]\n',
      'cairn.yaml',
    );
    svc.config = () => config;
    const r = await forgetOp(svc, { dryRun: false, timeZone: 'UTC' });
    expect(r.removedIds).toEqual([db[0]]);
    expect(r.groups.map((g) => [g.source ?? 'adhoc', g.policy])).toEqual([
      ['adhoc', 'empty policy (keeps everything)'],
      ['db', 'keep last 2'],
      ['gone', 'empty policy (keeps everything)'],
    ]);
    expect((await snapshotsOp(svc)).map((s) => s.id).sort()).toEqual([db[1], db[2], ...gone, ...adhoc].sort());
    // an explicit policy still wins over the configured one
    expect((await forgetOp(svc, { policy: { keepLast: 1 }, source: 'db', dryRun: true, timeZone: 'UTC' })).removedIds).toEqual([db[1]]);
  });

  test("cairn.yaml keep-within reads like --keep-within: restic's months are refused, never taken as minutes", () => {
    const within = (v: string) =>
      parseConfig(`sources:\n  - name: db\n    paths: [/srv/db]\n    retention:\n      keep-within: ${v}\n`, 'cairn.yaml').sources[0]?.retention.keepWithinMs;
    expect(within('30d')).toBe(30 * 86_400_000);
    expect(within('1d12h')).toBe(36 * 3_600_000);
    expect(() => within('6m')).toThrow(/cairn\.yaml:5: .*keep-within: "6m": m \(months in restic\)/);
    expect(() => within('1y')).toThrow(/keep-within/);
  });

  test('without a policy: a usage error naming the flags', async () => {
    const { svc } = await setup();
    await expect(forgetOp(svc, { dryRun: true })).rejects.toMatchObject({ exitCode: 2, code: 'E_NO_POLICY' });
    // a config whose sources set no retention is no policy either
    const config = parseConfig('sources:\n  - name: db\n    paths: [/srv/db]\n', 'cairn.yaml');
    svc.config = () => config;
    await expect(forgetOp(svc, { dryRun: true })).rejects.toMatchObject({ exitCode: 2, code: 'E_NO_POLICY' });
    await expect(forgetOp(svc, { policy: { keepLast: -5 }, dryRun: true })).rejects.toMatchObject({ exitCode: 2 });
  });
});
