// Filling a (small, test-mounted) filesystem on purpose, for the disk-full tests and the fault
// campaign: a filler file grows until only `leaveBytes` are free, or the disk says ENOSPC.
import { spawnSync } from 'node:child_process';
import { open, statfs } from 'node:fs/promises';

const MIB = 1024 * 1024;

/** Bytes free for an unprivileged writer on the filesystem holding `path`. */
export async function freeBytes(path: string): Promise<number> {
  const s = await statfs(path);
  return s.bavail * s.bsize;
}

/** Creates `path` and writes zeros into it until only `leaveBytes` are free (0: until ENOSPC); at most 100 GiB. */
export async function fill(path: string, leaveBytes: number): Promise<void> {
  const fh = await open(path, 'wx');
  const chunk = Buffer.alloc(MIB);
  try {
    for (let i = 0; i < 100_000; i++) {
      const want = Math.min(chunk.length, (await freeBytes(path)) - leaveBytes);
      if (want <= 0) return;
      try {
        await fh.write(chunk, 0, want);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return;
        throw err;
      }
    }
  } finally {
    await fh.close();
  }
}

/** Mounts a tmpfs of `sizeMiB` on `dir` (needs root); null when mounted, else why not. */
export function mountTmpfs(dir: string, sizeMiB: number): string | null {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
  return r.status === 0 ? null : `mount -t tmpfs failed: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`;
}

/** Unmounts `dir`, lazily if something still holds it. */
export function unmount(dir: string): void {
  if (spawnSync('umount', [dir]).status !== 0) spawnSync('umount', ['-l', dir]);
}
