// What the scheduler's jobs do in the agent: a source's backup (directories, volumes by name or by
// label selector) under the repository write lock with live progress, and forget (each source's
// retention) and prune on the maintenance schedule. Each run is also recorded as activity, so the
// dashboard, the metrics and the failure notifications see scheduled runs.
import type { SourceConfig } from '../../../protocol/config.js';
import { formatBytes, plural } from '../../../protocol/format.js';
import type { JobHandle, Runners } from '../scheduler/scheduler.js';
import { connectDocker, discoverVolumes, selectVolumes } from '../sources/docker.js';
import { UsageError } from '../util/errors.js';
import { backupOp } from './backup.js';
import { followBackup } from './job-progress.js';
import { runDrill } from './drill.js';
import { forgetOp } from './forget.js';
import { pruneOp } from './prune.js';
import type { Services } from './services.js';
import { volumeBackupOp } from './volumes.js';

async function backupSource(svc: Services, source: SourceConfig, job: JobHandle): Promise<{ snapshot?: string }> {
  // the totals come from a scan beside the backup (none for a source with excludes)
  const follow = followBackup(job, source.exclude.length === 0);
  const onStart = follow.onStart;
  let ok = false;
  try {
    let volumes = [...source.volumes];
    if (source.volumeSelectors.length > 0) {
      const picked = selectVolumes(await discoverVolumes(await connectDocker()), source.volumeSelectors);
      job.log(`label selectors ${source.volumeSelectors.join(', ')} picked: ${picked.join(', ') || 'no volume'}`);
      volumes = [...new Set([...volumes, ...picked])];
    }
    if (volumes.length + source.paths.length === 0)
      throw new UsageError(`source ${source.name} has nothing to back up right now (no volume matches ${source.volumeSelectors.join(', ')})`, 'E_EMPTY_SOURCE');
    job.log(`backing up ${[...volumes.map((v) => `volume:${v}`), ...source.paths].join(', ')}`);
    const args = { paths: source.paths, tags: source.tags, source: source.name, ...(source.exclude.length ? { exclude: source.exclude } : {}) };
    const r = await svc.repo.writeLock.with(1, () =>
      volumes.length > 0
        ? volumeBackupOp(
            svc,
            {
              ...args,
              volumes,
              ...(source.consistency ? { consistency: source.consistency } : {}),
              ...(source.volumeRead ? { volumeRead: source.volumeRead } : {}),
            },
            onStart,
            (e) =>
              job.log(`${e.container}: ${e.action}: ${e.message}${e.exitCode !== undefined ? ` (exit ${e.exitCode})` : ''}${e.output ? `\n${e.output}` : ''}`),
            job.signal,
          )
        : backupOp(svc, args, onStart, { signal: job.signal }),
    );
    ok = true;
    job.log(`snapshot ${r.shortId}: ${plural(r.files, 'file')}, ${formatBytes(r.sizeBytes)}, ${formatBytes(r.addedBytes)} new`);
    svc.afterBackup?.();
    return { snapshot: r.id };
  } finally {
    // the finished job carries the totals too (the scan reads no more than the backup did)
    await follow.finish(ok);
  }
}

export function scheduledRunners(svc: Services): Runners {
  return {
    backup: async (source, job) => {
      const started = svc.clock.now();
      const record = (snapshot: string | null, error: string | null) =>
        svc.activity?.backup({
          source: source.name,
          ok: error === null,
          time: new Date(svc.clock.now()).toISOString(),
          durationMs: svc.clock.now() - started,
          snapshot,
          error,
          scheduled: job.job.trigger !== 'manual',
          jobId: job.job.id,
        });
      try {
        const r = await backupSource(svc, source, job);
        record(r.snapshot ?? null, null);
        return r;
      } catch (err) {
        record(null, err instanceof Error ? err.message : String(err));
        throw err;
      }
    },
    forget: async (job) => {
      const r = await svc.repo.writeLock.with(1, () => forgetOp(svc, { dryRun: false }));
      job.log(`forget: ${r.removed} snapshots removed, ${r.kept} kept`);
    },
    prune: async (job) => {
      const r = await svc.repo.writeLock.with(1, () => pruneOp(svc, { dryRun: false }, undefined, job.signal)); // a cancel (agent stop) stops it while it plans
      job.log(`prune: ${plural(r.packsDeleted, 'pack')} deleted, ${r.packsRepacked} repacked, ${formatBytes(r.freedBytes)} given back`);
    },
    ...(svc.mesh
      ? {
          drill: async (job: JobHandle, source: string | null) => {
            const r = await runDrill(svc, job, source);
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
