// What an operation needs from the running system: the open repository, the clock, and (when
// the friend mesh is up) the mesh. The CLI builds these for one command; the daemon holds them.
import type { CairnConfig, SourceConfig } from '../../../protocol/config.js';
import type { Mesh } from '../mesh/compose.js';
import type { JobStore } from '../scheduler/job-store.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { Repository } from '../repo/repository.js';
import type { Clock } from '../util/clock.js';
import { UsageError } from '../util/errors.js';
import type { Activity } from './activity.js';

export interface Services {
  home: string;
  repo: Repository;
  clock: Clock;
  mesh?: Mesh;
  /** The effective config (cairn.yaml plus command-line overrides), current after reloads; forget without a policy uses its sources' retention. */
  config?: () => CairnConfig;
  /** Called after the snapshot list changed: a snapshot was committed, or forget removed some (the daemon replicates, and sends the new head, soon after). */
  afterBackup?: () => void;
  /** The running agent's recent outcomes (dashboard, metrics, notifications). */
  activity?: Activity;
  /** The configured sources (cairn.yaml), and when each runs next (the scheduler); absent in the CLI. */
  sources?: () => SourceConfig[];
  nextRun?: (source: string) => string | null;
  /** The agent's scheduler and its job records (absent in the CLI). */
  scheduler?: Scheduler;
  jobs?: JobStore;
  /** The name friends see. */
  agentName?: string;
  /** Called after an operation through the API ended (a replication, audit or drill may have changed where copies are): the daemon re-checks each source's 3-2-1 state soon. */
  afterOp?: () => void;
}

export function needMesh(svc: Services, what: string): Mesh {
  if (!svc.mesh) throw new UsageError(`${what} needs the running agent: start it with "cairn agent" (or npm start)`, 'E_NO_AGENT');
  return svc.mesh;
}
