// A small pool of worker threads for compress + seal. Blobs below WORKER_MIN_BYTES are done on the
// calling thread (a message round trip costs more than compressing them); the workers start with
// the first blob that is not. With one core there are no workers and everything runs inline.
// Results are identical either way.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BlobType } from './blob.js';
import { addWorkerCpu, cpuReportWanted } from '../util/thread-cpu.js';
import { compressAndSeal, type SealCpu, type SealCpuAsk, type SealDone, type SealJob } from './seal-worker.js';

const WORKER_MIN_BYTES = 64 * 1024;
/** How long close() waits for a worker to tell its CPU use (only with CAIRN_CPU_REPORT). */
const CPU_ASK_TIMEOUT_MS = 1000;

interface Slot {
  worker: Worker;
  /** Jobs sent to this worker and not answered yet. */
  load: number;
  pending: Map<number, { resolve: (r: { flags: number; sealed: Buffer }) => void; reject: (e: Error) => void }>;
}

/** A seal worker died (it threw, or ran out of memory) with jobs in hand. */
export class SealWorkerError extends Error {
  constructor(cause: unknown) {
    super(`a compress-and-seal worker thread stopped: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'SealWorkerError';
  }
}

export class SealPool {
  private readonly slots: Slot[] = [];
  /** Workers to start: with the first blob big enough for one (a run that seals only small blobs, an unchanged re-run's snapshot, starts none). */
  private readonly size: number;
  private readonly script: URL;
  private next = 0;
  private closing = false;

  constructor(size = Math.max(0, availableParallelism() - 1)) {
    // Run from TypeScript sources (unit tests) there is no compiled worker file: work inline.
    this.script = new URL('./seal-worker.js', import.meta.url);
    this.size = existsSync(fileURLToPath(this.script)) ? size : 0;
  }

  /**
   * Starts the worker of slot `i`. A worker that dies fails only the jobs it had and is replaced at
   * once: the pool (one per repository, for the life of the agent) never keeps a dead worker that
   * would leave every later job it is given unanswered.
   */
  private spawn(i: number): Slot {
    const w = new Worker(this.script);
    const slot: Slot = { worker: w, load: 0, pending: new Map() };
    w.on('message', (m: SealDone | SealCpu) => {
      if ('cpu' in m) {
        addWorkerCpu('seal', m.cpu);
        return;
      }
      slot.load -= 1;
      if (slot.load === 0) w.unref();
      const p = slot.pending.get(m.n);
      slot.pending.delete(m.n);
      p?.resolve({ flags: m.flags, sealed: Buffer.from(m.sealed.buffer, m.sealed.byteOffset, m.sealed.byteLength) });
    });
    const lost = (cause: unknown) => {
      if (this.slots[i] !== slot) return;
      const err = new SealWorkerError(cause);
      for (const p of slot.pending.values()) p.reject(err);
      slot.pending.clear();
      if (this.closing) return;
      this.slots[i] = this.spawn(i);
      void w.terminate().catch(() => undefined);
    };
    w.on('error', lost);
    w.on('exit', (code) => lost(`exit code ${code}`));
    // idle, a worker must not keep the process alive (a command that failed before close()
    // would never exit); a 'message' listener refs it, so this comes after the listeners, and
    // run() refs it while it has work
    w.unref();
    return slot;
  }

  async run(type: BlobType, id: string, data: Buffer, key: Buffer): Promise<{ flags: number; sealed: Buffer }> {
    // small blobs, no workers (one core, or run from sources), or a closed pool: on this thread
    if (data.length < WORKER_MIN_BYTES || this.size === 0 || this.closing) return compressAndSeal(type, id, data, key);
    for (let i = this.slots.length; i < this.size; i++) this.slots.push(this.spawn(i));
    let best = this.slots[0] as Slot;
    for (const s of this.slots) if (s.load < best.load) best = s;
    best.load += 1;
    if (best.load === 1) best.worker.ref();
    const n = this.next++;
    const job: SealJob = { n, type, id, data, key };
    const owned = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
    return new Promise((resolve, reject) => {
      best.pending.set(n, { resolve, reject });
      best.worker.postMessage(job, owned ? [data.buffer as ArrayBuffer] : []);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    if (cpuReportWanted()) await Promise.all(this.slots.map((s) => askCpu(s.worker)));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

/** Asks a worker for its thread's CPU use; the answer is counted by its message listener. */
function askCpu(w: Worker): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, CPU_ASK_TIMEOUT_MS);
    function done(): void {
      clearTimeout(timer);
      w.off('message', onMessage);
      resolve();
    }
    function onMessage(m: unknown): void {
      if (typeof m === 'object' && m !== null && 'cpu' in m) done();
    }
    w.on('message', onMessage);
    w.ref();
    w.postMessage({ cpu: true } satisfies SealCpuAsk);
  });
}
