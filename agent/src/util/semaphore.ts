// A weighted counting semaphore: bounds concurrent work (open files) or bytes in flight (memory).

export class Semaphore {
  private available: number;
  private readonly capacity: number;
  private readonly waiters: Array<{ n: number; resume: () => void }> = [];

  constructor(capacity: number) {
    this.capacity = capacity;
    this.available = capacity;
  }

  /** Waits for `n` units (a request above capacity waits for the whole capacity). */
  async acquire(n = 1): Promise<number> {
    const want = Math.min(n, this.capacity);
    if (this.waiters.length === 0 && this.available >= want) {
      this.available -= want;
      return want;
    }
    await new Promise<void>((resume) => this.waiters.push({ n: want, resume }));
    return want;
  }

  release(n = 1): void {
    this.available += n;
    while (this.waiters.length > 0 && this.available >= (this.waiters[0] as { n: number }).n) {
      const w = this.waiters.shift() as { n: number; resume: () => void };
      this.available -= w.n;
      w.resume();
    }
  }

  async with<T>(n: number, fn: () => Promise<T>): Promise<T> {
    const got = await this.acquire(n);
    try {
      return await fn();
    } finally {
      this.release(got);
    }
  }
}

/**
 * Maps `items` with at most `limit` calls of `fn` running at once; results keep input order. When a
 * call fails, no new one starts, and the first error is thrown once the calls still running have
 * ended: nothing keeps working behind a failed (or cancelled) map, on fds its caller then closes.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failure) {
      const i = next++;
      try {
        out[i] = await fn(items[i] as T, i);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.err;
  return out;
}
