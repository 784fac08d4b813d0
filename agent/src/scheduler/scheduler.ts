// The scheduler: each configured source runs at its cron slots, forget and prune at theirs. A run
// never overlaps itself (a slot that comes while the previous run still works is recorded as
// skipped, with the reason); a failed run is retried with backoff (1, 2, 4 … minutes) as long as the
// retry starts before the next slot. Every run is a job (job-store.ts) with a log and progress,
// announced on `events` as it changes; so is an operation asked for through the API (adHoc: a CLI
// backup or restore through the agent, the console's restore). Any running job can be cancelled:
// its handle's AbortSignal fires and the work stops at its next safe point (state "cancelled"). Time comes from injected timers, so a fake clock can drive it.
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { JOB_RESULT_MAX_LIST_ITEMS, type Job, type JobKind, type JobProgress, type JobTrigger } from '../../../protocol/api.js';
import type { CairnConfig, SourceConfig } from '../../../protocol/config.js';
import { CairnError, CancelledError, errorMessage, UsageError } from '../util/errors.js';
import type { Timers } from '../util/timers.js';
import { plural } from '../../../protocol/format.js';
import { nextFire, parseCron, type CronSpec } from './cron.js';
import { MAX_JOB_LOG_LINES, type JobStore } from './job-store.js';

/** Retries after a failure: waits of 1, 2, 4, 8 minutes (never past the next slot). */
export const RETRY_BASE_MS = 60_000;
export const MAX_ATTEMPTS = 5;
/** The history is trimmed (job-store.ts MAX_JOBS_PER_SOURCE) after this many finished jobs, so it stays bounded while the agent runs. */
const TRIM_EVERY = 25;

/** What a running job can report. */
export interface JobHandle {
  readonly job: Job;
  /** Fires when the job is cancelled; its reason is a CancelledError. The work checks it at safe points. */
  readonly signal: AbortSignal;
  log(line: string): void;
  progress(p: Partial<JobProgress>): void;
}

/** Does the work of a job; resolves with the snapshot a backup made (if any). */
export interface Runners {
  backup(source: SourceConfig, job: JobHandle): Promise<{ snapshot?: string }>;
  forget(job: JobHandle): Promise<void>;
  prune(job: JobHandle): Promise<void>;
  /** A restore drill (SPEC 13.11) of one source, or of every source when null. */
  drill?(job: JobHandle, source: string | null): Promise<void>;
}

/** The parts of the config the scheduler follows. */
export type ScheduleConfig = Pick<CairnConfig, 'sources' | 'maintenance'> & Partial<Pick<CairnConfig, 'drills'>>;

export type JobEvent = { type: 'created' | 'progress' | 'log' | 'finished'; job: Job };

interface Slot {
  key: string;
  kind: JobKind;
  source: SourceConfig | null;
  cron: CronSpec;
  next: number | null;
  cancel?: () => void;
}

/** A result as a job keeps it: its top-level lists cut to JOB_RESULT_MAX_LIST_ITEMS, the cut ones named in `truncated`. */
export function storedResult(result: unknown): unknown {
  if (result === null || typeof result !== 'object' || Array.isArray(result)) return result;
  const out: Record<string, unknown> = {};
  const cut: string[] = [];
  for (const [k, v] of Object.entries(result)) {
    if (Array.isArray(v) && v.length > JOB_RESULT_MAX_LIST_ITEMS) {
      out[k] = v.slice(0, JOB_RESULT_MAX_LIST_ITEMS);
      cut.push(k);
    } else out[k] = v;
  }
  return cut.length > 0 ? { ...out, truncated: cut } : out;
}

/** How long an agent that is stopping waits for its cancelled jobs to reach their safe points (compose gives 30 s before SIGKILL). */
export const STOP_GRACE_MS = 20_000;
/** Why a job was cancelled when the agent stops (its error reads "cancelled because the agent is stopping"). */
const STOPPING = 'because the agent is stopping';

