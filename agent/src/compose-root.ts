// The composition root: the one function that builds Cairn's running parts from a home, for the
// daemon (daemon.ts: Agent.start) and for a CLI command run in this process (cli/context.ts). It
// opens the repository, handing it the mesh's reader through friends (repo/pack-reader.ts) rather
// than the mesh attaching itself; starts the friend mesh when wanted; and for the running agent
// builds the activity record, the job store and the scheduler. Each part gets what it needs passed
// in here; nothing else wires them. `close` stops the mesh and closes the repository, in that order.
import type { CairnConfig } from '../../protocol/config.js';
import type { Mesh, MeshOptions } from './mesh/compose.js';
import { Friends } from './mesh/friend-ledger.js';
import type { Activity } from './ops/activity.js';
import type { Services } from './ops/services.js';
import { Repository } from './repo/repository.js';
import type { JobStore } from './scheduler/job-store.js';
import type { Scheduler } from './scheduler/scheduler.js';
import type { Clock } from './util/clock.js';

/** The friend mesh to start: always (`onlyWithFriends` false: the agent), or only when the repository has friends (a CLI command that may restore from them). */
export interface RootMesh {
  options: MeshOptions;
  onlyWithFriends: boolean;
  /** Sees the mesh's start (the daemon turns a port in use into one line). */
  starting?: (start: Promise<Mesh>) => Promise<Mesh>;
}

/** The running agent's parts to build: activity, job store, scheduler (not started). */
export interface RootAgent {
  name: string;
  log: (line: string) => void;
  /** After the snapshot list changed (the daemon replicates soon). */
  afterBackup: () => void;
  /** After an operation through the API ended (the daemon re-checks the 3-2-1 states). */
  afterOp: () => void;
}

export interface RootOptions {
  home: string;
  passphrase: string;
  clock: Clock;
  /** The effective config (cairn.yaml plus overrides), current after reloads; absent: none loaded (an agent started without one). */
  config?: () => CairnConfig;
  /** None when absent. */
  mesh?: RootMesh;
  /** Absent for a CLI command. */
  agent?: RootAgent;
}

export interface AgentParts {
  scheduler: Scheduler;
  jobs: JobStore;
  activity: Activity;
}

export interface Root {
  repo: Repository;
  /** Present when started (always for the agent; for a CLI command when asked and the repository has friends). */
  mesh: Mesh | undefined;
  /** The agent's scheduler (not started yet), job store and activity; absent for a CLI command. */
  agent: AgentParts | undefined;
  /** What operations are given (ops/services.ts): the parts above, the home, the clock and the config. */
  services: Services;
  /** Stops the mesh, then closes the repository. */
  close(): Promise<void>;
}

/** What the agent gets: the mesh always started, and its own parts. */
export interface AgentRoot extends Root {
  mesh: Mesh;
  agent: AgentParts;
}

/** Builds the parts for `opts.home`; on a failure, what was started is stopped again. */
export async function openRoot(opts: RootOptions & { mesh: RootMesh & { onlyWithFriends: false }; agent: RootAgent }): Promise<AgentRoot>;
export async function openRoot(opts: RootOptions): Promise<Root>;
export async function openRoot(opts: RootOptions): Promise<Root> {
  let mesh: Mesh | undefined;
  // the mesh's reader through friends, for as long as the mesh runs (it starts after this and stops before close)
  const repo = await Repository.open(opts.home, opts.passphrase, { reader: () => mesh?.packGet.activeReader });
  try {
    if (opts.mesh && (!opts.mesh.onlyWithFriends || (await new Friends(repo.state).any()))) {
      // libp2p is loaded only when a mesh is started
      const start = (await import('./mesh/compose.js')).createMesh(repo, opts.mesh.options);
      mesh = await (opts.mesh.starting ? opts.mesh.starting(start) : start);
    }
    const config = opts.config;
    const services: Services = {
      home: opts.home,
      repo,
      clock: opts.clock,
      ...(mesh ? { mesh } : {}),
      ...(config ? { config } : {}),
    };
    let agent: AgentParts | undefined;
    if (opts.agent) {
      // the agent's parts are loaded only for the agent (a CLI command starts faster without them)
      const [{ Activity }, { scheduledRunners }, { JobStore }, { Scheduler }, { systemTimers }] = await Promise.all([
        import('./ops/activity.js'),
        import('./ops/scheduled-runs.js'),
        import('./scheduler/job-store.js'),
        import('./scheduler/scheduler.js'),
        import('./util/timers.js'),
      ]);
      const a = opts.agent;
      const jobs = new JobStore(repo.state.jobs);
      const activity = new Activity(opts.clock);
      const scheduler = new Scheduler(jobs, systemTimers, scheduledRunners(services), a.log);
      agent = { scheduler, jobs, activity };
      Object.assign(services, {
        ...(config ? { sources: () => config().sources } : {}),
        activity,
        agentName: a.name,
        scheduler,
        jobs,
        nextRun: (source: string) => {
          const t = scheduler.nextRun(source);
          return t === null ? null : new Date(t).toISOString();
        },
        afterBackup: a.afterBackup,
        afterOp: a.afterOp,
      } satisfies Partial<Services>);
    }
    const started = mesh;
    return {
      repo,
      mesh,
      agent,
      services,
      close: async () => {
        try {
          await started?.stop();
        } finally {
          await repo.close();
        }
      },
    };
  } catch (err) {
    await mesh?.stop().catch(() => undefined);
    await repo.close();
    throw err;
  }
}
