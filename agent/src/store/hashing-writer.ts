// Writes a file from a stream of frames and computes its SHA-256 on the way, on a worker thread:
// a receiving agent's main thread is busy decrypting the transport (Noise) and hashing plus
// writing 1 GiB on it as well made it the bottleneck of replication. Frames are copied into pooled
// 1 MiB buffers that travel to the worker and back (no allocation per frame); at most
// MAX_QUEUED_FRAMES per file are queued, so memory stays bounded when the disk is slow.
// Run from TypeScript sources (unit tests) there is no compiled worker: the same work is done
// inline on the calling thread.
import { createHash, type Hash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { framePool } from './frame-pool.js';
import { dropFromPageCache } from '../util/posix.js';
import type { HashingJob, HashingReply } from './hashing-writer-worker.js';

const MAX_QUEUED_FRAMES = 4;

interface Waiter {
  written(reply: Extract<HashingReply, { op: 'written' }>): void;
  digest(hex: string | null): void;
  failed(err: Error): void;
}

/** The process's one hashing worker, started on first use; null when running from sources. */
class HashingThread {
  private static instance: HashingThread | null | undefined;
  private readonly worker: Worker;
  private readonly waiters = new Map<number, Waiter>();
  private nextId = 1;

  static get(): HashingThread | null {
    if (HashingThread.instance === undefined) {
      const script = new URL('./hashing-writer-worker.js', import.meta.url);
      HashingThread.instance = existsSync(fileURLToPath(script)) ? new HashingThread(script) : null;
    }
    return HashingThread.instance;
  }

  private constructor(script: URL) {
    this.worker = new Worker(script);
    this.worker.on('message', (m: HashingReply) => {
      const w = this.waiters.get(m.id);
      if (m.op === 'written') {
        framePool.give(m.buf);
        w?.written(m);
      } else {
        this.waiters.delete(m.id);
        if (this.waiters.size === 0) this.worker.unref();
        w?.digest(m.hex);
      }
    });
    this.worker.on('error', (err) => {
      // a dead worker fails every file in flight; the next file starts a new one
      HashingThread.instance = undefined;
      for (const w of this.waiters.values()) w.failed(err);
      this.waiters.clear();
    });
    // idle, the worker must not keep the process alive (an agent that was told to stop would
    // never exit); a 'message' listener refs it, so this comes after the listeners
    this.worker.unref();
  }

  /** A file in flight keeps the process alive until its digest is back. */
  register(w: Waiter): number {
    const id = this.nextId++;
    if (this.waiters.size === 0) this.worker.ref();
    this.waiters.set(id, w);
    return id;
  }

  post(job: HashingJob, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(job, transfer);
  }
}

/**
 * Starts the hashing worker now instead of at the first file: booting a worker thread took 0.1-0.2
 * CPU-seconds here, which an agent should not pay while a friend's first pack is arriving.
 * Idle, the worker does not keep the process alive.
 */
export function startHashingThread(): void {
  HashingThread.get();
}

export class HashingWriter {
  private readonly fh: FileHandle;
  private readonly thread: HashingThread | null;
  private readonly id: number;
  private readonly inlineHash: Hash | null;
  private position = 0;
  private queued = 0;
  private error: Error | null = null;
  private roomWaiter: (() => void) | null = null;
  private digestWaiter: { resolve(hex: string | null): void; reject(e: Error): void } | null = null;
  private closed = false;
  /** The worker died: nothing more will come back for this file. */
  private dead = false;

  /** Creates `path` (which must not exist) for writing. */
  static async create(path: string, mode = 0o600): Promise<HashingWriter> {
    return new HashingWriter(await open(path, 'wx', mode), HashingThread.get());
  }

  /** Whether this file is hashed and written on the worker thread (not inline). */
  get onWorker(): boolean {
    return this.thread !== null;
  }

  private constructor(fh: FileHandle, thread: HashingThread | null) {
    this.fh = fh;
    this.thread = thread;
    this.inlineHash = thread ? null : createHash('sha256');
    this.id = thread
      ? thread.register({
          written: (m) => {
            this.queued -= 1;
            if (m.error && !this.error) this.error = Object.assign(new Error(m.error.message), m.error.code ? { code: m.error.code } : {});
            this.wake();
          },
          digest: (hex) => this.digestWaiter?.resolve(hex),
          failed: (err) => {
            this.error ??= err;
            this.dead = true;
            this.queued = 0;
            this.wake();
            this.digestWaiter?.reject(err);
          },
        })
      : 0;
  }

  private wake(): void {
    const w = this.roomWaiter;
    this.roomWaiter = null;
    w?.();
  }

  /** Queues the next bytes of the file (given as pieces); resolves once they are queued. */
  async write(parts: Uint8Array[], length: number): Promise<void> {
    if (this.error) throw this.error;
    const position = this.position;
    this.position += length;
    if (!this.thread) {
      let at = position;
      for (const p of parts) {
        (this.inlineHash as Hash).update(p);
        let off = 0;
        while (off < p.length) off += (await this.fh.write(p, off, p.length - off, at + off)).bytesWritten;
        at += p.length;
      }
      return;
    }
    while (this.queued >= MAX_QUEUED_FRAMES && !this.error) await new Promise<void>((r) => (this.roomWaiter = r));
    if (this.error) throw this.error;
    const buf = framePool.take(length);
    const view = new Uint8Array(buf, 0, length);
    let off = 0;
    for (const p of parts) {
      view.set(p, off);
      off += p.length;
    }
    this.queued += 1;
    this.thread.post({ op: 'write', id: this.id, fd: this.fh.fd, position, buf, length }, [buf]);
  }

  /**
   * Waits for every queued write, fsyncs and closes the file; returns the SHA-256 (hex) of all its
   * bytes. With `dropCache` the file's pages then leave the page cache (cold data: nobody reads it
   * soon, and on VMs whose fresh page-cache memory is slow to touch this doubled write speed).
   * With `expectDigest`, a file whose bytes hash to something else is closed without the fsync
   * (the caller throws it away) and its digest returned all the same.
   */
  async finish(opts: { dropCache?: boolean; expectDigest?: string } = {}): Promise<string> {
    const hex = await this.settle();
    if (this.error) {
      await this.close();
      throw this.error;
    }
    if (opts.expectDigest !== undefined && hex !== opts.expectDigest) {
      await this.close();
      return hex as string;
    }
    try {
      await this.fh.sync();
      if (opts.dropCache) dropFromPageCache(this.fh.fd);
    } finally {
      await this.close();
    }
    return hex as string;
  }

  /** Stops: waits until the worker no longer touches the file, then closes it. Never throws. */
  async abort(): Promise<void> {
    await this.settle().catch(() => undefined);
    await this.close();
  }

  private async settle(): Promise<string | null> {
    if (this.closed || this.dead) return null;
    if (!this.thread) return (this.inlineHash as Hash).digest('hex');
    const thread = this.thread;
    // the digest is answered after every earlier write of this file: once it is back, the worker
    // is done with the descriptor
    return new Promise<string | null>((resolve, reject) => {
      this.digestWaiter = { resolve, reject };
      thread.post({ op: 'digest', id: this.id });
    });
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close().catch(() => undefined);
  }
}