const MAINTENANCE = { forget: '(forget)', prune: '(prune)', drill: '(drill)' } as const;

export class Scheduler {
  readonly events = new EventEmitter();
  private readonly store: JobStore;
  private readonly timers: Timers;
  private readonly runners: Runners;
  private readonly log: (line: string) => void;
  private readonly slots = new Map<string, Slot>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly retries = new Map<string, () => void>();
  private readonly live = new Map<string, Job>();
  /** Running jobs' cancel switches and handles, by job ID. */
  private readonly cancels = new Map<string, { abort: AbortController; handle: JobHandle }>();
  private sources: SourceConfig[] = [];
  private seq = 0;
  private finishedSinceTrim = 0;
  /** Slots, retries and job endings being recorded right now (see idle()). */
  private readonly bookkeeping = new Set<Promise<unknown>>();
  private stopped = false;
  /** Jobs being recorded as they start (begin()), not yet running: stop() waits for them too. */
  private readonly beginning = new Set<Promise<void>>();

  constructor(store: JobStore, timers: Timers, runners: Runners, log: (line: string) => void) {
    this.store = store;
    this.timers = timers;
    this.runners = runners;
    this.log = log;
    this.events.setMaxListeners(100);
  }

  /** Marks jobs a killed agent left running as failed; then arms the slots of `config`. */
  async start(config: ScheduleConfig): Promise<void> {
    const fixed = await this.store.tidy(new Date(this.timers.now()).toISOString());
    if (fixed > 0) this.log(`scheduler: ${fixed} job(s) were running when the agent stopped: marked failed`);
    this.update(config);
  }

  /** Applies a (re)loaded config: changed schedules re-arm; running jobs go on untouched. */
  update(config: ScheduleConfig): void {
    this.sources = config.sources;
    const wanted = new Map<string, { kind: JobKind; source: SourceConfig | null; expr: string }>();
    for (const s of config.sources) if (s.schedule) wanted.set(s.name, { kind: 'backup', source: s, expr: s.schedule });
    if (config.maintenance.forgetSchedule) wanted.set(MAINTENANCE.forget, { kind: 'forget', source: null, expr: config.maintenance.forgetSchedule });
    if (config.maintenance.pruneSchedule) wanted.set(MAINTENANCE.prune, { kind: 'prune', source: null, expr: config.maintenance.pruneSchedule });
    if (config.drills?.schedule) wanted.set(MAINTENANCE.drill, { kind: 'drill', source: null, expr: config.drills.schedule });
    for (const [key, slot] of this.slots) {
      const w = wanted.get(key);
      if (!w || w.expr !== slot.cron.expr || JSON.stringify(w.source) !== JSON.stringify(slot.source)) {
        slot.cancel?.();
        this.slots.delete(key);
      }
    }
    for (const [key, w] of wanted) {
      if (this.slots.has(key)) continue;
      const slot: Slot = { key, kind: w.kind, source: w.source, cron: parseCron(w.expr), next: null };
      this.slots.set(key, slot);
      this.arm(slot);
    }
  }

  /** When a source (or "(forget)", "(prune)") runs next, by its schedule. */
  nextRun(key: string): number | null {
    return this.slots.get(key)?.next ?? null;
  }

  /** A job still running, with its live progress and log. */
  liveJob(id: string): Job | undefined {
    return this.live.get(id);
  }

  /** Every job running now, with its live progress. */
  liveJobs(): Job[] {
    return [...this.live.values()];
  }

  /**
   * Cancels a running job: its signal fires, and the job ends "cancelled" once its work has stopped
   * at a safe point (a backup commits no snapshot; what it already stored stays for the next run).
   * Returns false when the job is not running (finished, or unknown).
   */
  cancel(id: string, by: string): boolean {
    const c = this.cancels.get(id);
    if (!c) return false;
    if (!c.abort.signal.aborted) {
      c.handle.log(`cancel asked ${by}`);
      c.abort.abort(new CancelledError(`cancelled ${by}`));
    }
    return true;
  }

