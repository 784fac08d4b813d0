// Operations asked for through the API that run as jobs (Scheduler.adHoc): backup, restore,
// replicate, prune and check, each with its job's progress, log lines and cancel signal. The
// route (api/ops-routes.ts) starts them; the same store, events and log as the scheduled runs.
import { adHocKey } from './activity.js';
import type {
  BackupArgs,
  BackupResult,
  CheckArgs,
  JobKind,
  OperationName,
  PruneArgs,
  ReplicateArgs,
  RestoreArgs,
  VolumeBackupArgs,
  VolumeRestoreArgs,
} from '../../../protocol/api.js';
import { formatBytes, plural } from '../../../protocol/format.js';
import type { JobHandle } from '../scheduler/scheduler.js';
import { CairnError, throwIfCancelled } from '../util/errors.js';
import { checkOp } from './check.js';
import { replicateOp } from './friends.js';
import { followBackup, followRestore } from './job-progress.js';
import { pruneOp } from './prune.js';
import { restoreOp } from './restore.js';
import { needMesh, type ClockDeps, type HomeDeps, type LedgerDeps, type MaybeMeshDeps, type RepoDeps } from './services.js';
import { runBackup } from './run-backup.js';
import { volumeRestoreOp } from './volumes.js';

/** What the operations run as jobs need (a replication: the mesh, checked when it runs). */
export type JobOpDeps = RepoDeps & LedgerDeps & ClockDeps & HomeDeps & MaybeMeshDeps;

/** The operations that run as jobs, and the job kind each is. */
export const JOB_KINDS: Partial<Record<OperationName, JobKind>> = {
  backup: 'backup',
  volumeBackup: 'backup',
  restore: 'restore',
  volumeRestore: 'restore',
  replicate: 'replicate',
  prune: 'prune',
  check: 'check',
};

/** The operations that take the repository's write lock themselves, and record their outcome (ops/run-backup.ts): the route must not hold it for them. */
export const LOCKS_ITSELF: ReadonlySet<OperationName> = new Set<OperationName>(['backup', 'volumeBackup']);

/** A job's source (a backup's configured source, if named) and what it works on, for people. */
export function jobSubject(name: OperationName, body: unknown): { source: string | null; label: string } {
  const b = body as { source?: string; paths?: string[]; volumes?: string[]; snapshot?: string; target?: string; volume?: string; dryRun?: boolean };
  const dry = b.dryRun === true ? ' (dry run)' : '';
  switch (name) {
    case 'backup':
    case 'volumeBackup':
      // an ad-hoc backup's source is its path set, as the dashboard groups it (a dry run stores nothing: none)
      return {
        source: b.source ?? (dry ? null : adHocKey(b.paths, b.volumes)),
        label: [...(b.volumes ?? []).map((v) => `volume:${v}`), ...(b.paths ?? [])].join(', ') + dry,
      };
    case 'restore':
      return { source: null, label: `snapshot ${b.snapshot ?? ''} to ${b.target ?? ''}${dry}` };
    case 'volumeRestore':
      return { source: null, label: `snapshot ${b.snapshot ?? ''} to volume ${b.volume ?? ''}${dry}` };
    default:
      return { source: null, label: `${name}${dry}` };
  }
}

const hookLine = (job: JobHandle) => (e: { container: string; action: string; message: string; exitCode?: number; output?: string }) =>
  job.log(`${e.container}: ${e.action}: ${e.message}${e.exitCode !== undefined ? ` (exit ${e.exitCode})` : ''}${e.output ? `\n${e.output}` : ''}`);

/** Runs operation `name` (one of JOB_KINDS) for `job`; the caller holds the write lock when the operation needs it, except a backup's (LOCKS_ITSELF). */
export async function runJobOp(svc: JobOpDeps, name: OperationName, body: unknown, job: JobHandle): Promise<unknown> {
  // cancelled while it waited (for the write lock); a backup checks once it has the lock, and records it
  if (!LOCKS_ITSELF.has(name)) throwIfCancelled(job.signal);
  const signal = job.signal;
  switch (name) {
    case 'backup':
    case 'volumeBackup': {
      const args = body as BackupArgs & VolumeBackupArgs;
      const follow = followBackup(job, !args.exclude?.length);
      let ok = false;
      try {
        job.log(`backing up ${jobSubject(name, body).label}`);
        // the route does not hold the lock for a backup: runBackup takes it (and records the outcome)
        const run = { signal, jobId: job.job.id };
        const r: BackupResult =
          name === 'backup'
            ? await runBackup(svc, { kind: 'paths', args, onStart: follow.onStart }, run)
            : await runBackup(svc, { kind: 'volumes', args, onStart: follow.onStart, onLog: hookLine(job) }, run);
        ok = true;
        job.log(
          r.dryRun
            ? `dry run: ${plural(r.files, 'file')}, ${formatBytes(r.sizeBytes)}; would add ${formatBytes(r.addedBytes)}`
            : `snapshot ${r.shortId}: ${plural(r.files, 'file')}, ${formatBytes(r.sizeBytes)}, ${formatBytes(r.addedBytes)} new`,
        );
        return r;
      } finally {
        await follow.finish(ok);
      }
    }
    case 'restore':
    case 'volumeRestore': {
      const follow = followRestore(job);
      let ok = false;
      try {
        job.log(`restoring ${jobSubject(name, body).label}`);
        const r =
          name === 'restore'
            ? await restoreOp(svc, body as RestoreArgs, follow.onStart, signal)
            : await volumeRestoreOp(svc, body as VolumeRestoreArgs, follow.onStart, hookLine(job), signal);
        ok = true;
        const errors = 'errors' in r ? r.errors.length : 0;
        job.log(`restored ${plural(r.files, 'file')}, ${formatBytes(r.bytes)}${errors > 0 ? `; ${plural(errors, 'error')}` : ''}`);
        return r;
      } finally {
        await follow.finish(ok);
      }
    }
    case 'prune': {
      const r = await pruneOp(svc, body as PruneArgs, (p) => job.progress({ files: p.done, totalFiles: p.total, currentPath: p.phase }), signal);
      job.log(`prune: ${plural(r.packsDeleted, 'pack')} deleted, ${r.packsRepacked} repacked, ${formatBytes(r.freedBytes)} given back`);
      return r;
    }
    case 'check': {
      // check only reads: a cancel stops it before the next pack
      const r = await checkOp(svc, body as CheckArgs, (done, total) => {
        throwIfCancelled(signal);
        job.progress({ files: done, totalFiles: total, currentPath: 'reading packs' });
      });
      job.log(`check: ${r.ok ? 'no errors' : plural(r.problems.filter((p) => p.severity === 'error').length, 'error')}, ${plural(r.packsRead, 'pack')} read`);
      return r;
    }
    case 'replicate': {
      const r = await replicateOp({ mesh: needMesh(svc, 'replication') }, body as ReplicateArgs, signal);
      job.log(`replicate: ${plural(r.pushed, 'pack')} pushed (${formatBytes(r.pushedBytes)}), ${r.underReplicated} under-replicated`);
      return r;
    }
    default:
      throw new CairnError('E_INTERNAL', `operation ${name} does not run as a job`);
  }
}
