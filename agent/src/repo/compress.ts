// zstd level 3 through zstd-napi, with one reused compression context (a fresh context per call
// costs ~100 µs, which dominates for small files). A blob is stored raw when compression does not
// shrink it. Decompression is bounded by the raw length recorded in the pack header.
import { Compressor, decompress as zstdDecompress } from 'zstd-napi';
import { CorruptionError } from '../util/errors.js';

export const ZSTD_LEVEL = 3;

let compressor: Compressor | undefined;

/** Returns the compressed bytes, or undefined when compression does not shrink `data`. */
export function compress(data: Buffer): Buffer | undefined {
  if (!compressor) {
    compressor = new Compressor();
    compressor.setParameters({ compressionLevel: ZSTD_LEVEL });
  }
  const z = compressor.compress(data);
  return z.length < data.length ? z : undefined;
}

export function decompress(data: Buffer, rawLength: number, what: string): Buffer {
  let out: Buffer;
  try {
    out = zstdDecompress(data);
  } catch (err) {
    throw new CorruptionError(`${what}: does not decompress (${(err as Error).message})`);
  }
  if (out.length !== rawLength) throw new CorruptionError(`${what}: decompressed to ${out.length} bytes, expected ${rawLength}`);
  return out;
}
