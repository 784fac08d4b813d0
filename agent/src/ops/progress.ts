// What the operations show their callers while they run, for the CLI's progress lines: the CLI sees a
// running backup or restore only as its progress counters, and never imports the engine's classes.
import type { Archiver } from '../snapshot/archiver.js';
import type { Restorer } from '../snapshot/restorer.js';

/** A backup in progress, as backupOp and volumeBackupOp hand it to `onStart`. */
export type RunningBackup = Pick<Archiver, 'progress'>;
/** A restore in progress, as restoreOp and volumeRestoreOp hand it to `onStart`. */
export type RunningRestore = Pick<Restorer, 'progress'>;
export type { PruneProgress } from '../repo/prune.js';
/** The pre-scan that counts files and bytes below the paths, for the progress line's totals. */
export { scan, type ScanTotals } from '../snapshot/scanner.js';
