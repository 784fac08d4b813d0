// libfiu (Debian fiu-utils): injects failures into libc calls of a process started with its POSIX
// preload library, switched on and off while it runs (fiu-ctrl). Used to make fsync and fdatasync
// fail with EIO, as a failing disk does. Tests that need it FAIL under CI (process.env.CI set)
// when it is missing, and are skipped with the reason otherwise.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describeRequiring } from './requires.js';

const PRELOAD_DIR = '/usr/lib/fiu';
const PRELOADS = [`${PRELOAD_DIR}/fiu_run_preload.so`, `${PRELOAD_DIR}/fiu_posix_preload.so`];
/** fiu's remote-control FIFOs are `<prefix>-<pid>.in/.out`. */
const FIFO_PREFIX = '/tmp/fiu-ctrl';
const EIO = 5;
/** The failure points of a disk whose writes no longer reach the platter. */
export const SYNC_POINTS = ['posix/io/sync/fsync', 'posix/io/sync/fdatasync'];

export function fiuAvailable(): boolean {
  return PRELOADS.every((p) => existsSync(p)) && existsSync('/usr/bin/fiu-ctrl');
}

/** Environment that starts a process (and its children) under libfiu with remote control, nothing enabled yet. */
export function fiuEnv(): Record<string, string> {
  return { LD_PRELOAD: PRELOADS.join(' '), FIU_CTRL_FIFO: FIFO_PREFIX };
}

/** Makes the given failure points of process `pid` fail with EIO (on) or work again (off). */
export function setEio(pid: number, on: boolean, points: string[] = SYNC_POINTS): void {
  for (const name of points)
    execFileSync('fiu-ctrl', ['-f', FIFO_PREFIX, '-c', on ? `enable name=${name},failinfo=${EIO}` : `disable name=${name}`, String(pid)], { timeout: 10_000 });
}

/** describe() for tests that need libfiu: fails in CI without it, skips (saying why) elsewhere. */
export function describeFiu(name: string, fn: () => void): void {
  describeRequiring('libfiu is available', fiuAvailable() ? undefined : `no libfiu at ${PRELOAD_DIR} (apt-get install fiu-utils)`, name, fn);
}
