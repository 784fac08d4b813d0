// What the scheduler's jobs do in the agent: a source's backup (directories, volumes by name or by
// label selector) with live progress, run (under the write lock, recorded as activity, so the
// dashboard, the metrics and the failure notifications see scheduled runs) by ops/run-backup.ts;
// forget (each source's retention) and prune on the maintenance schedule.
import type { SourceConfig } from '../../../protocol/config.js';
import { formatBytes, plural } from '../../../protocol/format.js';
import type { JobHandle, Runners } from '../scheduler/scheduler.js';
import { connectDocker, discoverVolumes, selectVolumes } from '../sources/docker.js';
import type { HookLogger } from '../sources/hooks.js';
import { UsageError } from '../util/errors.js';
import { followBackup } from './job-progress.js';
import { runDrill } from './drill.js';
import { forgetOp } from './forget.js';
import { pruneOp } from './prune.js';
import type { AgentViewDeps, ClockDeps, ConfigDeps, HomeDeps, LedgerDeps, ListChangedDeps, MaybeMeshDeps, RepoDeps } from './services.js';
import { runBackup, type BackupRequest } from './run-backup.js';

/** What the scheduled runs need: the repository and the home, the mesh when it runs (drills), the config (forget), and whom to tell. */
export type ScheduledRunsDeps = RepoDeps & LedgerDeps & ClockDeps & HomeDeps & MaybeMeshDeps & ConfigDeps & ListChangedDeps & Pick<AgentViewDeps, 'activity'>;

/** A source's backup as its job: its volumes picked (label selectors) and backed up with its paths, through runBackup (the lock, the activity record). */
async function backupSource(svc: ScheduledRunsDeps, source: SourceConfig, job: JobHandle): Promise<{ snapshot?: string }> {
  // the totals come from a scan beside the backup (none for a source with excludes)
  const follow = followBackup(job, source.exclude.length === 0);
  const onStart = follow.onStart;
  let ok = false;
  try {
    const plan = async (): Promise<BackupRequest> => {
      let volumes = [...source.volumes];
      if (source.volumeSelectors.length > 0) {
        const picked = selectVolumes(await discoverVolumes(await connectDocker()), source.volumeSelectors);
        job.log(`label selectors ${source.volumeSelectors.join(', ')} picked: ${picked.join(', ') || 'no volume'}`);
        volumes = [...new Set([...volumes, ...picked])];
      }
      if (volumes.length + source.paths.length === 0)
        throw new UsageError(
          `source ${source.name} has nothing to back up right now (no volume matches ${source.volumeSelectors.join(', ')})`,
          'E_EMPTY_SOURCE',
        );
      job.log(`backing up ${[...volumes.map((v) => `volume:${v}`), ...source.paths].join(', ')}`);
      const args = { paths: source.paths, tags: source.tags, source: source.name, ...(source.exclude.length ? { exclude: source.exclude } : {}) };
      if (volumes.length === 0) return { kind: 'paths', args, onStart };
      const onLog: HookLogger = (e) =>
        job.log(`${e.container}: ${e.action}: ${e.message}${e.exitCode !== undefined ? ` (exit ${e.exitCode})` : ''}${e.output ? `\n${e.output}` : ''}`);
      return {
        kind: 'volumes',
        args: {
          ...args,
          volumes,
          ...(source.consistency ? { consistency: source.consistency } : {}),
          ...(source.volumeRead ? { volumeRead: source.volumeRead } : {}),
        },
        onStart,
        onLog,
      };
    };
    const r = await runBackup(svc, plan, { signal: job.signal, source: source.name, scheduled: job.job.trigger !== 'manual', jobId: job.job.id });
    ok = true;
    job.log(`snapshot ${r.shortId}: ${plural(r.files, 'file')}, ${formatBytes(r.sizeBytes)}, ${formatBytes(r.addedBytes)} new`);
    return { snapshot: r.id };
  } finally {
    // the finished job carries the totals too (the scan reads no more than the backup did)
    await follow.finish(ok);
  }
}

export function scheduledRunners(svc: ScheduledRunsDeps): Runners {
  const mesh = svc.mesh;
  return {
    backup: (source, job) => backupSource(svc, source, job),
    forget: async (job) => {
      const r = await svc.repo.writeLock.with(1, () => forgetOp(svc, { dryRun: false }));
      job.log(`forget: ${r.removed} snapshots removed, ${r.kept} kept`);
    },
    prune: async (job) => {
      const r = await svc.repo.writeLock.with(1, () => pruneOp(svc, { dryRun: false }, undefined, job.signal)); // a cancel (agent stop) stops it while it plans
      job.log(`prune: ${plural(r.packsDeleted, 'pack')} deleted, ${r.packsRepacked} repacked, ${formatBytes(r.freedBytes)} given back`);
    },
    ...(mesh
      ? {
          drill: async (job: JobHandle, source: string | null) => {
            const r = await runDrill({ ...svc, mesh }, job, source);
            job.log(
              `drill passed: ${plural(
                r.friends.reduce((n, f) => n + f.packsProved, 0),
                'copy',
                'copies',
              )} at friends proved`,
            );
          },
        }
      : {}),
  };
}
