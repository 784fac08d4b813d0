// cairn drill (and the `drills:` schedule): a restore drill as a job of the agent's scheduler
// (mesh/drill.ts does the drilling). The newest snapshot of each source (or one) is sampled and
// restored from friends' copies alone; the result is recorded per friend and per pack
// (mesh/drill-ledger.ts); a copy that served damaged bytes (or refused) stops counting, as after a
// failed storage challenge, so the next replication round copies the pack again; a failed drill
// fails its job and shows as an error alert naming the friend and the pack.
import { join } from 'node:path';
import type { DrillArgs, DrillResult, DrillStarted } from '../../../protocol/api.js';
import { plural } from '../../../protocol/format.js';
import { Drill, friendCopies, type DrillTarget } from '../mesh/drill.js';
import type { JobHandle } from '../scheduler/scheduler.js';
import { CairnError, UsageError } from '../util/errors.js';
import { sourceKey } from './activity.js';
import {
  agentOnlyError,
  needJobs,
  needMesh,
  type ClockDeps,
  type HomeDeps,
  type JobDeps,
  type LedgerDeps,
  type MaybeMeshDeps,
  type MeshDeps,
  type RepoDeps,
} from './services.js';

/** Where a drill restores its sample (inside the home), deleted before and after every drill. */
export function drillScratchDir(home: string): string {
  return join(home, 'drill-scratch');
}

/** The newest snapshot of each source (or of `only`). */
async function targetsOf(svc: RepoDeps, only: string | null): Promise<DrillTarget[]> {
  const newest = new Map<string, DrillTarget>();
  for (const s of await svc.repo.listSnapshots()) {
    const source = sourceKey(s.snapshot);
    newest.set(source, { source, snapshotId: s.id, snapshot: s.snapshot }); // listed oldest first
  }
  if (only === null) return [...newest.values()];
  const t = newest.get(only);
  if (!t) throw new UsageError(`no snapshot of a source "${only}" (sources: ${[...newest.keys()].join(', ') || 'none'})`, 'E_NOT_FOUND');
  return [t];
}

/** The job's work: drills, records, and fails the job when the drill failed. */
export async function runDrill(svc: MeshDeps & RepoDeps & LedgerDeps & ClockDeps & HomeDeps, job: JobHandle, only: string | null): Promise<DrillResult> {
  const ctx = svc.mesh.ctx;
  if ((await ctx.friends.list()).length === 0) {
    // nothing is off-site to drill (the 3-2-1 status says "not off-site"): asked for, that is an error; on the schedule, a log line
    if (job.job.trigger === 'manual') throw new CairnError('E_NO_FRIENDS', 'no friend holds a copy to drill: pair with a friend first ("cairn invite")');
    job.log('no friends yet: nothing off-site to drill');
    return { jobId: job.job.id, time: new Date(svc.clock.now()).toISOString(), ok: true, sources: [], friends: [], problems: [] };
  }
  // under the write lock: a prune meanwhile would move blobs to other packs and fail the drill falsely
  const result = await svc.repo.writeLock.with(1, async () => {
    const targets = await targetsOf(svc, only);
    if (targets.length === 0) job.log('no snapshot to drill yet');
    const drill = new Drill(svc.repo, await friendCopies(ctx), drillScratchDir(svc.home), () => svc.clock.now());
    const r = await drill.run(targets, job.job.id, (line) => job.log(line));
    const live = new Set<string>();
    for (const [, e] of svc.repo.index.all()) live.add(e.packId);
    await svc.ledgers.drills.record(r, drill.verdicts, live);
    for (const f of r.friends) {
      for (const x of f.failed) {
        // as a failed storage challenge: the record first, then the copy stops counting (mesh/challenger.ts)
        await ctx.challenges.failed({ packId: x.packId, peerId: f.peerId, atMs: svc.clock.now(), reason: `restore drill: ${x.reason}` });
        await ctx.copies.remove(x.packId, f.peerId);
      }
      if (f.failed.length > 0)
        await ctx.friends.addProblem(
          f.peerId,
          `failed a restore drill for ${plural(f.failed.length, 'pack')} (e.g. ${f.failed[0]?.packId.slice(0, 12) ?? ''}): they no longer count as copies there and are copied again`,
        );
    }
    return r;
  });
  const bytes = result.sources.reduce((n, s) => n + s.sampledBytes, 0);
  job.progress({ files: result.sources.reduce((n, s) => n + s.wholeFiles + s.fileParts, 0), bytes });
  if (!result.ok) throw new CairnError('E_DRILL_FAILED', `restore drill failed: ${result.problems.join('; ')}`);
  return result;
}

/** A drill now, as a job of the agent's scheduler (the API's table checks the mesh runs, then that there is a scheduler: drillDeps). */
export async function drillOp(svc: RepoDeps & LedgerDeps & JobDeps, args: DrillArgs): Promise<DrillStarted> {
  if (args.source !== undefined) await targetsOf(svc, args.source); // a wrong source: an answer now, not a failed job
  const { job, finished } = await svc.scheduler.drillNow(args.source ?? null);
  if (!args.wait) return { job, result: null };
  await finished;
  const done = (await svc.jobs.get(job.id)) ?? job;
  const last = await svc.ledgers.drills.last();
  return { job: done, result: last?.jobId === job.id ? last : null };
}

/** What a drill asked for through the API needs, checked in the order the operation always has: the mesh, then the scheduler. */
export function drillDeps<S extends RepoDeps & LedgerDeps & MaybeMeshDeps & Partial<JobDeps>>(svc: S): RepoDeps & LedgerDeps & JobDeps {
  needMesh(svc, 'a restore drill');
  return { repo: svc.repo, ledgers: svc.ledgers, ...needJobs(svc, () => agentOnlyError('a restore drill')) };
}

/** The last drill's result (or undefined before the first). */
export async function lastDrill(svc: LedgerDeps): Promise<DrillResult | undefined> {
  return svc.ledgers.drills.last();
}
