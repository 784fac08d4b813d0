// SizeClassPool (util/buffer-pool.ts): a backup's read buffers, reused from file to file. A buffer
// lent twice at once would let one file's bytes overwrite another's: the pool must never do it.
import { describe, expect, test } from 'vitest';
import { SizeClassPool } from '../../src/util/buffer-pool.js';

const KiB = 1024;

describe('SizeClassPool', () => {
  test('a buffer of exactly the length asked, over a buffer of its size class; one given back serves the next of its class', () => {
    const pool = new SizeClassPool(64 * KiB, 1024 * KiB, 4096 * KiB);
    const a = pool.take(100 * KiB);
    expect(a.length).toBe(100 * KiB);
    expect(a.byteOffset).toBe(0);
    expect(a.buffer.byteLength).toBe(128 * KiB);
    pool.give(a);
    const b = pool.take(70 * KiB);
    expect(b.buffer).toBe(a.buffer);
    expect(b.length).toBe(70 * KiB);
    // another class is another buffer
    expect(pool.take(200 * KiB).buffer).not.toBe(a.buffer);
  });

  test('a buffer given back twice is lent once', () => {
    const pool = new SizeClassPool(64 * KiB, 1024 * KiB, 4096 * KiB);
    const a = pool.take(64 * KiB);
    pool.give(a);
    pool.give(a);
    const x = pool.take(64 * KiB);
    const y = pool.take(64 * KiB);
    expect(x.buffer).toBe(a.buffer);
    expect(y.buffer).not.toBe(a.buffer);
  });

  test('buffers it did not make are not taken in, nor are buffers beyond what it keeps; larger than the largest class: a buffer of its own', () => {
    const pool = new SizeClassPool(64 * KiB, 1024 * KiB, 128 * KiB);
    const foreign = Buffer.allocUnsafeSlow(64 * KiB);
    pool.give(foreign);
    expect(pool.take(64 * KiB).buffer).not.toBe(foreign.buffer);
    const [p, q, r] = [pool.take(64 * KiB), pool.take(64 * KiB), pool.take(64 * KiB)];
    pool.give(p);
    pool.give(q);
    pool.give(r); // over the 128 KiB kept: left to the GC
    const back = new Set([pool.take(64 * KiB).buffer, pool.take(64 * KiB).buffer, pool.take(64 * KiB).buffer]);
    expect(back.has(p.buffer) && back.has(q.buffer)).toBe(true);
    expect(back.has(r.buffer)).toBe(false);
    const big = pool.take(2048 * KiB);
    expect(big.length).toBe(2048 * KiB);
    pool.give(big);
    expect(pool.take(2048 * KiB).buffer).not.toBe(big.buffer);
  });
});
