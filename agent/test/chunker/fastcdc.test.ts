import { describe, expect, it } from 'vitest';
import { FastCdc, gearTable } from '../../src/chunker/fastcdc.js';
import { DEFAULT_CHUNKER, parseChunkerName } from '../../src/chunker/params.js';

function prng(seed: number): (n: number) => Buffer {
  let x = seed >>> 0 || 1;
  return (n) => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      b[i] = x & 0xff;
    }
    return b;
  };
}

function chunkAll(cdc: FastCdc, data: Buffer): number[] {
  const lens: number[] = [];
  let start = 0;
  while (start < data.length) {
    const len = cdc.cut(data, start, data.length, true);
    lens.push(len);
    start += len;
  }
  return lens;
}

const small = parseChunkerName('fastcdc-2k-8k-32k');
const cdc = new FastCdc(small, gearTable(Buffer.alloc(32, 7)));

describe('chunker params', () => {
  it('parses the default name', () => {
    expect(parseChunkerName(DEFAULT_CHUNKER)).toMatchObject({ minBytes: 512 * 1024, avgBytes: 1024 * 1024, maxBytes: 8 * 1024 * 1024 });
  });
  it.each(['fastcdc-1m-512k-8m', 'rabin-1k-2k-4k', 'fastcdc-1k-3k-8k', 'fastcdc-1k-2x-8k'])('rejects %s with a clear error', (name) => {
    expect(() => parseChunkerName(name)).toThrow(/chunk|chunker/);
  });
});

describe('FastCDC', () => {
  const data = prng(42)(2 * 1024 * 1024);

  it('respects min and max and covers every byte', () => {
    const lens = chunkAll(cdc, data);
    expect(lens.reduce((a, b) => a + b, 0)).toBe(data.length);
    for (const l of lens.slice(0, -1)) {
      expect(l).toBeGreaterThan(small.minBytes);
      expect(l).toBeLessThanOrEqual(small.maxBytes);
    }
    const avg = data.length / lens.length;
    expect(avg).toBeGreaterThan(small.avgBytes / 2);
    expect(avg).toBeLessThan(small.avgBytes * 2);
  });

  it('is deterministic for a seed and differs between seeds', () => {
    expect(chunkAll(cdc, data)).toEqual(chunkAll(new FastCdc(small, gearTable(Buffer.alloc(32, 7))), data));
    expect(chunkAll(cdc, data)).not.toEqual(chunkAll(new FastCdc(small, gearTable(Buffer.alloc(32, 8))), data));
  });

  it('keeps later boundaries after an insertion near the start (content-defined)', () => {
    const shifted = Buffer.concat([Buffer.from('inserted bytes'), data]);
    const ends = (lens: number[], offset: number) => {
      const out = new Set<number>();
      let p = 0;
      for (const l of lens) out.add((p += l) - offset);
      return out;
    };
    const a = ends(chunkAll(cdc, data), 0);
    const b = ends(chunkAll(cdc, shifted), 14);
    const shared = [...a].filter((x) => b.has(x)).length;
    expect(shared / a.size).toBeGreaterThan(0.9);
  });

  it('asks for more data rather than cutting early without eof', () => {
    expect(cdc.cut(data, 0, small.minBytes, false)).toBe(-1);
    expect(cdc.cut(data, 0, small.minBytes, true)).toBe(small.minBytes);
    expect(cdc.cut(Buffer.alloc(small.maxBytes * 2), 0, small.maxBytes * 2, false)).toBeLessThanOrEqual(small.maxBytes);
  });

  it('cuts zeros at the max size', () => {
    expect(chunkAll(cdc, Buffer.alloc(small.maxBytes * 3))).toEqual([small.maxBytes, small.maxBytes, small.maxBytes]);
  });
});