  /**
   * Runs an operation asked for through the API as a job (trigger "ad-hoc"): the same store, events
   * and log as a scheduled run. Resolves once the job is recorded, with `done`: the operation's
   * result, or its error (a CancelledError when cancelled). Ad-hoc jobs never wait for a source
   * slot: those that write the repository queue on its write lock.
   */
  async adHoc<R>(kind: JobKind, source: string | null, label: string, work: (job: JobHandle) => Promise<R>): Promise<{ job: Job; done: Promise<R> }> {
    let result: { ok: true; value: R } | { ok: false; err: unknown } | undefined;
    let ended: Promise<void> = Promise.resolve();
    const custom = async (handle: JobHandle) => {
      try {
        const value = await work(handle);
        result = { ok: true, value };
        const snapshot = (value as { id?: unknown; dryRun?: unknown } | null)?.id;
        return { result: value, ...(kind === 'backup' && typeof snapshot === 'string' && snapshot !== '' ? { snapshot } : {}) };
      } catch (err) {
        result = { ok: false, err };
        throw err;
      }
    };
    const job = await this.begin(`(ad-hoc ${this.seq})`, kind, null, 'ad-hoc', 1, null, { work: custom, source, label, ended: (p) => (ended = p) });
    const done = ended.then(() => {
      if (!result) throw new CairnError('E_INTERNAL', `job ${job.id} ended without a result`);
      if (!result.ok) throw result.err;
      return result.value;
    });
    return { job, done };
  }

  isRunning(key: string): boolean {
    return this.running.has(key);
  }

  /** Starts a source's backup now (`cairn run`); refuses when it is already running. */
  async runNow(sourceName: string): Promise<Job> {
    const source = this.sources.find((s) => s.name === sourceName);
    if (!source)
      throw new UsageError(`no source "${sourceName}" in the config (known: ${this.sources.map((s) => s.name).join(', ') || 'none'})`, 'E_NO_SOURCE');
    if (this.running.has(source.name)) throw new CairnError('E_BUSY', `source ${source.name} is already running: a run never overlaps itself`);
    return this.begin(source.name, 'backup', source, 'manual', 1);
  }

  /**
   * Starts a restore drill now (`cairn drill`) of one source or all; refuses while one runs (drills
   * never overlap). `finished` resolves once the job has ended and is recorded.
   */
  async drillNow(source: string | null): Promise<{ job: Job; finished: Promise<void> }> {
    if (this.running.has(MAINTENANCE.drill)) throw new CairnError('E_BUSY', 'a restore drill is already running: drills never overlap');
    const job = await this.begin(MAINTENANCE.drill, 'drill', null, 'manual', 1, source);
    return { job, finished: this.running.get(MAINTENANCE.drill) ?? Promise.resolve() };
  }

