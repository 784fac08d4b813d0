// Time is injected so logic can be tested with a fake clock; this is the one place that reads it.

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => new Date().getTime() };
