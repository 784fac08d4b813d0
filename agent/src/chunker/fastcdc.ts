// FastCDC (Xia et al., 2016/2020) with cut-point skipping and normalized chunking (level 2).
// The gear table is derived from a repository secret, so cut points differ between repositories.
// A 32-bit gear hash is enough: only the last 32 bytes influence it, and the masks take its high
// bits, which depend on the most bytes.
import { createHmac } from 'node:crypto';
import type { ChunkerParams } from './params.js';

const NORMALIZATION_LEVEL = 2;

function highBitsMask(bits: number): number {
  return bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
}

export function gearTable(seed: Buffer): Uint32Array {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    const d = createHmac('sha256', seed).update(`gear/${i}`).digest();
    table[i] = d.readUInt32LE(0);
  }
  return table;
}

export class FastCdc {
  readonly params: ChunkerParams;
  private readonly gear: Uint32Array;
  private readonly maskSmall: number;
  private readonly maskLarge: number;

  constructor(params: ChunkerParams, gear: Uint32Array) {
    this.params = params;
    this.gear = gear;
    const bits = Math.log2(params.avgBytes);
    this.maskSmall = highBitsMask(bits + NORMALIZATION_LEVEL);
    this.maskLarge = highBitsMask(bits - NORMALIZATION_LEVEL);
  }

  /**
   * Length of the next chunk of `buf[start, end)`, or -1 when more data is needed to decide.
   * With `eof`, the remaining bytes always end a chunk.
   */
  cut(buf: Uint8Array, start: number, end: number, eof: boolean): number {
    const { minBytes, avgBytes, maxBytes } = this.params;
    const n = end - start;
    if (n <= minBytes) return eof ? n : -1;
    const limit = Math.min(n, maxBytes);
    const normal = Math.min(limit, avgBytes);
    const gear = this.gear;
    const mS = this.maskSmall;
    const mL = this.maskLarge;
    let h = 0;
    let i = minBytes;
    for (; i < normal; i++) {
      h = ((h << 1) + (gear[buf[start + i] as number] as number)) | 0;
      if ((h & mS) === 0) return i + 1;
    }
    for (; i < limit; i++) {
      h = ((h << 1) + (gear[buf[start + i] as number] as number)) | 0;
      if ((h & mL) === 0) return i + 1;
    }
    if (limit === maxBytes || eof) return limit;
    return -1;
  }
}
