// Reusable buffers of one size, for streaming pack bytes to and from friends (the process's pool of
// pack frames is store/frame-pool.ts). Memory a process touches for the first time is costly on some
// hosts, VMs especially: reading 512 MiB into fresh 1 MiB buffers took 300-570 ms of kernel time on
// the reference machine, into reused ones 22 ms. A buffer goes back only once nothing else can still
// read or write it.

export class BufferPool {
  private readonly free: ArrayBuffer[] = [];
  readonly bufferBytes: number;
  private readonly keep: number;

  constructor(bufferBytes: number, keep: number) {
    this.bufferBytes = bufferBytes;
    this.keep = keep;
  }

  /** A buffer of at least `length` bytes: a pooled one when it fits, else a new one of exactly `length`. */
  take(length: number): ArrayBuffer {
    if (length > this.bufferBytes) return new ArrayBuffer(length);
    return this.free.pop() ?? new ArrayBuffer(this.bufferBytes);
  }

  /** Returns a buffer taken from this pool; others (and those beyond `keep`) are left to the GC. */
  give(buf: ArrayBuffer): void {
    if (buf.byteLength === this.bufferBytes && this.free.length < this.keep) this.free.push(buf);
  }
}
