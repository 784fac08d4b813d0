// Errors from writing to the local disk, turned into one line that says what could not be written
// and why. A full disk (ENOSPC, or a quota: EDQUOT) gets a class of its own: it is the one failure
// a person fixes by freeing space, after which the same agent goes on (nothing stays broken).
import { CairnError } from './errors.js';

/** The disk (or the user's quota) had no room for what was being written. */
export class DiskFullError extends CairnError {
  constructor(what: string, options?: { cause?: unknown }) {
    super('E_DISK_FULL', `disk full while writing ${what}: no space left on device (ENOSPC)`, undefined, options);
    this.name = 'DiskFullError';
  }
}

/** Any other failure to write something to the local disk (EIO, EROFS, ...). */
export class DiskWriteError extends CairnError {
  constructor(what: string, reason: string, options?: { cause?: unknown }) {
    super('E_DISK_WRITE', `cannot write ${what}: ${reason}`, undefined, options);
    this.name = 'DiskWriteError';
  }
}

/** Whether `err` (a Node errno error, or a LevelDB error wrapping one) says the disk is full. */
export function isDiskFull(err: unknown): boolean {
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string' && /no space left on device|disk quota exceeded/i.test(message)) return true;
  }
  return false;
}

/** `err` from writing `what`, as one clear line; errors already of ours pass unchanged. */
export function writeError(what: string, err: unknown): CairnError {
  if (err instanceof DiskFullError || err instanceof DiskWriteError) return err;
  if (isDiskFull(err)) return new DiskFullError(what, { cause: err });
  if (err instanceof CairnError) return err;
  const first = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
  return new DiskWriteError(what, first, { cause: err });
}
