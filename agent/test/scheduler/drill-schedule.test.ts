// Restore drills on the scheduler (fake clock, real LevelDB): the default `drills:` schedule of a
// loaded cairn.yaml (weekly) arms a "(drill)" slot that runs the drill runner once a week; `cairn
// drill` (drillNow) starts one now for a source and refuses a second while it runs (drills never
// overlap); "off" arms nothing.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { JobStore } from '../../src/scheduler/job-store.js';
import { Scheduler, type Runners } from '../../src/scheduler/scheduler.js';
import { openStateDb } from '../../src/state/db.js';
import { FakeTimers } from '../../src/util/timers.js';

const DAY = 86_400_000;

async function configWith(yaml: string) {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-drill-sched-'));
  await writeFile(join(dir, 'cairn.yaml'), yaml);
  return { dir, config: await loadConfig(join(dir, 'cairn.yaml'), { optional: false }) };
}

describe('restore drills on the schedule', () => {
  test('weekly by default, one at a time, and "off" arms nothing', async () => {
    const { dir, config } = await configWith('replicas: 2\n');
    expect(config.drills.schedule).toBe('30 4 * * 0');
    const { db, sub } = await openStateDb(join(dir, 'state'));
    const timers = new FakeTimers(new Date('2026-03-02T00:00:30').getTime()); // a Monday
    const drills: Array<string | null> = [];
    let release: () => void = () => undefined;
    const runners: Runners = {
      backup: async () => ({}),
      forget: async () => undefined,
      prune: async () => undefined,
      drill: async (_job, source) => {
        drills.push(source);
        await new Promise<void>((r) => (release = r));
      },
    };
    const s = new Scheduler(new JobStore(sub.jobs), timers, runners, () => undefined);
    timers.waitFor(() => s.idle());
    await s.start(config);
    expect(s.nextRun('(drill)')).toBe(new Date('2026-03-08T04:30:00').getTime());
    for (let d = 0; d < 14; d++) {
      await timers.advance(DAY);
      release();
    }
    for (let i = 0; i < 100 && s.isRunning('(drill)'); i++) await timers.advance(1000); // the second one's ending is recorded
    expect(drills).toEqual([null, null]); // two Sundays, every source each time
    const { job, finished } = await s.drillNow('pg');
    expect(job.kind).toBe('drill');
    expect(job.source).toBe('pg');
    await expect(s.drillNow(null)).rejects.toThrow(/already running/);
    release();
    await finished;
    expect(drills).toEqual([null, null, 'pg']);
    const off = await configWith('drills:\n  schedule: "off"\n');
    expect(off.config.drills.schedule).toBeUndefined();
    s.update(off.config);
    expect(s.nextRun('(drill)')).toBeNull();
    await s.stop();
    await db.close();
  });
});
