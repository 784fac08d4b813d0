// One place runs a backup (issue 17 item 3): runBackup takes the repository's write lock, and records
// the outcome as the agent's activity (a failure to plan it too, a dry run never) before telling the
// daemon (afterBackup). The CLI, the API's routes and the scheduler all go through it. A real
// repository and real files.
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Activity } from '../../src/ops/activity.js';
import { runBackup } from '../../src/ops/run-backup.js';
import type { Services } from '../../src/ops/services.js';
import type { Stores } from '../../src/compose-root.js';
import type { Repository } from '../../src/repo/repository.js';
import { initStores } from '../helpers/stores.js';
import { systemClock } from '../../src/util/clock.js';
import { UsageError } from '../../src/util/errors.js';

describe('runBackup: the one place a backup runs', () => {
  let work = '';
  let repo: Repository;
  let stores: Stores | undefined;
  let svc: Services;
  let src = '';
  let told = 0;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cairn-run-backup-'));
    const home = join(work, 'home');
    stores = await initStores(home, 'pw', new Date('2026-01-01T00:00:00Z'));
    repo = stores.repo;
    svc = { home, repo, ledgers: stores.ledgers, clock: systemClock, activity: new Activity(systemClock), afterBackup: () => (told += 1) };
    src = join(work, 'src');
    mkdirSync(src);
    for (let i = 0; i < 3; i++) writeFileSync(join(src, `f${i}`), `file ${i}`);
  });
  afterAll(async () => {
    await stores?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('a backup waits for the write lock another holder has', async () => {
    let started = false;
    let running: Promise<unknown> | undefined;
    await repo.writeLock.with(1, async () => {
      running = runBackup(svc, { kind: 'paths', args: { paths: [src], tags: [] }, onStart: () => (started = true) });
      // what a backup does first (listing the snapshots, walking) takes far less than this
      await sleep(300);
      expect(started).toBe(false);
    });
    await running;
    expect(started).toBe(true);
  });

  test('outcomes are recorded: a backup under its source, a failure to plan it, standard input; a dry run is not', async () => {
    const activity = svc.activity as Activity;
    told = 0;
    const r = await runBackup(svc, { kind: 'paths', args: { paths: [src], tags: [], source: 'docs' } }, { scheduled: true, jobId: 'j1' });
    expect(activity.lastRun.get('docs')).toMatchObject({ ok: true, snapshot: r.id, scheduled: true, jobId: 'j1' });
    expect(told).toBe(1);

    const empty = async (): Promise<never> => {
      throw new UsageError('source empty has nothing to back up right now', 'E_EMPTY_SOURCE');
    };
    await expect(runBackup(svc, empty, { source: 'empty' })).rejects.toThrow(/nothing to back up/);
    expect(activity.lastRun.get('empty')).toMatchObject({ ok: false, snapshot: null, error: 'source empty has nothing to back up right now' });
    expect(told).toBe(1);

    const before = activity.lastRun.size;
    const dry = await runBackup(svc, { kind: 'paths', args: { paths: [src], tags: [], dryRun: true } });
    expect(dry.dryRun).toBe(true);
    expect(activity.lastRun.size).toBe(before);
    expect(told).toBe(1);

    const stdin = await runBackup(svc, { kind: 'stdin', args: { filename: 'dump.sql', tags: [] }, input: Readable.from([Buffer.from('select 1;\n')]) });
    expect(stdin.sizeBytes).toBe(10);
    expect(activity.lastRun.get('/dump.sql')).toMatchObject({ ok: true, snapshot: stdin.id, scheduled: false });
    expect(told).toBe(2);
  });
});
