// Jobs in LevelDB (sublevel `jobs`): one record per run; each source (and each maintenance kind)
// keeps its newest MAX_JOBS_PER_SOURCE, so a source on a seconds schedule cannot push out the
// history of the others.
import type { Job } from '../../../protocol/api.js';
import type { Sublevels } from '../state/db.js';

/** Job records kept per source (maintenance jobs: per kind). */
export const MAX_JOBS_PER_SOURCE = 200;
/** Log lines kept per job. */
export const MAX_JOB_LOG_LINES = 200;

export class JobStore {
  private readonly sub: Sublevels['jobs'];
  private readonly perSource: number;

  /** `perSource`: records kept per source (tests of long histories raise it). */
  constructor(sub: Sublevels['jobs'], perSource = MAX_JOBS_PER_SOURCE) {
    this.sub = sub;
    this.perSource = perSource;
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

  /** Jobs a killed agent left "running" become failed ("the agent stopped"); then the history is trimmed. */
  async tidy(nowIso: string): Promise<number> {
    let fixed = 0;
    for await (const v of this.sub.values()) {
      const j = JSON.parse(v) as Job;
      if (j.state !== 'running') continue;
      j.state = 'failed';
      j.error = 'the agent stopped while this job ran';
      j.finishedAt = nowIso;
      await this.put(j);
      fixed += 1;
    }
    await this.trim();
    return fixed;
  }

  /** Drops the oldest records of every source (maintenance: of every kind) beyond the cap (MAX_JOBS_PER_SOURCE). */
  async trim(): Promise<number> {
    const seen = new Map<string, number>();
    const drop: string[] = [];
    for await (const [k, v] of this.sub.iterator({ reverse: true })) {
      const j = JSON.parse(v) as Job;
      const group = j.source ?? `(${j.kind})`;
      const n = (seen.get(group) ?? 0) + 1;
      seen.set(group, n);
      if (n > this.perSource) drop.push(k);
    }
    if (drop.length > 0) await this.sub.batch(drop.map((key) => ({ type: 'del' as const, key })));
    return drop.length;
  }
}
