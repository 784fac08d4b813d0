// The few libc calls Node lacks, through koffi (FFI): nanosecond timestamps (utimensat), extended
// attributes (l*xattr), special files (mknod), page-cache advice (posix_fadvise), the allocator's
// thresholds (mallopt) and reading a directory through an fd we opened (getdents64: Node's readdir
// opens the directory again, without our O_NOATIME). Linux (glibc 2.30 or newer) only.
import { getSystemErrorName } from 'node:util';
import koffi from 'koffi';
import { displayName, fromBytes } from './byte-names.js';

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const ERANGE = 34;
const ENODATA = 61;
const ENOTSUP = 95;
const DT_DIR = 4;
const DT_UNKNOWN = 0;
const NS_PER_S = 1_000_000_000n;

const libc = koffi.load('libc.so.6');
const Timespec = koffi.struct('cairn_timespec', { tv_sec: 'int64_t', tv_nsec: 'long' });
const TimespecPair = koffi.array(Timespec, 2);
const utimensat = libc.func('int utimensat(int dirfd, const char *path, _In_ cairn_timespec *times, int flags)');
const lgetxattr = libc.func('intptr_t lgetxattr(const char *path, const char *name, _Out_ void *value, size_t size)');
const llistxattr = libc.func('intptr_t llistxattr(const char *path, _Out_ void *list, size_t size)');
const flistxattr = libc.func('intptr_t flistxattr(int fd, _Out_ void *list, size_t size)');
const fgetxattr = libc.func('intptr_t fgetxattr(int fd, const char *name, _Out_ void *value, size_t size)');
const openat = libc.func('int openat(int dirfd, const char *path, int flags, uint32_t mode)');
const lsetxattr = libc.func('int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)');
const fsetxattr = libc.func('int fsetxattr(int fd, const char *name, const void *value, size_t size, int flags)');
const futimens = libc.func('int futimens(int fd, _In_ cairn_timespec *times)');
const mknod = libc.func('int mknod(const char *path, uint32_t mode, uint64_t dev)');
const posixFadvise = libc.func('int posix_fadvise(int fd, int64_t offset, int64_t len, int advice)');
const POSIX_FADV_DONTNEED = 4;
const mallopt = libc.func('int mallopt(int param, int value)');
const getdents64 = libc.func('intptr_t getdents64(int fd, _Out_ void *dirp, size_t count)');
const statx = libc.func('int statx(int dirfd, const char *path, int flags, unsigned int mask, _Out_ uint8_t *buf)');
const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;
void TimespecPair;

export class PosixError extends Error {
  /** The errno's name ("ENOENT"), where Node's own errors keep it. */
  readonly code: string;
  constructor(
    readonly call: string,
    readonly errno: number,
    readonly path: string,
  ) {
    super(`${call} ${path}: ${errnoName(errno)}`);
    this.name = 'PosixError';
    this.code = errnoName(errno);
  }
}

/** The errno's name as Node's own errors give it (ENOENT, ELOOP...), from Node's table; "errno N" for one it does not know. */
function errnoName(errno: number): string {
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `errno ${errno}`;
  }
}

/** A path for libc: strings as UTF-8, Buffers (exact bytes) NUL-terminated. */
export type CPath = string | Buffer;
function cstr(p: CPath): string | Buffer {
  return typeof p === 'string' ? p : Buffer.concat([p, Buffer.from([0])]);
}
function shown(p: CPath): string {
  return typeof p === 'string' ? p : displayName(fromBytes(p));
}

function split(ns: bigint): { tv_sec: bigint; tv_nsec: number } {
  let sec = ns / NS_PER_S;
  let nsec = ns % NS_PER_S;
  if (nsec < 0n) {
    nsec += NS_PER_S;
    sec -= 1n;
  }
  return { tv_sec: sec, tv_nsec: Number(nsec) };
}

/** Sets atime and mtime with nanosecond precision, without following a final symlink. */
export function setTimesNs(path: CPath, atimeNs: bigint, mtimeNs: bigint): void {
  const rc = utimensat(AT_FDCWD, cstr(path), [split(atimeNs), split(mtimeNs)], AT_SYMLINK_NOFOLLOW) as number;
  if (rc !== 0) throw new PosixError('utimensat', koffi.errno(), shown(path));
}

/** Sets atime and mtime of the file open as `fd`, with nanosecond precision. */
export function setTimesNsFd(fd: number, atimeNs: bigint, mtimeNs: bigint, shownPath: string): void {
  const rc = futimens(fd, [split(atimeNs), split(mtimeNs)]) as number;
  if (rc !== 0) throw new PosixError('futimens', koffi.errno(), shownPath);
}

/**
 * Opens `name` (one component) in the directory open as dirFd: openat(2), the fd-relative open
 * Node lacks. Resolved from that very directory, whatever its path is now; with O_NOFOLLOW a final
 * symlink fails with ELOOP. Errors carry Node's errno code (PosixError).
 */
export function openAt(dirFd: number, name: CPath, flags: number, shownPath: string): number {
  const fd = openat(dirFd, cstr(name), flags, 0) as number;
  if (fd < 0) throw new PosixError('open', koffi.errno(), shownPath);
  return fd;
}

