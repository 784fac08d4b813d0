import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/util/rate-limit.js';

function fakeTime() {
  let now = 0;
  const slept: number[] = [];
  return { clock: { now: () => now }, sleep: async (ms: number) => void (slept.push(ms), (now += ms)), slept, elapsed: () => now };
}

describe('TokenBucket', () => {
  it('lets a second of burst through, then paces to the rate', async () => {
    const t = fakeTime();
    const b = new TokenBucket(1000, t.clock, t.sleep);
    await b.take(1000);
    expect(t.elapsed()).toBe(0);
    for (let i = 0; i < 10; i++) await b.take(500);
    expect(t.elapsed()).toBeGreaterThanOrEqual(5000);
    expect(t.elapsed()).toBeLessThanOrEqual(5100);
  });

  it('passes a request larger than the bucket once it is full and charges the debt', async () => {
    const t = fakeTime();
    const b = new TokenBucket(100, t.clock, t.sleep);
    await b.take(1000);
    expect(t.elapsed()).toBe(0);
    await b.take(100);
    expect(t.elapsed()).toBeGreaterThanOrEqual(10_000);
  });
});
