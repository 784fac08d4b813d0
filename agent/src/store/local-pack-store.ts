// Packs as files: DIR/<first two hex digits>/<64 hex digits>, written crash-safe (temp, fsync,
// rename, fsync dir). Leftover temp files from a crash are removed when the store opens.
import { mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TEMP_PREFIX, writeFileAtomic } from '../util/fsx.js';
import { PackMissingError, PackTruncatedError, type PackInfo, type PackStore } from './pack-store.js';

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

export class LocalPackStore implements PackStore {
  readonly dir: string;

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

  async put(id: string, parts: Uint8Array[]): Promise<void> {
    if (await this.stat(id)) return;
    await mkdir(join(this.dir, id.slice(0, 2)), { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.path(id), parts);
  }

  async get(id: string): Promise<Buffer> {
    try {
      return await readFile(this.path(id));
    } catch (err) {
      if (isNotFound(err)) throw new PackMissingError(id);
      throw err;
    }
  }

  async getRange(id: string, offset: number, length: number): Promise<Buffer> {
    let fh;
    try {
      fh = await open(this.path(id), 'r');
    } catch (err) {
      if (isNotFound(err)) throw new PackMissingError(id);
      throw err;
    }
    try {
      const buf = Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) throw new PackTruncatedError(id, length, got);
        got += bytesRead;
      }
      return buf;
    } finally {
      await fh.close();
    }
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
    await rm(this.path(id), { force: true });
  }
}
