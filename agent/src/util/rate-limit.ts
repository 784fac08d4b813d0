// A token bucket for bandwidth limits: take(n) waits until n bytes may pass. One second of burst.
import type { Clock } from './clock.js';

export type Sleep = (ms: number) => Promise<void>;

export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class TokenBucket {
  private readonly rate: number;
  private readonly clock: Clock;
  private readonly sleep: Sleep;
  private tokens: number;
  private last: number;

  /** `bytesPerSecond` > 0. */
  constructor(bytesPerSecond: number, clock: Clock, sleep: Sleep = realSleep) {
    this.rate = bytesPerSecond;
    this.clock = clock;
    this.sleep = sleep;
    this.tokens = bytesPerSecond;
    this.last = clock.now();
  }

  async take(n: number): Promise<void> {
    for (;;) {
      const now = this.clock.now();
      this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) / 1000) * this.rate);
      this.last = now;
      // a request larger than the bucket passes once the bucket is full, leaving it in debt
      if (this.tokens >= Math.min(n, this.rate)) {
        this.tokens -= n;
        return;
      }
      await this.sleep(Math.ceil(((Math.min(n, this.rate) - this.tokens) / this.rate) * 1000));
    }
  }
}

/**
 * Events allowed now or refused, never waited for: at most `burst` at once, one more earned every
 * `intervalMs`. For requests from others (a refused one costs them a retry, not us a held stream).
 */
export class EventAllowance {
  private readonly burst: number;
  private readonly intervalMs: number;
  private readonly clock: Clock;
  private tokens: number;
  private last: number;

  constructor(burst: number, intervalMs: number, clock: Clock) {
    this.burst = burst;
    this.intervalMs = intervalMs;
    this.clock = clock;
    this.tokens = burst;
    this.last = clock.now();
  }

  /** True (and one event spent) when an event may happen now. */
  tryTake(): boolean {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + Math.max(0, now - this.last) / this.intervalMs);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Whether it is back to a full burst (nothing to remember about its user). */
  full(): boolean {
    return Math.min(this.burst, this.tokens + Math.max(0, this.clock.now() - this.last) / this.intervalMs) >= this.burst;
  }
}
