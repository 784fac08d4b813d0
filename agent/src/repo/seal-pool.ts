// A small pool of worker threads for compress + seal. Blobs below WORKER_MIN_BYTES are done on the
// calling thread (a message round trip costs more than compressing them). With one core there
// are no workers and everything runs inline. Results are identical either way.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BlobType } from './blob.js';
import { compressAndSeal, type SealDone, type SealJob } from './seal-worker.js';

const WORKER_MIN_BYTES = 64 * 1024;

export class SealPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (r: { flags: number; sealed: Buffer }) => void; reject: (e: Error) => void }>();
  private readonly load: number[] = [];
  private next = 0;

  constructor(size = Math.max(0, availableParallelism() - 1)) {
    // Run from TypeScript sources (unit tests) there is no compiled worker file: work inline.
    const script = new URL('./seal-worker.js', import.meta.url);
    if (!existsSync(fileURLToPath(script))) size = 0;
    for (let i = 0; i < size; i++) {
      const w = new Worker(script);
      w.on('message', (m: SealDone) => {
        this.load[i] = (this.load[i] ?? 1) - 1;
        if (this.load[i] === 0) w.unref();
        const p = this.pending.get(m.n);
        this.pending.delete(m.n);
        p?.resolve({ flags: m.flags, sealed: Buffer.from(m.sealed.buffer, m.sealed.byteOffset, m.sealed.byteLength) });
      });
      w.on('error', (err) => {
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
      // idle, a worker must not keep the process alive (a command that failed before close()
      // would never exit); a 'message' listener refs it, so this comes after the listeners, and
      // run() refs it while it has work
      w.unref();
      this.workers.push(w);
      this.load.push(0);
    }
  }

  async run(type: BlobType, id: string, data: Buffer, key: Buffer): Promise<{ flags: number; sealed: Buffer }> {
    if (this.workers.length === 0 || data.length < WORKER_MIN_BYTES) return compressAndSeal(type, id, data, key);
    let best = 0;
    for (let i = 1; i < this.workers.length; i++) if ((this.load[i] ?? 0) < (this.load[best] ?? 0)) best = i;
    this.load[best] = (this.load[best] ?? 0) + 1;
    if (this.load[best] === 1) (this.workers[best] as Worker).ref();
    const n = this.next++;
    const job: SealJob = { n, type, id, data, key };
    const owned = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
    return new Promise((resolve, reject) => {
      this.pending.set(n, { resolve, reject });
      (this.workers[best] as Worker).postMessage(job, owned ? [data.buffer as ArrayBuffer] : []);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
