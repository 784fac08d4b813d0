// A running job's progress, sampled from the engine it drives: a backup's archiver (with the totals
// of a quick scan running alongside, for the percentage and the ETA) or a restore's restorer (the
// snapshot's size as the total). Scheduled and ad-hoc jobs report through these alike.
import type { JobHandle } from '../scheduler/scheduler.js';
import type { Archiver } from '../snapshot/archiver.js';
import type { Restorer } from '../snapshot/restorer.js';
import { scan, type ScanTotals } from '../snapshot/scanner.js';
import type { RestoreTotals } from './restore.js';

/** How often a running job's progress is sampled (for the job, the console and the CLI's stream). */
export const PROGRESS_EVERY_MS = 500;

export interface Follower<E> {
  /** Hand it to the operation as its onStart. */
  onStart: E;
  /** Stops sampling and takes one last sample; `ok`: the operation succeeded (a backup's scan is then let finish, for the totals). */
  finish(ok: boolean): Promise<void>;
}

/**
 * Follows a backup. `scanTotals`: count the source's files and bytes alongside (the scan does not
 * know excludes, so a backup with excludes reports no totals rather than wrong ones).
 */
export function followBackup(job: JobHandle, scanTotals: boolean): Follower<(a: Archiver) => void> {
  let archiver: Archiver | undefined;
  const totals: ScanTotals = { files: 0, bytes: 0, done: false };
  const scanning = new AbortController();
  let scanned: Promise<void> = Promise.resolve();
  const sample = () => {
    const p = archiver?.progress;
    if (p)
      job.progress({
        files: p.filesDone,
        bytes: p.bytesDone,
        currentPath: p.currentPath,
        ...(totals.done ? { totalFiles: totals.files, totalBytes: totals.bytes } : {}),
      });
  };
  const timer = setInterval(sample, PROGRESS_EVERY_MS);
  timer.unref();
  return {
    onStart: (a) => {
      archiver = a;
      if (scanTotals) scanned = scan(a.sourcePaths, totals, scanning.signal).catch(() => undefined);
    },
    finish: async (ok) => {
      clearInterval(timer);
      // a finished backup waits for the scan (it reads no more than the backup did); a failed or
      // cancelled one stops it
      if (!ok) scanning.abort();
      await scanned;
      scanning.abort();
      sample();
    },
  };
}

/** Follows a restore: files and bytes written, and the totals once known (ops/restore.ts RestoreTotals). */
export function followRestore(job: JobHandle): Follower<(r: Restorer, totals: RestoreTotals) => void> {
  let restorer: Restorer | undefined;
  let totals: RestoreTotals | undefined;
  const sample = () => {
    const p = restorer?.progress;
    if (p)
      job.progress({
        files: p.filesDone,
        bytes: p.bytesDone,
        currentPath: p.currentPath,
        ...(totals?.done ? { totalFiles: totals.files, totalBytes: totals.bytes } : {}),
      });
  };
  const timer = setInterval(sample, PROGRESS_EVERY_MS);
  timer.unref();
  return {
    onStart: (r, t) => {
      restorer = r;
      totals = t;
    },
    finish: async () => {
      clearInterval(timer);
      sample();
    },
  };
}
