// zstd level 3 through node:zlib (built into Node >= 22.15; the async form runs on libuv's thread
// pool, which gives the backup pipeline parallel compression without worker threads). A blob is
// stored raw when compression does not shrink it.
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { CorruptionError } from '../util/errors.js';

export const ZSTD_LEVEL = 3;
/** Blobs below this size are compressed synchronously: a thread-pool hop costs more than it saves. */
const ASYNC_COMPRESS_MIN_BYTES = 64 * 1024;
const zstdOptions = { params: { [zlib.constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL } };
const zstdCompressAsync = promisify(zlib.zstdCompress) as (buf: Uint8Array, opts: zlib.ZstdOptions) => Promise<Buffer>;

/** Returns the compressed bytes, or undefined when compression does not shrink `data`. */
export async function compress(data: Buffer): Promise<Buffer | undefined> {
  const z = data.length < ASYNC_COMPRESS_MIN_BYTES ? zlib.zstdCompressSync(data, zstdOptions) : await zstdCompressAsync(data, zstdOptions);
  return z.length < data.length ? z : undefined;
}

export function decompress(data: Buffer, rawLength: number, what: string): Buffer {
  let out: Buffer;
  try {
    out = zlib.zstdDecompressSync(data, { maxOutputLength: Math.max(rawLength, 1) });
  } catch (err) {
    throw new CorruptionError(`${what}: does not decompress (${(err as Error).message})`);
  }
  if (out.length !== rawLength) throw new CorruptionError(`${what}: decompressed to ${out.length} bytes, expected ${rawLength}`);
  return out;
}