  /**
   * Agent stop: no slot, retry or new job starts; every running job (scheduled or ad-hoc) is
   * cancelled (its work stops at its next safe point: a backup commits no snapshot, a restore
   * leaves whole files) and recorded "cancelled because the agent is stopping". Waits for them at
   * most `graceMs`: a job still running then is logged and left (the process ends; the next start
   * marks it failed, scheduler start()).
   */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    this.stopped = true;
    for (const s of this.slots.values()) s.cancel?.();
    for (const c of this.retries.values()) c();
    for (const id of this.cancels.keys()) this.cancel(id, STOPPING);
    const all = (async () => {
      // a job being recorded as it starts is cancelled as soon as it is (begin()), then waited for too
      while (this.running.size > 0 || this.beginning.size > 0) await Promise.allSettled([...this.running.values(), ...this.beginning]);
      return true;
    })();
    let timeout: () => void = () => undefined;
    const late = new Promise<false>((resolve) => (timeout = this.timers.at(this.timers.now() + graceMs, () => resolve(false))));
    const ended = await Promise.race([all, late]);
    timeout();
    if (!ended)
      this.log(
        `scheduler: ${plural(this.live.size, 'job')} still running ${graceMs / 1000} s after the agent was asked to stop ` +
          `(${[...this.live.values()].map((j) => `${j.kind} ${j.id.slice(-6)}`).join(', ')}): stopping without waiting; the next start marks them failed`,
      );
  }

  private arm(slot: Slot): void {
    slot.next = nextFire(slot.cron, this.timers.now());
    if (slot.next === null || this.stopped) return;
    slot.cancel = this.timers.at(slot.next, () => {
      if (this.slots.get(slot.key) !== slot) return;
      void this.track(this.onSlot(slot));
      this.arm(slot);
    });
  }

  private async onSlot(slot: Slot): Promise<void> {
    if (this.running.has(slot.key)) {
      const job = this.newJob(slot.kind, slot.source?.name ?? null, 'schedule', 1);
      job.state = 'skipped';
      job.error = 'the previous run was still running at this slot: a run never overlaps itself';
      job.finishedAt = job.createdAt;
      await this.store.put(job);
      this.emit('finished', job);
      await this.finished();
      return;
    }
    this.retries.get(slot.key)?.(); // a slot supersedes a pending retry
    this.retries.delete(slot.key);
    await this.begin(slot.key, slot.kind, slot.source, 'schedule', 1);
  }

  private newJob(kind: JobKind, source: string | null, trigger: JobTrigger, attempt: number): Job {
    const now = this.timers.now();
    const id = `${now.toString(36).padStart(9, '0')}-${(this.seq++).toString(36).padStart(4, '0')}-${randomBytes(3).toString('hex')}`;
    return {
      id,
      kind,
      source,
      trigger,
      attempt,
      state: 'running',
      createdAt: new Date(now).toISOString(),
      startedAt: null,
      finishedAt: null,
      progress: { files: 0, bytes: 0, bytesPerSec: 0, currentPath: '' },
      log: [],
      snapshot: null,
      error: null,
    };
  }

  private emit(type: JobEvent['type'], job: Job): void {
    this.events.emit('job', { type, job } satisfies JobEvent);
  }

  /** Creates and starts a job; resolves once it is recorded (not when it ends). `custom`: an ad-hoc job's work. */
  private async begin(
    key: string,
    kind: JobKind,
    source: SourceConfig | null,
    trigger: JobTrigger,
    attempt: number,
    drillOf: string | null = null,
    adHoc?: {
      work: (job: JobHandle) => Promise<{ snapshot?: string; result?: unknown }>;
      source: string | null;
      label: string;
      /** Given the job's whole run, which settles once the job has ended and is recorded. */
      ended: (p: Promise<void>) => void;
    },
  ): Promise<Job> {
    if (this.stopped) throw new CairnError('E_STOPPING', `the agent is stopping: no new ${kind} starts; run it again once the agent has started`);
    const job = this.newJob(kind, adHoc ? adHoc.source : (source?.name ?? drillOf), trigger, attempt);
    if (adHoc) job.label = adHoc.label;
    job.startedAt = job.createdAt;
    const cancel = new AbortController();
    const started = this.timers.now();
    const put = this.store.put(job);
    this.beginning.add(put);
    try {
      await put;
    } finally {
      this.beginning.delete(put);
    }
    // the agent began stopping while this job was recorded: it starts cancelled (stops at its first safe point)
    if (this.stopped) cancel.abort(new CancelledError(`cancelled ${STOPPING}`));
    this.live.set(job.id, job);
    this.emit('created', job);
    const handle: JobHandle = {
      job,
      signal: cancel.signal,
      log: (line) => {
        job.log.push(`${new Date(this.timers.now()).toISOString()} ${line}`);
        if (job.log.length > MAX_JOB_LOG_LINES) job.log.splice(0, job.log.length - MAX_JOB_LOG_LINES);
        this.emit('log', job);
      },
      progress: (p) => {
        Object.assign(job.progress, p);
        const secs = (this.timers.now() - started) / 1000;
        job.progress.bytesPerSec = secs > 0 ? Math.round(job.progress.bytes / secs) : 0;
        this.emit('progress', job);
      },
    };
    const work = (async () => {
      try {
        if (adHoc) {
          const r = await adHoc.work(handle);
          job.snapshot = r.snapshot ?? null;
          if (r.result !== undefined) job.result = storedResult(r.result);
        } else if (kind === 'backup' && source) job.snapshot = (await this.runners.backup(source, handle)).snapshot ?? null;
        else if (kind === 'forget') await this.runners.forget(handle);
        else if (kind === 'drill') {
          if (!this.runners.drill) throw new CairnError('E_NO_MESH', 'restore drills need the friend mesh');
          await this.runners.drill(handle, drillOf);
        } else await this.runners.prune(handle);
        job.state = 'succeeded';
      } catch (err) {
        // cancelled: the work stopped because the signal fired (not some other failure met meanwhile)
        const cancelled = cancel.signal.aborted && (err === cancel.signal.reason || err instanceof CancelledError);
        job.state = cancelled ? 'cancelled' : 'failed';
        job.error = errorMessage(err);
        handle.log(`${job.state}: ${job.error}`);
      }
      job.finishedAt = new Date(this.timers.now()).toISOString();
      await this.track(
        (async () => {
          await this.store.put(job).catch((err: unknown) => this.log(`scheduler: recording job ${job.id} failed: ${errorMessage(err)}`));
          this.running.delete(key);
          this.live.delete(job.id);
          this.cancels.delete(job.id);
          this.emit('finished', job);
          if (job.state === 'failed' && trigger !== 'manual' && trigger !== 'ad-hoc') this.maybeRetry(key, kind, source, attempt);
          await this.finished();
        })(),
      );
    })();
    this.running.set(key, work);
    this.cancels.set(job.id, { abort: cancel, handle });
    adHoc?.ended(work);
    return job;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.bookkeeping.add(p);
    const drop = () => this.bookkeeping.delete(p);
    p.then(drop, drop);
    return p;
  }

  /**
   * Resolves once no slot, retry or job ending is being recorded (the jobs' own work aside). A fake
   * clock waits for it before moving on (FakeTimers.waitFor), so a slot's job has called its runner
   * before the next timer fires, however slow the LevelDB write was.
   */
  async idle(): Promise<void> {
    while (this.bookkeeping.size > 0) await Promise.allSettled([...this.bookkeeping]);
  }

  /** Counts a finished job; every TRIM_EVERY, the history is trimmed. */
  private async finished(): Promise<void> {
    if (++this.finishedSinceTrim < TRIM_EVERY) return;
    this.finishedSinceTrim = 0;
    await this.store.trim().catch((err: unknown) => this.log(`scheduler: trimming the job history failed: ${errorMessage(err)}`));
  }

  private maybeRetry(key: string, kind: JobKind, source: SourceConfig | null, attempt: number): void {
    if (this.stopped || attempt >= MAX_ATTEMPTS) return;
    const at = this.timers.now() + RETRY_BASE_MS * 2 ** (attempt - 1);
    const next = this.slots.get(key)?.next;
    if (next !== null && next !== undefined && at >= next) {
      this.log(`scheduler: ${key} failed; no retry before its next slot at ${new Date(next).toISOString()}`);
      return;
    }
    const cancel = this.timers.at(at, () => {
      this.retries.delete(key);
      if (this.running.has(key) || this.stopped) return;
      void this.track(this.begin(key, kind, source, 'retry', attempt + 1));
    });
    this.retries.set(key, cancel);
  }
}