/** Whose extended attributes: a path (not following a final symlink), or an open fd. */
export type XattrTarget = CPath | { fd: number; shown: string };

const byFd = (t: XattrTarget): t is { fd: number; shown: string } => typeof t === 'object' && 'fd' in t;
const listCall = (t: XattrTarget, buf: Buffer | null, size: number): number => Number(byFd(t) ? flistxattr(t.fd, buf, size) : llistxattr(cstr(t), buf, size));
const getCall = (t: XattrTarget, name: string, buf: Buffer | null, size: number): number =>
  Number(byFd(t) ? fgetxattr(t.fd, name, buf, size) : lgetxattr(cstr(t), name, buf, size));
const targetShown = (t: XattrTarget): string => (byFd(t) ? t.shown : shown(t));

/** Most files have no xattrs: one call with a reused buffer answers that (a size query first doubles the calls). */
const LIST_BUFFER = Buffer.alloc(64 * 1024);

/** Extended attribute names; [] where unsupported. */
export function listXattrs(target: XattrTarget): string[] {
  let got = listCall(target, LIST_BUFFER, LIST_BUFFER.length);
  let buf = LIST_BUFFER;
  while (got < 0) {
    const e = koffi.errno();
    if (e === ENOTSUP) return [];
    if (e !== ERANGE) throw new PosixError('listxattr', e, targetShown(target));
    const size = listCall(target, null, 0); // larger than 64 KiB: ask for the size
    if (size < 0) throw new PosixError('listxattr', koffi.errno(), targetShown(target));
    buf = Buffer.alloc(size);
    got = listCall(target, buf, size);
  }
  if (got === 0) return [];
  return buf
    .subarray(0, got)
    .toString('utf8')
    .split('\0')
    .filter((n) => n.length > 0);
}

/** The value of one extended attribute, or undefined when it vanished. */
export function getXattr(target: XattrTarget, name: string): Buffer | undefined {
  for (;;) {
    const size = getCall(target, name, null, 0);
    if (size < 0) {
      const e = koffi.errno();
      if (e === ENODATA) return undefined;
      throw new PosixError('getxattr', e, targetShown(target));
    }
    const buf = Buffer.alloc(size);
    if (size === 0) return buf;
    const got = getCall(target, name, buf, size);
    if (got < 0) {
      if (koffi.errno() === ERANGE) continue;
      throw new PosixError('getxattr', koffi.errno(), targetShown(target));
    }
    return buf.subarray(0, got);
  }
}

/** All extended attributes as name → value. */
export function readXattrs(target: XattrTarget): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of listXattrs(target)) {
    const v = getXattr(target, name);
    if (v !== undefined) out.set(name, v);
  }
  return out;
}

export function setXattr(path: CPath, name: string, value: Buffer): void {
  const rc = lsetxattr(cstr(path), name, value, value.length, 0) as number;
  if (rc !== 0) throw new PosixError('lsetxattr', koffi.errno(), shown(path));
}

/** Creates a FIFO, character or block device, or socket node. `mode` includes the S_IF* type bits. */
export function setXattrFd(fd: number, name: string, value: Buffer, shownPath: string): void {
  const rc = fsetxattr(fd, name, value, value.length, 0) as number;
  if (rc !== 0) throw new PosixError('fsetxattr', koffi.errno(), shownPath);
}

export function makeNode(path: CPath, mode: number, rdev: number): void {
  const rc = mknod(cstr(path), mode, BigInt(rdev)) as number;
  if (rc !== 0) throw new PosixError('mknod', koffi.errno(), shown(path));
}

/**
 * Tells the kernel the file's cached pages are not needed again (posix_fadvise DONTNEED): after an
 * fsync they are clean and are dropped. For cold data such as friends' packs, so they do not push
 * the host's own services out of the page cache. Advice only: a failure changes nothing and is
 * ignored.
 */
export function dropFromPageCache(fd: number): void {
  posixFadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

/**
 * Makes the allocator keep memory this process frees for its next allocations, instead of handing
 * it back to the kernel as it goes. Moving packs churns through buffers of 64 KiB to 1 MiB (each
 * transport message is one); by default glibc gives most of them back (unmapped or trimmed) and the
 * next ones fault in fresh pages, which is slow on VMs whose freed memory goes back to the host
 * (free page reporting): on the reference machine, in alternating runs on loopback, replication
 * was about a quarter faster with this and a bare stream about half. Allocations up to 8 MiB come
 * from the heap, and up to 256 MiB free at its top stay there. Tuning only: a libc that refuses
 * changes nothing. Returns whether both were taken.
 */
export function keepFreedMemory(): boolean {
  const mmap = mallopt(M_MMAP_THRESHOLD, 8 * 1024 * 1024) as number;
  const trim = mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024) as number;
  return mmap === 1 && trim === 1;
}

/** One directory entry as getdents64 gives it: the name's exact bytes, and its type when the filesystem tells it. */
export interface DirEntry {
  name: Buffer;
  /** true / false when the filesystem reports the type (d_type), undefined when it does not (DT_UNKNOWN). */
  isDir: boolean | undefined;
}

