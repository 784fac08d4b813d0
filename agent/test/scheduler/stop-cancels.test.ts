// Stopping the agent cancels its running jobs instead of waiting for them (issue 21): every running
// job, ad-hoc or a source's run, gets its signal, stops at its safe point and is recorded
// "cancelled because the agent is stopping"; no new job starts once the stop began (E_STOPPING);
// and a job that does not stop is waited for no longer than the grace given. Real LevelDB.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { SourceConfig } from '../../../protocol/config.js';
import { JobStore } from '../../src/scheduler/job-store.js';
import { Scheduler, type JobHandle, type Runners } from '../../src/scheduler/scheduler.js';
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

const SRC: SourceConfig = { name: 'data', volumes: [], volumeSelectors: [], paths: ['/srv/x'], exclude: [], retention: {}, tags: [] };

async function setup() {
  const dir = join(await mkdtemp(join(tmpdir(), 'cairn-stop-')), 'state');
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
  return { scheduler, store, timers, lines, close: () => db.close() };
}

describe('agent stop', () => {
  test('cancels every running job, ad-hoc and scheduled, recorded "cancelled because the agent is stopping"; then refuses new ones', async () => {
    const t = await setup();
    try {
      await t.scheduler.start({ sources: [SRC], maintenance: {} } as never);
      const run = await t.scheduler.runNow('data');
      const adHoc = await t.scheduler.adHoc('restore', null, 'snapshot x to /r', untilCancelled);
      const outcome = adHoc.done.then(
        () => 'resolved',
        (err: unknown) => err,
      );
      await t.scheduler.stop();
      expect(await outcome).toBeInstanceOf(CancelledError);
      for (const id of [run.id, adHoc.job.id]) {
        const job = await t.store.get(id);
        expect(job, id).toMatchObject({ state: 'cancelled', error: 'cancelled because the agent is stopping' });
        expect(job?.log.some((l) => l.endsWith('cancel asked because the agent is stopping'))).toBe(true);
      }
      expect(t.scheduler.liveJobs()).toEqual([]);
      await expect(t.scheduler.adHoc('backup', null, '/srv/y', async () => 'ran')).rejects.toMatchObject({ code: 'E_STOPPING' });
      await expect(t.scheduler.runNow('data')).rejects.toMatchObject({ code: 'E_STOPPING' });
    } finally {
      await t.close();
    }
  });

  test('a job that does not stop at its signal is waited for no longer than the grace: stop returns, saying which job it left', async () => {
    const t = await setup();
    let finish: () => void = () => undefined;
    try {
      const stubborn = await t.scheduler.adHoc('check', null, 'check', () => new Promise<void>((r) => (finish = r)));
      let stopped = false;
      const stopping = t.scheduler.stop(5_000).then(() => (stopped = true));
      await t.timers.advance(4_999);
      expect(stopped).toBe(false);
      await t.timers.advance(1);
      await stopping;
      expect(t.lines.some((l) => l.includes('still running') && l.includes(`check ${stubborn.job.id.slice(-6)}`))).toBe(true);
    } finally {
      finish();
      await t.close();
    }
  });
});
