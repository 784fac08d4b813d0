// Timers on an injected clock: the scheduler asks to be woken at a time; the system timers use
// setTimeout, the fake ones (tests) fire when the test advances time, in time order.
import { systemClock, type Clock } from './clock.js';

export interface Timers extends Clock {
  /** Calls `fn` at (or soon after) `atMs`; returns a cancel function. */
  at(atMs: number, fn: () => void): () => void;
}

/** setTimeout is limited to 2^31-1 ms; longer waits are chained. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export const systemTimers: Timers = {
  now: () => systemClock.now(),
  at(atMs, fn) {
    let handle: NodeJS.Timeout | undefined;
    const arm = () => {
      const wait = atMs - systemClock.now();
      if (wait <= 0) {
        handle = setTimeout(fn, 0);
        return;
      }
      handle = setTimeout(wait > MAX_TIMEOUT_MS ? arm : fn, Math.min(wait, MAX_TIMEOUT_MS));
      handle.unref();
    };
    arm();
    return () => clearTimeout(handle);
  },
};

/** Time that moves only when told to; due timers fire in order, each followed by the work it started. */
export class FakeTimers implements Timers {
  private t: number;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();
  private readonly waits: Array<() => Promise<void>> = [];

  constructor(startMs: number) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  at(atMs: number, fn: () => void): () => void {
    const id = this.seq++;
    this.pending.set(id, { at: atMs, fn });
    return () => this.pending.delete(id);
  }

  /** Before time moves on, also wait for `fn` (e.g. Scheduler.idle: work started by a timer has reached its next timer). */
  waitFor(fn: () => Promise<void>): void {
    this.waits.push(fn);
  }

  private async quiesce(): Promise<void> {
    await settle();
    for (const w of this.waits) await w();
  }

  /** Moves time forward by `ms`, firing every timer that comes due on the way (and letting promises settle). */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await this.quiesce();
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.pending) if (e[1].at <= end && (!next || e[1].at < next[1].at || (e[1].at === next[1].at && e[0] < next[0]))) next = e;
      if (!next) break;
      this.pending.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
    await this.quiesce();
  }
}

/** Lets queued promise callbacks and quick real I/O (a LevelDB write) finish before time moves on. */
async function settle(): Promise<void> {
  for (let round = 0; round < 3; round++) {
    await new Promise<void>((r) => setTimeout(r, 2));
    for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
  }
}
