// Reusable buffers: of one size, for streaming pack bytes to and from friends (the process's pool of
// pack frames is store/frame-pool.ts), and of several sizes (SizeClassPool), for a backup's read
// buffers (snapshot/file-saver.ts). Memory a process touches for the first time is costly on some
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

/** The least size class (a power of two) at or above `length`, at least `min`; undefined above `max`. */
function sizeClass(length: number, min: number, max: number): number | undefined {
  if (length > max) return undefined;
  let c = min;
  while (c < length) c *= 2;
  return c;
}

/**
 * Reusable buffers of several sizes, for buffers that stay on one thread: each comes in a size
 * class (powers of two from `minBytes` to `maxBytes`) and serves any length up to its class, as a
 * view from offset 0. Every new ArrayBuffer is memory V8 counts as external, and each 64 MiB of it
 * starts a full garbage collection; fresh memory is also slow to fill on a VM.
 */
export class SizeClassPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  /** The free buffers: one given back twice would be lent twice. */
  private readonly isFree = new WeakSet<ArrayBuffer>();
  private freeBytes = 0;
  /** The buffers this pool made: only those are taken back. */
  private readonly mine = new WeakSet<ArrayBuffer>();

  /** `keepBytes`: the most the free buffers hold together; one given back beyond it is left to the GC. */
  constructor(
    private readonly minBytes: number,
    private readonly maxBytes: number,
    private readonly keepBytes: number,
  ) {}

  /** A Buffer of exactly `length` bytes over a buffer of its class (a free one, else a new one); above the largest class, one of its own. */
  take(length: number): Buffer {
    const cls = sizeClass(length, this.minBytes, this.maxBytes);
    if (cls === undefined) return Buffer.allocUnsafeSlow(length);
    let ab = this.free.get(cls)?.pop();
    if (ab) {
      this.freeBytes -= cls;
      this.isFree.delete(ab);
    } else {
      ab = new ArrayBuffer(cls);
      this.mine.add(ab);
    }
    return Buffer.from(ab, 0, length);
  }

  /** Gives back a buffer taken from this pool once nothing reads or writes it any more; any other is ignored. */
  give(buf: Buffer): void {
    const ab = buf.buffer as ArrayBuffer;
    if (!this.mine.has(ab) || this.isFree.has(ab) || this.freeBytes + ab.byteLength > this.keepBytes) return;
    const list = this.free.get(ab.byteLength) ?? [];
    list.push(ab);
    this.free.set(ab.byteLength, list);
    this.isFree.add(ab);
    this.freeBytes += ab.byteLength;
  }
}
