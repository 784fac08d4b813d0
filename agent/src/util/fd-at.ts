// Working relative to open directories, as openat(2) does, which Node lacks: the path
// "/proc/self/fd/D/name" makes the kernel start at the directory open as D (the magic link jumps to
// that very directory, whatever its path is now) and then look up `name` in it. With no-follow
// calls on the last component (lstat, O_NOFOLLOW, readlink, unlink, rename, lchown, l*xattr,
// utimensat AT_SYMLINK_NOFOLLOW) nothing is ever reached through a symlink, in the entry itself or
// in any directory above it. The backup and the restore walk their trees this way (SPEC 9.1). Where
// an entry is opened anyway, openat(2) through libc (NameAt, posix.ts: openAt) does the same
// lookup without the one of /proc: the backup's walk opens its files and directories so.
import { closeSync, constants, fstatSync, openSync, readlinkSync, type BigIntStats } from 'node:fs';
import { CairnError } from './errors.js';
import { toBytes } from './byte-names.js';
import { openAt, type CPath } from './posix.js';

/** Linux O_PATH: an fd that names a file without opening it for I/O (usable for metadata via /proc). */
export const O_PATH = 0o10000000;
const S_IFMT = 0o170000n;

/** The path that names fd itself ("/proc/self/fd/N"). */
export function fdPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/** The path of `name` (one component, string made by fromBytes) inside the directory open as dirFd. */
export function at(dirFd: number, name: string): Buffer {
  return Buffer.concat([Buffer.from(`/proc/self/fd/${dirFd}/`), toBytes(name)]);
}

/** Same object: device, inode and file type all equal. */
export function sameFile(a: Pick<BigIntStats, 'dev' | 'ino' | 'mode'>, b: Pick<BigIntStats, 'dev' | 'ino' | 'mode'>): boolean {
  return a.dev === b.dev && a.ino === b.ino && (a.mode & S_IFMT) === (b.mode & S_IFMT);
}

/** A directory changed into something else (or was swapped for a symlink) between two looks at it. */
export class SwappedError extends CairnError {
  constructor(path: string) {
    super('E_SWAPPED', `${path} changed into another file while it was being read (a symlink race?)`);
    this.name = 'SwappedError';
  }
}

let checked = false;
/** Fails clearly where /proc is not mounted (the whole mechanism rests on it). */
export function requireProcFd(): void {
  if (checked) return;
  const fd = openSync('/', constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    if (readlinkSync(fdPath(fd)) !== '/') throw new Error('unexpected answer');
    checked = true;
  } catch (err) {
    throw new CairnError('E_NO_PROC', `/proc/self/fd is not usable (${(err as Error).message}): Cairn needs /proc mounted to read and write trees safely`);
  } finally {
    closeSync(fd);
  }
}

/** An entry named by one component inside the directory open as dirFd: opened with openat(2), no /proc path to resolve. */
export interface NameAt {
  dirFd: number;
  name: CPath;
}

/** Opens `where` with `flags` plus O_NOATIME where allowed (the owner and root), so a backup's own reading leaves atimes alone. */
export function openNoAtime(where: string | Buffer | NameAt, flags: number, shown: string): number {
  const open = (f: number): number => (typeof where === 'object' && 'dirFd' in where ? openAt(where.dirFd, where.name, f, shown) : openSync(where, f));
  try {
    return open(flags | constants.O_NOATIME);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    return open(flags);
  }
}

/**
 * Opens a directory without following a symlink in its last component (a symlink there fails with
 * ELOOP, anything but a directory with ENOTDIR) and returns its fd and fstat. `expect`: the lstat
 * taken earlier; when the open object is another one, SwappedError. Opened with O_NOATIME where
 * allowed, so that a backup's own reading does not change what the next backup sees.
 */
export function openDirNoFollow(
  where: string | Buffer | NameAt,
  shown: string,
  expect?: Pick<BigIntStats, 'dev' | 'ino' | 'mode'>,
): { fd: number; st: BigIntStats } {
  const fd = openNoAtime(where, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW, shown);
  try {
    const st = fstatSync(fd, { bigint: true });
    if (expect && !sameFile(st, expect)) throw new SwappedError(shown);
    return { fd, st };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}