/** Buffer size of one getdents64 call (the kernel fills whole records into it). */
const DIRENT_BUFFER_BYTES = 64 * 1024;
/** One buffer for every call (readDirFd is synchronous and copies the names out): 64 KiB a directory was most of a walk's garbage by bytes. */
const DIRENT_BUFFER = Buffer.allocUnsafe(DIRENT_BUFFER_BYTES);
/** linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), then the NUL-terminated name. */
const DIRENT_NAME_OFFSET = 19;

/**
 * The entries of the directory open as `fd` ("." and ".." left out), read through that very fd, so
 * the flags it was opened with (O_NOATIME) hold. Reads from the fd's current position to the end.
 */
export function readDirFd(fd: number, shownPath: string): DirEntry[] {
  const buf = DIRENT_BUFFER;
  const out: DirEntry[] = [];
  for (;;) {
    const got = Number(getdents64(fd, buf, buf.length));
    if (got < 0) throw new PosixError('getdents64', koffi.errno(), shownPath);
    if (got === 0) return out;
    for (let off = 0; off < got;) {
      const reclen = buf.readUInt16LE(off + 16);
      if (reclen < DIRENT_NAME_OFFSET + 1 || off + reclen > got) throw new PosixError('getdents64', 5, shownPath); // a record the kernel would never write: EIO
      const type = buf[off + 18] as number;
      const end = buf.indexOf(0, off + DIRENT_NAME_OFFSET);
      const name = Buffer.from(buf.subarray(off + DIRENT_NAME_OFFSET, end < 0 || end > off + reclen ? off + reclen : end));
      off += reclen;
      if ((name.length === 1 && name[0] === 0x2e) || (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e)) continue;
      out.push({ name, isDir: type === DT_UNKNOWN ? undefined : type === DT_DIR });
    }
  }
}

/** The stat fields of an entry, as Node's BigIntStats holds them (its structural subset: a BigIntStats is one). */
export interface EntryStat {
  dev: bigint;
  ino: bigint;
  mode: bigint;
  nlink: bigint;
  uid: bigint;
  gid: bigint;
  rdev: bigint;
  size: bigint;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** statx: AT_SYMLINK_NOFOLLOW, and the fields of STATX_BASIC_STATS | STATX_BTIME (what libuv asks for). */
const STATX_FLAGS = AT_SYMLINK_NOFOLLOW;
const STATX_MASK = 0xfff;
const STATX_BYTES = 256;
/** Errors after which libuv gives up statx for stat (a seccomp filter, an old kernel, a filesystem without it): so do we. */
const STATX_UNSUPPORTED = new Set([1 /* EPERM */, 22 /* EINVAL */, 38 /* ENOSYS */, 95 /* EOPNOTSUPP */]);
let statxWorks = true;
const statxBuf = Buffer.alloc(STATX_BYTES);

/** glibc's makedev, as libuv builds st_dev and st_rdev from statx's major and minor numbers. */
function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffn) << 8n) | ((ma & 0xfffff000n) << 32n) | (mi & 0xffn) | ((mi & 0xffffff00n) << 12n);
}

/** A statx timestamp (struct statx_timestamp at `off`) in nanoseconds, as Node's BigIntStats computes it. */
function timeNs(b: Buffer, off: number): bigint {
  return b.readBigInt64LE(off) * NS_PER_S + BigInt(b.readUInt32LE(off + 8));
}

/**
 * lstat of `name` (a string as UTF-8, or exact bytes) in the directory open as `dirFd` (at `path`, for errors): statx(2)
 * relative to that fd, where a path through /proc/self/fd costs the kernel a lookup of its own and
 * Node a BigIntStats. The same values as lstatSync(..., { bigint: true }) gives; undefined where
 * statx is unavailable (the caller uses lstatSync then). Throws PosixError (code ENOENT, ...).
 */
export function lstatAt(dirFd: number, name: CPath, path: string): EntryStat | undefined {
  if (!statxWorks) return undefined;
  const b = statxBuf;
  if ((statx(dirFd, cstr(name), STATX_FLAGS, STATX_MASK, b) as number) !== 0) {
    const e = koffi.errno();
    if (STATX_UNSUPPORTED.has(e)) {
      statxWorks = false;
      return undefined;
    }
    throw new PosixError('lstat', e, displayName(path));
  }
  return {
    dev: makedev(b.readUInt32LE(136), b.readUInt32LE(140)),
    ino: b.readBigUInt64LE(32),
    mode: BigInt(b.readUInt16LE(28)),
    nlink: BigInt(b.readUInt32LE(16)),
    uid: BigInt(b.readUInt32LE(20)),
    gid: BigInt(b.readUInt32LE(24)),
    rdev: makedev(b.readUInt32LE(128), b.readUInt32LE(132)),
    size: b.readBigUInt64LE(40),
    atimeNs: timeNs(b, 64),
    mtimeNs: timeNs(b, 112),
    ctimeNs: timeNs(b, 96),
  };
}
