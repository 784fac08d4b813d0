// The scheduler on a fake clock with a real LevelDB: a week of hourly slots runs 168 jobs, none
// overlapping, failures retried with backoff before the next slot; a slot that comes while the
// previous run still works is recorded as skipped; jobs survive a restart (running -> failed).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { Job } from '../../../protocol/api.js';
import type { SourceConfig } from '../../../protocol/config.js';
import { nextFire, parseCron } from '../../src/scheduler/cron.js';
import { JobStore, MAX_JOBS_PER_SOURCE } from '../../src/scheduler/job-store.js';
import { Scheduler, type Runners } from '../../src/scheduler/scheduler.js';
import { openStateDb } from '../../src/state/db.js';
import { FakeTimers } from '../../src/util/timers.js';

const HOUR = 3_600_000;
const MIN = 60_000;

function source(name: string, schedule: string): SourceConfig {
  return { name, volumes: [], volumeSelectors: [], paths: ['/srv/x'], exclude: [], schedule, retention: {}, tags: [] };
}

/** Runners whose backups take `durationMs` of fake time; run n (1-based, per source) fails when `fails(n)`. */
function fakeRunners(timers: FakeTimers, durationMs: number, fails: (n: number) => boolean): { runners: Runners; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const runners: Runners = {
    backup: async (src, job) => {
      const n = (calls.get(src.name) ?? 0) + 1;
      calls.set(src.name, n);
      job.progress({ files: 1, bytes: 100 });
      await new Promise<void>((r) => timers.at(timers.now() + durationMs, r));
      if (fails(n)) throw new Error(`simulated failure of run ${n}`);
      return { snapshot: `snap-${src.name}-${n}` };
    },
    forget: async () => undefined,
    prune: async () => undefined,
  };
  return { runners, calls };
}

async function store(perSource?: number): Promise<{ jobs: JobStore; close: () => Promise<void>; dir: string }> {
  const dir = join(await mkdtemp(join(tmpdir(), 'cairn-sched-')), 'state');
  const { db, sub } = await openStateDb(dir);
  return { jobs: new JobStore(sub.jobs, perSource), close: () => db.close(), dir };
}

const ms = (iso: string | null) => new Date(iso ?? 0).getTime();

/**
 * Stops the scheduler, moving fake time on until its running jobs have ended: on a busy machine a
 * job's first LevelDB write can outlast FakeTimers.advance's settling, so its fake-time wait is
 * registered only after the advance returned. The fake runners do not look at the cancel a stop
 * sends (stop-cancels.test.ts covers it): the grace outlasts their longest run.
 */
async function stopDriving(s: Scheduler, timers: FakeTimers): Promise<void> {
  let done = false;
  const stopped = s.stop(500 * MIN).then(() => {
    done = true;
  });
  for (let i = 0; i < 1000 && !done; i++) await timers.advance(MIN);
  await stopped;
}

function assertNoOverlap(jobs: Job[]): void {
  const ran = jobs.filter((j) => j.state !== 'skipped').sort((a, b) => ms(a.startedAt) - ms(b.startedAt));
  for (let i = 1; i < ran.length; i++) {
    const prev = ran[i - 1] as Job;
    const cur = ran[i] as Job;
    expect(ms(cur.startedAt), `${cur.id} starts before ${prev.id} ended`).toBeGreaterThanOrEqual(ms(prev.finishedAt));
  }
}

