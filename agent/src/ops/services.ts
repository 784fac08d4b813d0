// What operations need from the running system, one small interface per need. An operation
// declares the ones it uses (e.g. `RepoDeps & ClockDeps & MaybeMeshDeps`), so what it may lack is
// in its type: an operation that exists only with friends takes `MeshDeps` (the mesh required) and
// its caller checks that the mesh runs (needMesh), once, where the parts meet the operations: the
// API's operation table (api/ops-routes.ts) and the agent's job runners.
//
// The composition root (compose-root.ts) builds them all: `Services` is the whole set, what the API
// and the CLI's in-process mode hand to the operations they run. Its optional parts are absent in
// a CLI command (no scheduler, no activity) or, for the mesh, when it is not started.
import type { CairnConfig, SourceConfig } from '../../../protocol/config.js';
import type { Mesh } from '../mesh/compose.js';
import type { Ledgers } from '../mesh/ledgers.js';
import type { JobStore } from '../scheduler/job-store.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { Repository } from '../repo/repository.js';
import type { Clock } from '../util/clock.js';
import { UsageError } from '../util/errors.js';
import type { Activity } from './activity.js';

/** The open repository. */
export interface RepoDeps {
  repo: Repository;
}

/**
 * The ledgers on the state database (mesh/ledgers.ts: friends, our copies, delete requests, drills,
 * ...), opened by the composition root whether the mesh runs or not: prune queues delete requests,
 * the status reads the last drill, without friends online.
 */
export interface LedgerDeps {
  ledgers: Ledgers;
}

export interface ClockDeps {
  clock: Clock;
}

/** The home directory: files beside the repository (the dashboard's, drill scratch, inspect records, hook state). */
export interface HomeDeps {
  home: string;
}

/** The friend mesh, for an operation that exists only with friends (its caller checks that the mesh runs: needMesh). */
export interface MeshDeps {
  mesh: Mesh;
}

/** The friend mesh when it runs: an operation that also works without friends (a restore reads through them when they are there). */
export interface MaybeMeshDeps {
  mesh?: Mesh;
}

/** The effective config (cairn.yaml plus command-line overrides), current after reloads; forget without a policy uses its sources' retention. */
export interface ConfigDeps {
  config?: () => CairnConfig;
}

/** Called after the snapshot list changed: a snapshot was committed, or forget removed some (the daemon replicates, and sends the new head, soon after). */
export interface ListChangedDeps {
  afterBackup?: () => void;
}

/** The running agent's scheduler and its job records. */
export interface JobDeps {
  scheduler: Scheduler;
  jobs: JobStore;
}

/** What the running agent knows beyond the repository (all absent in a CLI command). */
export interface AgentViewDeps {
  /** Recent outcomes (dashboard, metrics, notifications). */
  activity?: Activity;
  /** The configured sources (cairn.yaml), and when each runs next (the scheduler). */
  sources?: () => SourceConfig[];
  nextRun?: (source: string) => string | null;
  /** Live jobs (a backup under way shows on the dashboard). */
  scheduler?: Scheduler;
  /** The name friends see. */
  agentName?: string;
}

/** Everything the composition root builds, as the API and the CLI's in-process mode hold it. */
export interface Services extends RepoDeps, LedgerDeps, ClockDeps, HomeDeps, MaybeMeshDeps, ConfigDeps, ListChangedDeps, AgentViewDeps {
  /** The agent's job records (absent in the CLI). */
  jobs?: JobStore;
  /** Called after an operation through the API ended (a replication, audit or drill may have changed where copies are): the daemon re-checks each source's 3-2-1 state soon. */
  afterOp?: () => void;
}

/** The error of an operation that only the running agent offers. */
export function agentOnlyError(what: string): UsageError {
  return new UsageError(`${what} needs the running agent: start it with "cairn agent" (or npm start)`, 'E_NO_AGENT');
}

/** The mesh, for an operation that needs it (`what` names the operation in the error when it does not run). */
export function needMesh(svc: MaybeMeshDeps, what: string): Mesh {
  if (!svc.mesh) throw agentOnlyError(what);
  return svc.mesh;
}

/** The scheduler and job records, for an operation that needs them; `missing` is the error when they are absent. */
export function needJobs(svc: { scheduler?: Scheduler; jobs?: JobStore }, missing: () => Error): JobDeps {
  if (!svc.scheduler || !svc.jobs) throw missing();
  return { scheduler: svc.scheduler, jobs: svc.jobs };
}
