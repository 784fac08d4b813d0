// The one place a backup runs, however it was asked for (the CLI in this process, the API, the
// scheduler) and whatever it reads (directories, Docker volumes, standard input): the request is
// assembled (the scheduler's picks its volumes first), it runs under the repository's write lock,
// and, unless it is a dry run, its outcome is recorded as the agent's activity and the watchers of
// the snapshot list are told (the daemon replicates soon). backupOp, volumeBackupOp and
// stdinBackupOp are what runs under the lock; nothing else calls them.
import type { BackupArgs, BackupResult, StdinBackupArgs, VolumeBackupArgs, VolumeBackupResult } from '../../../protocol/api.js';
import type { Archiver } from '../snapshot/archiver.js';
import type { StdinArchiver } from '../snapshot/stdin-archiver.js';
import type { HookLogger } from '../sources/hooks.js';
import { throwIfCancelled } from '../util/errors.js';
import { adHocKey } from './activity.js';
import { backupOp } from './backup.js';
import type { AgentViewDeps, ClockDeps, HomeDeps, ListChangedDeps, RepoDeps } from './services.js';

/** What a backup run needs: the repository, the clock and the home, and whom to tell (the agent's activity record; the daemon's replication after a snapshot). */
export type BackupRunDeps = RepoDeps & ClockDeps & HomeDeps & ListChangedDeps & Pick<AgentViewDeps, 'activity'>;

/** What to back up, and who follows it (`onStart` gets the engine once it runs). */
export type BackupRequest =
  | { kind: 'paths'; args: BackupArgs; onStart?: (a: Archiver) => void }
  | { kind: 'volumes'; args: VolumeBackupArgs; onStart?: (a: Archiver) => void; onLog?: HookLogger }
  | { kind: 'stdin'; args: StdinBackupArgs; input: AsyncIterable<Uint8Array>; onStart?: (a: StdinArchiver) => void };

export type BackupRunResult<R extends BackupRequest> = R extends { kind: 'volumes' } ? VolumeBackupResult : BackupResult;

export interface BackupRunOptions {
  /** Cancels the backup: while it waits for the lock, and then as the engine checks it. */
  signal?: AbortSignal;
  /** The source its activity is recorded under (default: the configured source named in the request, else its ad-hoc key). */
  source?: string;
  /** A run the schedule started (not a person or a script). */
  scheduled?: boolean;
  /** The job it runs as. */
  jobId?: string;
}

function sourceOf(req: BackupRequest): string {
  switch (req.kind) {
    case 'paths':
      return req.args.source ?? adHocKey(req.args.paths);
    case 'volumes':
      return req.args.source ?? adHocKey(req.args.paths, req.args.volumes);
    case 'stdin':
      return adHocKey([`/${req.args.filename}`]);
  }
}

function isDryRun(req: BackupRequest): boolean {
  return req.kind === 'paths' && req.args.dryRun === true;
}

async function perform(svc: BackupRunDeps, req: BackupRequest, signal: AbortSignal | undefined): Promise<BackupResult | VolumeBackupResult> {
  switch (req.kind) {
    case 'paths':
      return backupOp(svc, req.args, req.onStart, signal ? { signal } : {});
    // loaded when first needed: a directory backup does not load Docker's client (dockerode) or the restore path
    case 'volumes':
      return (await import('./volumes.js')).volumeBackupOp(svc, req.args, req.onStart, req.onLog, signal);
    case 'stdin':
      return (await import('./backup-stdin.js')).stdinBackupOp(svc, req.args, req.input, req.onStart);
  }
}

/**
 * Runs one backup: `plan` is the request, or makes it (outside the lock: the scheduler discovers
 * the volumes its label selectors pick); a failure of either is recorded like a failed backup.
 */
export async function runBackup<R extends BackupRequest>(
  svc: BackupRunDeps,
  plan: R | (() => Promise<R>),
  o: BackupRunOptions = {},
): Promise<BackupRunResult<R>> {
  const started = svc.clock.now();
  let req: R | undefined;
  const record = (snapshot: string | null, error: string | null) => {
    const now = svc.clock.now();
    svc.activity?.backup({
      source: o.source ?? (req ? sourceOf(req) : ''),
      ok: error === null,
      time: new Date(now).toISOString(),
      durationMs: now - started,
      snapshot,
      error,
      scheduled: o.scheduled === true,
      ...(o.jobId !== undefined ? { jobId: o.jobId } : {}),
    });
  };
  try {
    req = typeof plan === 'function' ? await plan() : plan;
    const made = req;
    const result = await svc.repo.writeLock.with(1, () => {
      throwIfCancelled(o.signal); // cancelled while it waited for the lock
      return perform(svc, made, o.signal);
    });
    // a dry run stores nothing: no snapshot to record or replicate
    if (!isDryRun(made)) {
      record(result.id, null);
      svc.afterBackup?.();
    }
    return result as BackupRunResult<R>;
  } catch (err) {
    if (!(req && isDryRun(req))) record(null, err instanceof Error ? err.message : String(err));
    throw err;
  }
}
