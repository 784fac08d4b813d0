// Packs as files: DIR/<first two hex digits>/<64 hex digits>, written crash-safe (temp, fsync,
// rename, fsync dir). Leftover temp files from a crash are removed when the store opens.
import { fstatSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { commitTemp, TEMP_PREFIX, tempPathFor, writeFileAtomic } from '../util/fsx.js';
import { writeError } from '../util/write-errors.js';
import { PackMissingError, PackTruncatedError, type PackInfo, type PackStore } from './pack-store.js';

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/** Pack files kept open for range reads (restores and tree loads read many small ranges). */
const OPEN_PACKS = 16;

interface OpenPack {
  fh: Promise<FileHandle>;
  refs: number;
  evicted: boolean;
}

export class LocalPackStore implements PackStore {
  readonly dir: string;
  private readonly handles = new Map<string, OpenPack>();

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Creates the directory and removes temp files a crash left behind. */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const sub of await readdir(this.dir)) {
      if (sub.startsWith(TEMP_PREFIX)) {
        await rm(join(this.dir, sub), { force: true });
        continue;
      }
      for (const name of await readdir(join(this.dir, sub)).catch(() => [] as string[])) {
        if (name.startsWith(TEMP_PREFIX)) await rm(join(this.dir, sub, name), { force: true });
      }
    }
  }

  path(id: string): string {
    return join(this.dir, id.slice(0, 2), id);
  }

  /** Writes a pack durably; a failure (a full disk: DiskFullError) leaves no file behind, temp or final. */
  async put(id: string, parts: Uint8Array[]): Promise<void> {
    if (await this.stat(id)) return;
    this.evict(id);
    try {
      await mkdir(join(this.dir, id.slice(0, 2)), { recursive: true, mode: 0o700 });
      await writeFileAtomic(this.path(id), parts);
    } catch (err) {
      throw writeError(`pack ${id} to ${this.dir}`, err);
    }
  }

  /**
   * A new temp file name next to where pack `id` goes (its directory created), for writing a pack
   * as it arrives and then adopt()ing it. Temp files a crash leaves are removed by open().
   */
  async tempPathFor(id: string): Promise<string> {
    await mkdir(dirname(this.path(id)), { recursive: true, mode: 0o700 });
    return tempPathFor(this.path(id));
  }

  /**
   * Moves a complete, fsynced temp file (PackFileWriter's) into place as pack `id`, durably; when
   * the store holds pack `id` already (the same bytes: the ID is their hash), the temp file goes.
   */
  async adoptNew(id: string, tmp: string): Promise<void> {
    if (await this.stat(id)) {
      await rm(tmp, { force: true });
      return;
    }
    await mkdir(dirname(this.path(id)), { recursive: true, mode: 0o700 });
    this.evict(id);
    await commitTemp(tmp, this.path(id));
  }

  /** Moves a complete, fsynced temp file from tempPathFor() into place as pack `id` (replacing any copy there), durably. */
  async adopt(id: string, tmp: string): Promise<void> {
    this.evict(id);
    await commitTemp(tmp, this.path(id));
  }

  async get(id: string): Promise<Buffer> {
    try {
      return await readFile(this.path(id));
    } catch (err) {
      if (isNotFound(err)) throw new PackMissingError(id);
      throw err;
    }
  }

  private async acquire(id: string): Promise<OpenPack> {
    let h = this.handles.get(id);
    if (h) {
      this.handles.delete(id); // re-insert: most recently used last
      this.handles.set(id, h);
    } else {
      h = { fh: open(this.path(id), 'r'), refs: 0, evicted: false };
      this.handles.set(id, h);
      h.fh.catch(() => this.handles.get(id) === h && this.handles.delete(id));
      if (this.handles.size > OPEN_PACKS) this.evict(this.handles.keys().next().value as string);
    }
    h.refs += 1;
    try {
      await h.fh;
    } catch (err) {
      h.refs -= 1;
      if (isNotFound(err)) throw new PackMissingError(id);
      throw err;
    }
    return h;
  }

  private release(h: OpenPack): void {
    h.refs -= 1;
    if (h.evicted && h.refs === 0) void h.fh.then((fh) => fh.close()).catch(() => undefined);
  }

  /** Forgets an open handle (after the file is replaced or removed). */
  private evict(id: string): void {
    const h = this.handles.get(id);
    if (!h) return;
    this.handles.delete(id);
    h.evicted = true;
    if (h.refs === 0) void h.fh.then((fh) => fh.close()).catch(() => undefined);
  }

  async getRange(id: string, offset: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    await this.readInto(id, offset, buf);
    return buf;
  }

  /** Fills `target` with the pack's bytes from `offset` (no allocation: senders reuse their frame buffers). */
  async readInto(id: string, offset: number, target: Uint8Array): Promise<void> {
    await this.fill(id, offset, target, true);
  }

  /** Up to `length` bytes from `offset`: fewer where the pack ends first (a window of reads to come). */
  async readAtMost(id: string, offset: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    return buf.subarray(0, await this.fill(id, offset, buf, false));
  }

  /** Reads into `target` from `offset` until it is full, or (`exact` false) the pack ends; returns the bytes read. */
  private async fill(id: string, offset: number, target: Uint8Array, exact: boolean): Promise<number> {
    let h = await this.acquire(id);
    let fh = await h.fh;
    if (fstatSync(fh.fd).nlink === 0) {
      // deleted or replaced behind our back since it was opened: read what is there now
      this.release(h);
      this.evict(id);
      h = await this.acquire(id);
      fh = await h.fh;
    }
    try {
      let got = 0;
      while (got < target.length) {
        const { bytesRead } = await fh.read(target, got, target.length - got, offset + got);
        if (bytesRead === 0) {
          if (exact) throw new PackTruncatedError(id, target.length, got);
          break;
        }
        got += bytesRead;
      }
      return got;
    } finally {
      this.release(h);
    }
  }

  /** Closes every cached file handle. */
  async close(): Promise<void> {
    for (const id of [...this.handles.keys()]) this.evict(id);
  }

  async stat(id: string): Promise<PackInfo | undefined> {
    try {
      const s = await stat(this.path(id));
      return { id, sizeBytes: s.size };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async *list(): AsyncIterable<PackInfo> {
    for (const sub of (await readdir(this.dir)).sort()) {
      if (!/^[0-9a-f]{2}$/.test(sub)) continue;
      for (const name of (await readdir(join(this.dir, sub))).sort()) {
        if (name.startsWith(TEMP_PREFIX)) continue;
        const info = await this.stat(name);
        if (info) yield info;
      }
    }
  }

  async delete(id: string): Promise<void> {
    this.evict(id);
    await rm(this.path(id), { force: true });
  }
}
