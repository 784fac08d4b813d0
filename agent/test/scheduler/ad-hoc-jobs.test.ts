// Operations asked for through the API run as jobs (Scheduler.adHoc) in the scheduler's own store,
// events and log; any running job can be cancelled: its signal fires, the work stops at its safe
// point, and the job ends "cancelled" (not "failed"), with no retry. Real LevelDB.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { JOB_RESULT_MAX_LIST_ITEMS } from '../../../protocol/api.js';
import type { SourceConfig } from '../../../protocol/config.js';
import { JobStore } from '../../src/scheduler/job-store.js';
import { Scheduler, type JobEvent, type JobHandle, type Runners } from '../../src/scheduler/scheduler.js';
import { openStateDb } from '../../src/state/db.js';
import { CancelledError, throwIfCancelled } from '../../src/util/errors.js';
import { FakeTimers } from '../../src/util/timers.js';

/** Work that waits until the job's signal fires, then stops at its safe point. */
const untilCancelled = (job: JobHandle) =>
  new Promise<never>((_resolve, reject) => {
    job.signal.addEventListener('abort', () => {
      try {
        throwIfCancelled(job.signal);
      } catch (err) {
        reject(err as Error);
      }
    });
  });

async function setup() {
  const dir = join(await mkdtemp(join(tmpdir(), 'cairn-adhoc-')), 'state');
  const { db, sub } = await openStateDb(dir);
  const store = new JobStore(sub.jobs);
  const timers = new FakeTimers(Date.parse('2026-01-01T00:00:00Z'));
  const lines: string[] = [];
  const runners: Runners = {
    backup: async (_s, job) => untilCancelled(job),
    forget: async () => undefined,
    prune: async () => undefined,
  };
  const scheduler = new Scheduler(store, timers, runners, (l) => lines.push(l));
  const events: JobEvent[] = [];
  scheduler.events.on('job', (e: JobEvent) => events.push({ type: e.type, job: structuredClone(e.job) }));
  return { scheduler, store, events, close: () => db.close() };
}

describe('ad-hoc jobs', () => {
  test('an operation run through adHoc is a job: recorded, then succeeded with its result, announced on the events', async () => {
    const t = await setup();
    try {
      const { job, done } = await t.scheduler.adHoc('restore', null, 'snapshot 1a2b3c4d to /tmp/r', async (h) => {
        h.progress({ files: 3, bytes: 300, totalBytes: 600 });
        h.log('restoring');
        return { files: 3 };
      });
      expect(job).toMatchObject({ kind: 'restore', trigger: 'ad-hoc', label: 'snapshot 1a2b3c4d to /tmp/r' });
      expect(await done).toEqual({ files: 3 });
      const stored = await t.store.get(job.id);
      expect(stored).toMatchObject({ state: 'succeeded', result: { files: 3 }, progress: { files: 3, bytes: 300, totalBytes: 600 } });
      expect(stored?.log.some((l) => l.endsWith('restoring'))).toBe(true);
      expect(t.events.filter((e) => e.job.id === job.id).map((e) => e.type)).toEqual(['created', 'progress', 'log', 'finished']);
    } finally {
      await t.close();
    }
  });

  test('cancel fires the job signal; the job ends "cancelled", its caller gets the CancelledError, a second cancel is a no-op', async () => {
    const t = await setup();
    try {
      const { job, done } = await t.scheduler.adHoc('backup', null, '/srv/data', untilCancelled);
      const outcome = done.then(
        () => 'resolved',
        (err: unknown) => err,
      );
      expect(t.scheduler.cancel(job.id, 'by the test')).toBe(true);
      const err = await outcome;
      expect(err).toBeInstanceOf(CancelledError);
      expect((err as CancelledError).code).toBe('E_CANCELLED');
      const stored = await t.store.get(job.id);
      expect(stored).toMatchObject({ state: 'cancelled', error: 'cancelled by the test' });
      expect(stored?.log.some((l) => l.endsWith('cancel asked by the test'))).toBe(true);
      expect(t.scheduler.cancel(job.id, 'again')).toBe(false);
    } finally {
      await t.close();
    }
  });

  test('a scheduled source run is cancelled the same way (its runner sees the signal), and a cancelled run is not retried', async () => {
    const t = await setup();
    try {
      const src: SourceConfig = { name: 'data', volumes: [], volumeSelectors: [], paths: ['/srv/x'], exclude: [], retention: {}, tags: [] };
      await t.scheduler.start({ sources: [src], maintenance: {} } as never);
      const job = await t.scheduler.runNow('data');
      t.scheduler.cancel(job.id, 'from the console');
      await t.scheduler.stop();
      expect(await t.store.get(job.id)).toMatchObject({ state: 'cancelled', error: 'cancelled from the console' });
    } finally {
      await t.close();
    }
  });

  test('a failure that is not a cancel stays "failed"', async () => {
    const t = await setup();
    try {
      const { job, done } = await t.scheduler.adHoc('check', null, 'check', async () => {
        throw new Error('pack 12ab is damaged');
      });
      await expect(done).rejects.toThrow('pack 12ab is damaged');
      expect(await t.store.get(job.id)).toMatchObject({ state: 'failed', error: 'pack 12ab is damaged' });
    } finally {
      await t.close();
    }
  });
});

describe('a job keeps a bounded result', () => {
  test('lists longer than JOB_RESULT_MAX_LIST_ITEMS are cut and named; the caller still gets the whole result', async () => {
    const t = await setup();
    try {
      const errors = Array.from({ length: JOB_RESULT_MAX_LIST_ITEMS + 50 }, (_, i) => `/r/f${i}: damaged`);
      const { job, done } = await t.scheduler.adHoc('restore', null, 'snapshot x to /r', async () => ({ files: 1, errors }));
      expect(((await done) as { errors: string[] }).errors).toHaveLength(errors.length);
      const stored = (await t.store.get(job.id))?.result as { files: number; errors: string[]; truncated: string[] };
      expect(stored.files).toBe(1);
      expect(stored.errors).toEqual(errors.slice(0, JOB_RESULT_MAX_LIST_ITEMS));
      expect(stored.truncated).toEqual(['errors']);
    } finally {
      await t.close();
    }
  });
});
