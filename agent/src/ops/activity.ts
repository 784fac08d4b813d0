// What the running agent has done lately, in memory: outcomes of backups per source and of
// replication rounds. The dashboard, /metrics and the notifier read it; listeners hear each
// outcome as it happens (the notifier sends failures on). Durable history is the job store's.
import type { Clock } from '../util/clock.js';

export interface RunOutcome {
  /** Source name, or the paths of an ad-hoc backup joined with ", ". */
  source: string;
  ok: boolean;
  time: string;
  durationMs: number;
  snapshot: string | null;
  error: string | null;
  /** Whether the scheduler started it (else a person or script did). */
  scheduled: boolean;
  jobId?: string;
}

export interface ReplicationOutcome {
  ok: boolean;
  time: string;
  packs: number;
  underReplicated: number;
  wantedCopies: number;
  problems: string[];
  error: string | null;
}

export type ActivityEvent = { type: 'backup'; run: RunOutcome } | { type: 'replication'; run: ReplicationOutcome };

export class Activity {
  readonly lastRun = new Map<string, RunOutcome>();
  readonly lastSuccess = new Map<string, RunOutcome>();
  readonly failures = new Map<string, number>();
  readonly successes = new Map<string, number>();
  lastReplication: ReplicationOutcome | null = null;
  lastReplicationSuccess: ReplicationOutcome | null = null;
  replicationFailures = 0;
  readonly started: number;
  private readonly listeners = new Set<(e: ActivityEvent) => void>();

  constructor(clock: Clock) {
    this.started = clock.now();
  }

  on(fn: (e: ActivityEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(e: ActivityEvent): void {
    for (const fn of this.listeners) {
      try {
        fn(e);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  backup(run: RunOutcome): void {
    this.lastRun.set(run.source, run);
    const counts = run.ok ? this.successes : this.failures;
    counts.set(run.source, (counts.get(run.source) ?? 0) + 1);
    if (run.ok) this.lastSuccess.set(run.source, run);
    this.emit({ type: 'backup', run });
  }

  replication(run: ReplicationOutcome): void {
    this.lastReplication = run;
    if (run.ok) this.lastReplicationSuccess = run;
    else this.replicationFailures += 1;
    this.emit({ type: 'replication', run });
  }
}

/** The name a backup is grouped under: its configured source, else its sorted paths. */
export function sourceKey(s: { source?: string | undefined; paths: string[] }): string {
  return s.source ?? [...s.paths].sort().join(', ');
}

/** The name an ad-hoc backup asked for through the API is grouped under: its volumes (as `volume:NAME`) and paths, sorted (as sourceKey sorts a snapshot's). */
export function adHocKey(paths: readonly string[] = [], volumes: readonly string[] = []): string {
  return [...volumes.map((v) => `volume:${v}`), ...paths].sort().join(', ');
}
