// Crash-safe file writing: write a temp file, fsync it, rename over the target, fsync the directory.
import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export const TEMP_PREFIX = '.tmp-';

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A fresh temp file name next to `path`, for writing it and then commitTemp()ing it. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `${TEMP_PREFIX}${basename(path)}-${randomBytes(6).toString('hex')}`);
}

/** Renames a complete, fsynced temp file over `path` and fsyncs the directory: durable once this returns. */
export async function commitTemp(tmp: string, path: string): Promise<void> {
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}

/** Writes every byte of `parts`, in order, at the file's position (a short write goes on where it stopped). */
export async function writeAll(fh: FileHandle, parts: Uint8Array[]): Promise<void> {
  for (const part of parts) {
    for (let off = 0; off < part.length;) off += (await fh.write(part, off, part.length - off)).bytesWritten;
  }
}

/**
 * Writes `data` to `path` so that after a crash the path holds either the old or the new bytes.
 * When it fails (a full disk), the temp file is gone again: a failed write leaves nothing behind.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | Uint8Array[], mode = 0o600): Promise<void> {
  const tmp = tempPathFor(path);
  const fh = await open(tmp, 'wx', mode);
  let renamed = false;
  try {
    try {
      await writeAll(fh, Array.isArray(data) ? data : [data]);
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
    await fh.close();
    await rename(tmp, path);
    renamed = true;
    await fsyncDir(dirname(path));
  } catch (err) {
    if (!renamed) await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}
