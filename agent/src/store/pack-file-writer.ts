// A pack written to disk as it is assembled, so that no pack-sized buffer is held: its bytes go to
// a temp file in the store's directory in order as they come (append), and finish() names it by
// its ID once that is known (fsync, rename, fsync of the directory: durable when it returns).
// abort() removes the temp file; temp files a crash leaves are removed when the store opens
// (LocalPackStore.open). A failure of the disk comes out as DiskFullError / DiskWriteError.
import { randomBytes } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { TEMP_PREFIX, writeAll } from '../util/fsx.js';
import { writeError } from '../util/write-errors.js';

/** Where a finished pack goes: the store that names it (LocalPackStore.adoptNew). */
export interface PackFileHome {
  readonly dir: string;
  /** Moves the fsynced temp file into place as pack `id`, durably; when the store has the pack already, the temp file is removed instead. */
  adoptNew(id: string, tmp: string): Promise<void>;
}

export class PackFileWriter {
  private closed = false;

  private constructor(
    private readonly home: PackFileHome,
    private readonly tmp: string,
    private readonly fh: FileHandle,
  ) {}

  static async create(home: PackFileHome): Promise<PackFileWriter> {
    const tmp = join(home.dir, `${TEMP_PREFIX}pack-${randomBytes(8).toString('hex')}`);
    try {
      return new PackFileWriter(home, tmp, await open(tmp, 'wx', 0o600));
    } catch (err) {
      throw writeError(`a new pack to ${home.dir}`, err);
    }
  }

  /** Appends `parts` in order. */
  async append(parts: Uint8Array[]): Promise<void> {
    try {
      await writeAll(this.fh, parts);
    } catch (err) {
      throw writeError(`a new pack to ${this.home.dir}`, err);
    }
  }

  /** Makes the file durable and names it pack `id` (its SHA-256): the pack exists once this returns. */
  async finish(id: string): Promise<void> {
    try {
      await this.fh.sync();
      this.closed = true;
      await this.fh.close();
      await this.home.adoptNew(id, this.tmp);
    } catch (err) {
      throw writeError(`pack ${id} to ${this.home.dir}`, err);
    }
  }

  /** Drops the unfinished pack (its temp file). Never throws. */
  async abort(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.fh.close().catch(() => undefined);
    }
    await rm(this.tmp, { force: true }).catch(() => undefined);
  }
}
