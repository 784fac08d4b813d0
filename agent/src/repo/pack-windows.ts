// Pack bytes read a window at a time, for one pass that loads many small blobs lying close together
// (a backup's parent trees: a tree pack holds them in walk order). One read of WINDOW_BYTES serves
// every blob inside it, where each blob was a read of its own. Bytes only: every blob taken from a
// window is still authenticated and checked against its ID by the repository; a pack's bytes never
// change under its ID (the ID is their hash), so a window stays right for as long as it is kept.
// Few windows are kept (the most recently used), and only for the life of the pass.

/** Bytes read at once. */
const WINDOW_BYTES = 256 * 1024;
/** Windows kept (most recently used). */
const WINDOWS_KEPT = 8;

/** Reads up to `length` bytes of a pack from `offset` (fewer where the pack ends). */
export type ReadAtMost = (packId: string, offset: number, length: number) => Promise<Buffer>;

export class PackWindows {
  /** By pack and window start: the window read, or being read (shared by the loads that wait for it). */
  private readonly windows = new Map<string, Promise<Buffer>>();

  constructor(private readonly read: ReadAtMost) {}

  /**
   * The pack's bytes [offset, offset + length) out of a window, or undefined when they are not in
   * one: the range crosses a window's end, or the window could not be read (the caller reads the
   * range as it would without windows, and meets whatever error there is itself).
   */
  async get(packId: string, offset: number, length: number): Promise<Buffer | undefined> {
    const start = offset - (offset % WINDOW_BYTES);
    if (offset + length > start + WINDOW_BYTES) return undefined;
    const key = `${packId}:${start}`;
    let w = this.windows.get(key);
    if (w)
      this.windows.delete(key); // re-inserted below: most recently used last
    else w = this.read(packId, start, WINDOW_BYTES);
    this.windows.set(key, w);
    if (this.windows.size > WINDOWS_KEPT) this.windows.delete(this.windows.keys().next().value as string);
    let bytes: Buffer;
    try {
      bytes = await w;
    } catch {
      if (this.windows.get(key) === w) this.windows.delete(key);
      return undefined;
    }
    const from = offset - start;
    return from + length <= bytes.length ? bytes.subarray(from, from + length) : undefined;
  }

  /** Drops the windows of a pack (its bytes failed verification: it may be replaced by a good copy). */
  forget(packId: string): void {
    for (const key of [...this.windows.keys()]) if (key.startsWith(`${packId}:`)) this.windows.delete(key);
  }
}
