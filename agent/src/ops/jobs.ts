// The scheduler's jobs: run a source now, list jobs, show one (with its log), cancel one.
import {
  JOB_CANCEL_VIA,
  JOB_SUFFIX_MIN_CHARS,
  type Job,
  type JobCancelArgs,
  type JobShowArgs,
  type JobsArgs,
  type RunSourceArgs,
} from '../../../protocol/api.js';
import { UsageError } from '../util/errors.js';
import { needJobs, type JobDeps } from './services.js';

/** Job records looked through for an ID given by its end (the store keeps 200 a source). */
const SUFFIX_SEARCH_MAX_JOBS = 5000;

/** The scheduler and job records, for the job operations (the API's table calls this before them). */
export function jobsOf(svc: Partial<JobDeps>): JobDeps {
  return needJobs(svc, () => new UsageError('jobs live in the running agent: start it with "cairn agent" (or npm start)', 'E_NO_AGENT'));
}

export async function runSourceOp(svc: JobDeps, args: RunSourceArgs): Promise<Job> {
  return svc.scheduler.runNow(args.source);
}

export async function jobsOp(svc: JobDeps, args: JobsArgs): Promise<Job[]> {
  const { scheduler, jobs } = svc;
  const list = await jobs.list({ ...(args.source !== undefined ? { source: args.source } : {}), limit: args.limit ?? 50 });
  // a running job answers with its live progress
  return list.map((j) => scheduler.liveJob(j.id) ?? j);
}

/** The job `id` names: its full ID, or its end as the console shows it (at least JOB_SUFFIX_MIN_CHARS characters). */
async function findJob(svc: JobDeps, id: string): Promise<Job> {
  const { scheduler, jobs } = svc;
  const live = scheduler.liveJob(id) ?? (await jobs.get(id));
  if (live) return scheduler.liveJob(live.id) ?? live;
  if (id.length >= JOB_SUFFIX_MIN_CHARS) {
    const matches = (await jobs.list({ limit: SUFFIX_SEARCH_MAX_JOBS })).filter((j) => j.id.endsWith(id));
    if (matches.length > 1) throw new UsageError(`job ID ${id} is ambiguous: ${matches.map((j) => j.id).join(', ')}`, 'E_AMBIGUOUS');
    const [only] = matches;
    if (only) return scheduler.liveJob(only.id) ?? only;
  }
  throw new UsageError(`no job ${id}`, 'E_NOT_FOUND');
}

export async function jobShowOp(svc: JobDeps, args: JobShowArgs): Promise<Job> {
  return findJob(svc, args.id);
}

/**
 * Cancels a running job (`cairn jobs cancel`, the console's Cancel, the CLI's Ctrl-C): answers the
 * job at once, still "running" until its work reaches a safe point and it ends "cancelled". A job
 * that has already ended is answered as it is.
 */
export async function jobCancelOp(svc: JobDeps, args: JobCancelArgs): Promise<Job> {
  const job = await findJob(svc, args.id);
  svc.scheduler.cancel(job.id, args.via ? JOB_CANCEL_VIA[args.via] : 'through the API');
  return svc.scheduler.liveJob(job.id) ?? job;
}
