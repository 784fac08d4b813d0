// The composition root: the one function that builds Cairn's running parts from a home, for the
// daemon (daemon.ts: Agent.start), for a CLI command run in this process (cli/context.ts) and for
// `cairn recover` (cli/commands/recover.ts); `cairn init` and the agent's first start create the
// repository through the same stores (createRepository). It opens the state database (state/db.ts)
// once and hands each part its share: the repository its engine sublevels (with the mesh's reader
// through friends: repo/pack-reader.ts), the mesh and the operations the ledgers (mesh/ledgers.ts),
// the agent's job store its sublevel. It starts the friend mesh when wanted, and for the running
// agent builds the activity record, the job store and the scheduler. Each part gets what it needs
// passed in here; nothing else wires them. `close` stops the mesh, closes the repository, then the
// state database, in that order.
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { CairnConfig } from '../../protocol/config.js';
import type { Mesh, MeshOptions } from './mesh/compose.js';
import { openLedgers, type Ledgers } from './mesh/ledgers.js';
import type { Activity } from './ops/activity.js';
import { checkNewPassphrase } from './ops/passphrase-policy.js';
import type { Services } from './ops/services.js';
import type { PackReader } from './repo/pack-reader.js';
import { Repository, type UnlockedRepo } from './repo/repository.js';
import { engineState, openStateDb, type StateStore } from './state/db.js';
import type { JobStore } from './scheduler/job-store.js';
import type { Scheduler } from './scheduler/scheduler.js';
import type { Clock } from './util/clock.js';

/** The repository and the ledgers, on one state database. */
export interface Stores {
  repo: Repository;
  ledgers: Ledgers;
  /** The state database they share (the agent's job store takes its sublevel). */
  state: StateStore;
  /** Closes the repository, then the state database. */
  close(): Promise<void>;
}

/** The reader besides the local store, when there is one now (the mesh's, while it runs). */
export type OtherReader = () => PackReader | undefined;

/**
 * Opens the stores of `home`: the repository on the state database's engine sublevels, and the
 * ledgers on the same database. A home without a repository is refused before anything is opened.
 * The key file's Argon2id runs while the database opens and the index loads; a wrong passphrase is
 * said before any error of the database (one an agent holds, say), and closes what was opened. A
 * state database not created yet is created only once the passphrase proved right, so a wrong one
 * leaves nothing behind.
 */
export async function openStores(home: string, passphrase: string, reader?: OtherReader): Promise<Stores> {
  const { paths, unlocked } = await Repository.unlocking(home, passphrase);
  if (!existsSync(join(paths.state, 'CURRENT'))) await unlocked;
  return storesOf(unlocked, reader, paths.state);
}

/** A new repository in `home` (E_EXISTS when there is one), from `root` (recovery) or a new root secret, and its stores opened: with its recovery phrase. */
export async function createStores(
  home: string,
  passphrase: string,
  now: Date,
  opts: { root?: Buffer; reader?: OtherReader } = {},
): Promise<{ stores: Stores; recoveryPhrase: string }> {
  const { unlocked, recoveryPhrase } = await Repository.create(home, passphrase, now, opts.root);
  return { stores: await storesOf(unlocked, opts.reader, unlocked.paths.state), recoveryPhrase };
}

/** The stores on the state database in `stateDir`, for a repository unlocked or being unlocked (its error first). */
async function storesOf(unlocked: UnlockedRepo | Promise<UnlockedRepo>, reader: OtherReader | undefined, stateDir: string): Promise<Stores> {
  let state: StateStore;
  try {
    state = await openStateDb(stateDir);
  } catch (err) {
    await unlocked; // a wrong passphrase is the error to say
    throw err;
  }
  let repo: Repository;
  try {
    repo = await Repository.open(unlocked, engineState(state), reader ? { reader } : {});
  } catch (err) {
    await state.db.close();
    throw err;
  }
  return {
    repo,
    ledgers: openLedgers(state.sub),
    state,
    close: async () => {
      try {
        await repo.close();
      } finally {
        await state.db.close();
      }
    },
  };
}

/**
 * `cairn init` and the agent's first start: a new repository in `home` (E_EXISTS when there is one;
 * E_WEAK_PASSPHRASE for a passphrase too easy to guess), opened once and closed: its ID and the
 * recovery phrase of its root secret.
 */
export async function createRepository(home: string, passphrase: string, now: Date): Promise<{ repoId: string; recoveryPhrase: string }> {
  await checkNewPassphrase(passphrase, [hostname()]);
  const { stores, recoveryPhrase } = await createStores(home, passphrase, now);
  await stores.close();
  return { repoId: stores.repo.config.repoId, recoveryPhrase };
}

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
  /** Creates the repository first, from this root secret (`cairn recover`; its passphrase checked by the caller). */
  create?: { root: Buffer };
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
  /** The ledgers on the state database (also in `services`). */
  ledgers: Ledgers;
  /** Present when started (always for the agent; for a CLI command when asked and the repository has friends). */
  mesh: Mesh | undefined;
  /** The agent's scheduler (not started yet), job store and activity; absent for a CLI command. */
  agent: AgentParts | undefined;
  /** What operations are given (ops/services.ts): the parts above, the home, the clock and the config. */
  services: Services;
  /** Stops the mesh, then closes the repository and the state database. */
  close(): Promise<void>;
}

/** What the agent gets: the mesh always started, and its own parts. */
export interface AgentRoot extends Root {
  mesh: Mesh;
  agent: AgentParts;
}

/** Builds the parts for `opts.home`; on a failure, what was started is stopped again. */
export async function openRoot(opts: RootOptions & { mesh: RootMesh & { onlyWithFriends: false }; agent: RootAgent }): Promise<AgentRoot>;
export async function openRoot(opts: RootOptions & { mesh: RootMesh & { onlyWithFriends: false } }): Promise<Root & { mesh: Mesh }>;
export async function openRoot(opts: RootOptions): Promise<Root>;
export async function openRoot(opts: RootOptions): Promise<Root> {
  let mesh: Mesh | undefined;
  // the mesh's reader through friends, for as long as the mesh runs (it starts after this and stops before close)
  const reader = () => mesh?.packGet.activeReader;
  const stores = opts.create
    ? (await createStores(opts.home, opts.passphrase, new Date(opts.clock.now()), { root: opts.create.root, reader })).stores
    : await openStores(opts.home, opts.passphrase, reader);
  const { repo, ledgers } = stores;
  try {
    if (opts.mesh && (!opts.mesh.onlyWithFriends || (await ledgers.friends.any()))) {
      // libp2p is loaded only when a mesh is started
      const start = (await import('./mesh/compose.js')).createMesh(stores, opts.mesh.options);
      mesh = await (opts.mesh.starting ? opts.mesh.starting(start) : start);
    }
    const config = opts.config;
    const services: Services = {
      home: opts.home,
      repo,
      ledgers,
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
      const jobs = new JobStore(stores.state.sub.jobs);
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
      ledgers,
      mesh,
      agent,
      services,
      close: async () => {
        try {
          await started?.stop();
        } finally {
          await stores.close();
        }
      },
    };
  } catch (err) {
    await mesh?.stop().catch(() => undefined);
    await stores.close();
    throw err;
  }
}
