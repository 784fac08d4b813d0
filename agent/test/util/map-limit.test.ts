// mapLimit: bounded concurrency, results in input order; after a failure no new call starts and the
// error is thrown only once the calls already running have ended (a cancelled restore must not
// leave writers running on directory fds its caller closes).
import { describe, expect, test } from 'vitest';
import { mapLimit } from '../../src/util/semaphore.js';

describe('mapLimit', () => {
  test('keeps order and never runs more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, n));
      running -= 1;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(most).toBe(2);
  });

  test('a failure stops new calls and is thrown after the running calls have ended', async () => {
    const ended: number[] = [];
    const started: number[] = [];
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const run = mapLimit([0, 1, 2, 3, 4], 2, async (n) => {
      started.push(n);
      if (n === 0) {
        await slow;
        ended.push(n);
        return n;
      }
      throw new Error(`item ${n} failed`);
    });
    let settled = false;
    void run.catch(() => (settled = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false); // item 0 still runs: the failure waits for it
    release();
    await expect(run).rejects.toThrow('item 1 failed');
    expect(ended).toEqual([0]);
    expect(started).toEqual([0, 1]); // nothing started after the failure
  });
});