describe('cron', () => {
  test('next firing times', () => {
    const at = (s: string) => new Date(s).getTime();
    const hourly = parseCron('0 * * * *');
    expect(nextFire(hourly, at('2026-01-01T10:00:00'))).toBe(at('2026-01-01T11:00:00'));
    expect(nextFire(hourly, at('2026-01-01T10:59:59'))).toBe(at('2026-01-01T11:00:00'));
    expect(nextFire(parseCron('30 3 * * 0'), at('2026-01-01T00:00:00'))).toBe(at('2026-01-04T03:30:00')); // Sunday
    expect(nextFire(parseCron('*/15 * * * * *'), at('2026-01-01T00:00:07'))).toBe(at('2026-01-01T00:00:15'));
    expect(nextFire(parseCron('0 0 29 2 *'), at('2026-03-01T00:00:00'))).toBe(at('2028-02-29T00:00:00'));
    // day of month OR day of week when both are restricted (Vixie cron)
    expect(nextFire(parseCron('0 12 13 * 5'), at('2026-02-01T00:00:00'))).toBe(at('2026-02-06T12:00:00'));
  });
});

describe('scheduler on a fake clock', () => {
  test('a week of hourly slots: 168 jobs, none overlapping, failures retried before the next slot', async () => {
    // a week of runs and retries is more than the 200 kept per source: this test keeps them all
    const { jobs, close } = await store(1000);
    const timers = new FakeTimers(new Date('2026-03-02T00:00:30').getTime());
    const { runners } = fakeRunners(timers, 10 * MIN, (n) => n % 5 === 0);
    const s = new Scheduler(jobs, timers, runners, () => undefined);
    timers.waitFor(() => s.idle());
    await s.start({ sources: [source('db', '0 * * * *')], maintenance: {} });
    for (let h = 0; h < 168; h++) await timers.advance(HOUR);
    await timers.advance(30 * MIN);
    await stopDriving(s, timers);
    const all = await jobs.list({ source: 'db', limit: 1000 });
    const firsts = all.filter((j) => j.trigger === 'schedule');
    expect(firsts).toHaveLength(168);
    expect(all.every((j) => j.state !== 'running')).toBe(true);
    assertNoOverlap(all);
    // every slot started on the hour
    for (const j of firsts) expect(new Date(ms(j.startedAt)).getMinutes()).toBe(0);
    // runs 5, 10, ... failed; each failure got a retry that started 1 minute after it ended and succeeded
    const failed = all.filter((j) => j.state === 'failed');
    const retries = all.filter((j) => j.trigger === 'retry');
    expect(failed.length).toBeGreaterThan(20);
    expect(retries).toHaveLength(failed.length);
    for (const f of failed) {
      const r = retries.find((x) => ms(x.startedAt) === ms(f.finishedAt) + MIN);
      expect(r, `retry of ${f.id}`).toBeDefined();
      expect(r?.attempt).toBe(f.attempt + 1);
    }
    await close();
  });

  test('a slot during a run is skipped with the reason; retries never reach into the next slot', async () => {
    const { jobs, close } = await store();
    const timers = new FakeTimers(new Date('2026-03-02T00:00:30').getTime());
    // 70-minute runs on an hourly schedule; every run fails, so retries (1, 2, 4... min) compete with slots
    const { runners } = fakeRunners(timers, 70 * MIN, () => true);
    const s = new Scheduler(jobs, timers, runners, () => undefined);
    timers.waitFor(() => s.idle());
    await s.start({ sources: [source('slow', '0 * * * *')], maintenance: {} });
    for (let h = 0; h < 9; h++) await timers.advance(HOUR);
    // stop waits for the running job, which ends on the fake clock
    await stopDriving(s, timers);
    const all = await jobs.list({ limit: 100 });
    assertNoOverlap(all);
    const skipped = all.filter((j) => j.state === 'skipped');
    expect(skipped.length).toBeGreaterThan(0);
    expect(skipped[0]?.error).toMatch(/previous run was still running/);
    await close();
  });

  test('manual runs refuse to overlap; jobs survive a restart, a running one becomes failed', async () => {
    const { jobs, close, dir } = await store();
    const timers = new FakeTimers(new Date('2026-03-02T00:00:30').getTime());
    const { runners } = fakeRunners(timers, 10 * MIN, () => false);
    const s = new Scheduler(jobs, timers, runners, () => undefined);
    timers.waitFor(() => s.idle());
    await s.start({ sources: [source('docs', '0 3 * * *')], maintenance: {} });
    const job = await s.runNow('docs');
    expect(job.trigger).toBe('manual');
    await expect(s.runNow('docs')).rejects.toMatchObject({ code: 'E_BUSY' });
    await expect(s.runNow('nope')).rejects.toMatchObject({ code: 'E_NO_SOURCE', exitCode: 2 });
    expect(s.liveJob(job.id)?.progress.files).toBe(1);
    await close(); // the "agent" dies with the job running
    const { db, sub } = await openStateDb(dir);
    const again = new JobStore(sub.jobs);
    const s2 = new Scheduler(again, timers, runners, () => undefined);
    timers.waitFor(() => s2.idle());
    await s2.start({ sources: [], maintenance: {} });
    const back = await again.get(job.id);
    expect(back?.state).toBe('failed');
    expect(back?.error).toMatch(/agent stopped/);
    await stopDriving(s2, timers);
    await db.close();
  });

  test('backoff: retries after 1, 2, 4, 8 minutes, at most 5 attempts', async () => {
    const { jobs, close } = await store();
    const timers = new FakeTimers(new Date('2026-03-02T00:00:30').getTime());
    const { runners } = fakeRunners(timers, 0, () => true);
    const s = new Scheduler(jobs, timers, runners, () => undefined);
    timers.waitFor(() => s.idle());
    await s.start({ sources: [source('nightly', '0 3 * * *')], maintenance: {} });
    await timers.advance(4 * HOUR);
    await stopDriving(s, timers);
    const all = (await jobs.list({ limit: 100 })).reverse();
    expect(all.map((j) => [j.trigger, j.attempt, j.state])).toEqual([
      ['schedule', 1, 'failed'],
      ['retry', 2, 'failed'],
      ['retry', 3, 'failed'],
      ['retry', 4, 'failed'],
      ['retry', 5, 'failed'],
    ]);
    const starts = all.map((j) => ms(j.startedAt));
    expect(starts[0]).toBe(new Date('2026-03-02T03:00:00').getTime());
    expect(starts.slice(1).map((t, i) => (t - (starts[i] as number)) / MIN)).toEqual([1, 2, 4, 8]);
    await close();
  });

  test('no retry that would start at or after the next slot; the slot runs as attempt 1', async () => {
    const { jobs, close } = await store();
    const timers = new FakeTimers(new Date('2026-03-02T00:00:30').getTime());
    const { runners } = fakeRunners(timers, 0, (n) => n <= 3);
    const lines: string[] = [];
    const s = new Scheduler(jobs, timers, runners, (l) => lines.push(l));
    timers.waitFor(() => s.idle());
    await s.start({ sources: [source('often', '*/5 * * * *')], maintenance: {} });
    await timers.advance(10 * MIN);
    await stopDriving(s, timers);
    const all = (await jobs.list({ limit: 100 })).reverse();
    // 00:05 fails, 00:06 retry fails, 00:08 retry fails; the next wait (4 min) reaches 00:12 >= 00:10: no retry
    expect(all.map((j) => [new Date(ms(j.startedAt)).toTimeString().slice(0, 8), j.trigger, j.attempt, j.state])).toEqual([
      ['00:05:00', 'schedule', 1, 'failed'],
      ['00:06:00', 'retry', 2, 'failed'],
      ['00:08:00', 'retry', 3, 'failed'],
      ['00:10:00', 'schedule', 1, 'succeeded'],
    ]);
    expect(lines.join('\n')).toMatch(/often failed; no retry before its next slot/);
    await close();
  });

  test('a changed schedule applies at once without dropping the running job; its slots during the run are skipped', async () => {
    const { jobs, close } = await store();
    const timers = new FakeTimers(new Date('2026-03-02T00:00:30').getTime());
    const { runners } = fakeRunners(timers, 40 * MIN, () => false);
    const s = new Scheduler(jobs, timers, runners, () => undefined);
    timers.waitFor(() => s.idle());
    await s.start({ sources: [source('docs', '0 3 * * *')], maintenance: {} });
    const manual = await s.runNow('docs');
    s.update({ sources: [source('docs', '*/10 * * * *')], maintenance: {} });
    expect(s.nextRun('docs')).toBe(new Date('2026-03-02T00:10:00').getTime());
    await timers.advance(60 * MIN);
    const all = (await jobs.list({ limit: 100 })).reverse();
    const done = await jobs.get(manual.id);
    expect(done).toMatchObject({ state: 'succeeded', snapshot: 'snap-docs-1', finishedAt: new Date('2026-03-02T00:40:30').toISOString() });
    // 00:10, 00:20, 00:30, 00:40 came while the manual run worked (it ends 00:40:30); 00:50 runs
    // (until 01:30), so 01:00 is skipped too
    expect(all.filter((j) => j.state === 'skipped').map((j) => new Date(ms(j.createdAt)).toTimeString().slice(0, 5))).toEqual([
      '00:10',
      '00:20',
      '00:30',
      '00:40',
      '01:00',
    ]);
    const slotRuns = all.filter((j) => j.trigger === 'schedule' && j.state !== 'skipped');
    expect(slotRuns.map((j) => new Date(ms(j.startedAt)).toTimeString().slice(0, 5))).toEqual(['00:50']);
    // the source removed from the config while it runs: the run still finishes, no more slots
    s.update({ sources: [], maintenance: {} });
    expect(s.nextRun('docs')).toBeNull();
    await timers.advance(60 * MIN);
    expect(await jobs.get(slotRuns[0]?.id ?? '')).toMatchObject({
      state: 'succeeded',
      snapshot: 'snap-docs-2',
      finishedAt: new Date('2026-03-02T01:30:00').toISOString(),
    });
    expect((await jobs.list({ limit: 100 })).filter((j) => ms(j.createdAt) > new Date('2026-03-02T01:00:30').getTime())).toEqual([]);
    await stopDriving(s, timers);
    await close();
  });

  test('the history keeps the newest 200 jobs of each source, bounded while the agent runs', async () => {
    const { jobs, close, dir } = await store();
    const timers = new FakeTimers(new Date('2026-03-02T00:00:30').getTime());
    const { runners } = fakeRunners(timers, 0, () => false);
    const s = new Scheduler(jobs, timers, runners, () => undefined);
    timers.waitFor(() => s.idle());
    await s.start({ sources: [source('busy', '* * * * *'), source('quiet', '0 * * * *')], maintenance: {} });
    for (let m = 0; m < 240; m++) await timers.advance(MIN);
    await stopDriving(s, timers);
    const busy = await jobs.list({ source: 'busy', limit: 1000 });
    expect(busy.length).toBeLessThanOrEqual(MAX_JOBS_PER_SOURCE + 25);
    expect(busy.length).toBeGreaterThan(MAX_JOBS_PER_SOURCE - 1);
    // a restart trims to exactly the cap, keeping the newest; the quiet source keeps all of its 4
    await close();
    const { db, sub } = await openStateDb(dir);
    const again = new JobStore(sub.jobs);
    const s2 = new Scheduler(again, timers, runners, () => undefined);
    timers.waitFor(() => s2.idle());
    await s2.start({ sources: [], maintenance: {} });
    const kept = await again.list({ source: 'busy', limit: 1000 });
    expect(kept).toHaveLength(MAX_JOBS_PER_SOURCE);
    expect(kept[0]?.snapshot).toBe('snap-busy-240');
    expect(kept.at(-1)?.snapshot).toBe(`snap-busy-${240 - MAX_JOBS_PER_SOURCE + 1}`);
    expect((await again.list({ source: 'quiet', limit: 1000 })).map((j) => j.snapshot)).toEqual([
      'snap-quiet-4',
      'snap-quiet-3',
      'snap-quiet-2',
      'snap-quiet-1',
    ]);
    await db.close();
  });
});
