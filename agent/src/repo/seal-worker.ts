// Worker thread body: compresses and seals blobs (the CPU-heavy half of a backup), so the main
// thread can keep reading, chunking and hashing. Messages: { n, type, id, data, key } -> { n, flags, sealed }.
import { parentPort } from 'node:worker_threads';
import { seal } from '../crypto/aead.js';
import { blobAd, type BlobType } from './blob.js';
import { compress } from './compress.js';
import { FLAG_ZSTD } from './pack-format.js';

export interface SealJob {
  n: number;
  type: BlobType;
  id: string;
  data: Uint8Array;
  key: Uint8Array;
}

export interface SealDone {
  n: number;
  flags: number;
  sealed: Uint8Array;
}

/** Asks the worker for its own thread's CPU use (util/thread-cpu.ts), answered with a SealCpu. */
export interface SealCpuAsk {
  cpu: true;
}
export interface SealCpu {
  cpu: { user: number; system: number };
}

export function compressAndSeal(type: BlobType, id: string, data: Buffer, key: Buffer): { flags: number; sealed: Buffer } {
  const z = compress(data);
  return { flags: z ? FLAG_ZSTD : 0, sealed: seal(key, z ?? data, blobAd(type, id)) };
}

parentPort?.on('message', (job: SealJob | SealCpuAsk) => {
  if ('cpu' in job) {
    parentPort?.postMessage({ cpu: process.threadCpuUsage() } satisfies SealCpu);
    return;
  }
  const data = Buffer.from(job.data.buffer, job.data.byteOffset, job.data.byteLength);
  const { flags, sealed } = compressAndSeal(job.type, job.id, data, Buffer.from(job.key));
  const out = new Uint8Array(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const done: SealDone = { n: job.n, flags, sealed: out };
  // sealed buffers are fresh allocations of their own: hand them over instead of copying
  parentPort?.postMessage(done, sealed.byteOffset === 0 && sealed.byteLength === sealed.buffer.byteLength ? [sealed.buffer as ArrayBuffer] : []);
});
