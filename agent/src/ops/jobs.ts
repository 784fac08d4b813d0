// The scheduler's jobs: run a source now, list jobs, show one (with its log).
import type { Job, JobShowArgs, JobsArgs, RunSourceArgs } from '../../../protocol/api.js';
import { UsageError } from '../util/errors.js';
import type { Services } from './services.js';

function needScheduler(svc: Services) {
  if (!svc.scheduler || !svc.jobs) throw new UsageError('jobs live in the running agent: start it with "cairn agent" (or npm start)', 'E_NO_AGENT');
  return { scheduler: svc.scheduler, jobs: svc.jobs };
}

export async function runSourceOp(svc: Services, args: RunSourceArgs): Promise<Job> {
  return needScheduler(svc).scheduler.runNow(args.source);
}

export async function jobsOp(svc: Services, args: JobsArgs): Promise<Job[]> {
  return needScheduler(svc).jobs.list({ ...(args.source !== undefined ? { source: args.source } : {}), limit: args.limit ?? 50 });
}

export async function jobShowOp(svc: Services, args: JobShowArgs): Promise<Job> {
  const { jobs } = needScheduler(svc);
  const live = svc.scheduler?.liveJob(args.id);
  if (live) return live;
  const j = await jobs.get(args.id);
  if (!j) throw new UsageError(`no job ${args.id}`, 'E_NOT_FOUND');
  return j;
}
