// Jobs in LevelDB (sublevel `jobs`): one record per run, newest kept, oldest dropped past a cap.
import type { Job } from '../../../protocol/api.js';
import type { Sublevels } from '../state/db.js';

/** Job records kept in total (every source and maintenance together). */
export const MAX_JOBS_KEPT = 2000;
/** Log lines kept per job. */
export const MAX_JOB_LOG_LINES = 200;

export class JobStore {
  private readonly sub: Sublevels['jobs'];

  constructor(sub: Sublevels['jobs']) {
    this.sub = sub;
  }

  async put(job: Job): Promise<void> {
    await this.sub.put(job.id, JSON.stringify(job));
  }

  async get(id: string): Promise<Job | undefined> {
    const v = await this.sub.get(id);
    return v === undefined ? undefined : (JSON.parse(v) as Job);
  }

  /** Newest first. */
  async list(opts: { source?: string; limit?: number } = {}): Promise<Job[]> {
    const out: Job[] = [];
    for await (const v of this.sub.values({ reverse: true })) {
      const j = JSON.parse(v) as Job;
      if (opts.source !== undefined && j.source !== opts.source) continue;
      out.push(j);
      if (out.length >= (opts.limit ?? 100)) break;
    }
    return out;
  }

  /** Jobs a killed agent left "running" become failed; the oldest beyond the cap go. */
  async tidy(nowIso: string): Promise<number> {
    let fixed = 0;
    let n = 0;
    const drop: string[] = [];
    for await (const [k, v] of this.sub.iterator({ reverse: true })) {
      n += 1;
      if (n > MAX_JOBS_KEPT) {
        drop.push(k);
        continue;
      }
      const j = JSON.parse(v) as Job;
      if (j.state === 'running') {
        j.state = 'failed';
        j.error = 'the agent stopped while this job ran';
        j.finishedAt = nowIso;
        await this.put(j);
        fixed += 1;
      }
    }
    if (drop.length > 0) await this.sub.batch(drop.map((key) => ({ type: 'del' as const, key })));
    return fixed;
  }
}
