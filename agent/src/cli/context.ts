// What every command gets: global options, and a way to run an operation: through the running
// agent's API when one holds this home, else by opening the home directly (starting a short-lived
// mesh node when the operation needs friends).
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CairnConfig } from '../../../protocol/config.js';
import { configPath, defaultHome } from '../repo/home.js';
import { keepFreedMemory } from '../util/posix.js';
import { openRoot } from '../compose-root.js';
import type { Services } from '../ops/services.js';
import { systemClock, type Clock } from '../util/clock.js';
import { UsageError } from '../util/errors.js';
import { callOp, findAgent } from './agent-client.js';
import { DEFAULT_REPLICAS } from './defaults.js';
import { getPassphrase } from './passphrase.js';
import { noticeIfSlow } from './slow-step.js';
import { useJsonLines } from './format.js';
import type { OperationArgs, OperationName, OperationResult } from '../../../protocol/api.js';

export interface GlobalOptions {
  json?: boolean;
  /** --json-progress: JSON lines, progress events then the result (implies --json). */
  jsonProgress?: boolean;
  debug?: boolean;
  passphraseFile?: string;
  home?: string;
  config?: string;
}

export interface Context {
  home: string;
  json: boolean;
  clock: Clock;
  passphraseFile: string | undefined;
  /** cairn.yaml: --config, else CAIRN_HOME/cairn.yaml (which may be absent: then the defaults). */
  configFile: string;
  configGiven: boolean;
}

export function makeContext(opts: GlobalOptions): Context {
  const home = opts.home ? resolve(opts.home) : defaultHome();
  if (opts.jsonProgress) useJsonLines();
  return {
    home,
    json: opts.json === true || opts.jsonProgress === true,
    clock: systemClock,
    passphraseFile: opts.passphraseFile,
    configFile: opts.config ? resolve(opts.config) : configPath(home),
    configGiven: opts.config !== undefined,
  };
}

async function missing(file: string): Promise<boolean> {
  try {
    await stat(file);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/** The config file as this command sees it (an invalid file fails the command: ConfigError, exit 2). */
export async function configFor(ctx: Context): Promise<CairnConfig> {
  // no config file where one is optional: the defaults, without loading the YAML parser and the schema
  if (!ctx.configGiven && (await missing(ctx.configFile))) return (await import('../config/with-defaults.js')).defaultConfig();
  const { loadConfig } = await import('../config/load.js');
  return loadConfig(ctx.configFile, { optional: !ctx.configGiven });
}

export async function passphraseFor(ctx: Context, confirm = false): Promise<string> {
  return getPassphrase({ home: ctx.home, ...(ctx.passphraseFile ? { passphraseFile: ctx.passphraseFile } : {}), confirm });
}

export interface LocalOptions {
  /** Start a mesh node when the repository has friends (restore from friends). */
  mesh?: boolean;
}

/** A mesh node started by a CLI command listens on an ephemeral loopback port. */
const CLI_MESH_LISTEN = ['/ip4/127.0.0.1/tcp/0'];

export interface JobOptions extends LocalOptions {
  /**
   * The operation stops at safe points when its signal fires: run in this process, Ctrl-C fires it
   * (cli/ctrl-c.ts). What a cancelled one leaves, for the line it ends with (ctrl-c.ts AFTER_CANCEL).
   */
  afterCancel?: string;
}

/** Opens the home directly for the duration of `fn` (through the composition root, as the daemon does), then closes it. */
export async function withServices<T>(ctx: Context, fn: (svc: Services) => Promise<T>, opts: LocalOptions = {}): Promise<T> {
  const config = await configFor(ctx);
  keepFreedMemory(); // this process moves packs: keep freed buffers for the next ones
  const passphrase = await passphraseFor(ctx);
  // Argon2id and loading the index take a moment: said on a terminal when longer than a second
  const opened = noticeIfSlow('unlocking the key file and loading the index');
  try {
    const root = await openRoot({
      home: ctx.home,
      passphrase,
      clock: ctx.clock,
      config: () => config,
      // a mesh node only when the repository has friends (restore from friends)
      ...(opts.mesh
        ? {
            mesh: { onlyWithFriends: true, options: { listen: CLI_MESH_LISTEN, name: 'cli', replicas: DEFAULT_REPLICAS, diskFloorBytes: 0, clock: ctx.clock } },
          }
        : {}),
    });
    try {
      opened();
      return await fn(root.services);
    } finally {
      await root.close();
    }
  } finally {
    opened();
  }
}

/**
 * Operation `name`, one that the agent runs as a job (backup, restore, prune, check, replicate):
 * through the running agent, following the job (progress, Ctrl-C cancels it; cli/job-follow.ts),
 * or in this process by `local` (with `afterCancel`, Ctrl-C fires its signal: cli/ctrl-c.ts).
 * `label` names it on the progress line and in the line a cancel ends with.
 */
export async function runJob<K extends OperationName>(
  ctx: Context,
  name: K,
  args: OperationArgs<K>,
  label: string,
  local: (svc: Services, signal?: AbortSignal) => Promise<OperationResult<K>>,
  opts: JobOptions = {},
): Promise<OperationResult<K>> {
  const agent = await findAgent(ctx.home);
  if (agent) return (await import('./job-follow.js')).followJob<OperationResult<K>>(agent, name, args, label, ctx.clock, opts.afterCancel);
  const afterCancel = opts.afterCancel;
  if (afterCancel === undefined) return withServices(ctx, (svc) => local(svc), opts);
  const { cancelOnCtrlC } = await import('./ctrl-c.js');
  // from before the home is opened: a Ctrl-C while the key file is unlocked cancels too
  return cancelOnCtrlC(label, afterCancel, (signal) => withServices(ctx, (svc) => local(svc, signal), opts));
}

/** Operation `name` of the catalogue (protocol/api.ts): through the running agent's API, or in this process by `local`. */
export async function runOp<K extends OperationName>(
  ctx: Context,
  name: K,
  args: OperationArgs<K>,
  local: (svc: Services) => Promise<OperationResult<K>>,
  opts: LocalOptions = {},
): Promise<OperationResult<K>> {
  const agent = await findAgent(ctx.home);
  if (agent) return callOp<OperationResult<K>>(agent, name, args);
  return withServices(ctx, local, opts);
}

/** The running agent of this home, for an operation only it offers (`what` names the operation in the error when none runs). */
async function needAgent(ctx: Context, what: string): Promise<NonNullable<Awaited<ReturnType<typeof findAgent>>>> {
  const agent = await findAgent(ctx.home);
  if (!agent) throw new UsageError(`${what} needs the running agent: start it with "cairn agent" (or npm start)`, 'E_NO_AGENT');
  return agent;
}

/** Operation `name`, one that only the running agent offers (friends, grants, jobs, drills): through its API. */
export async function agentOp<K extends OperationName>(ctx: Context, name: K, args: OperationArgs<K>, what: string): Promise<OperationResult<K>> {
  return callOp<OperationResult<K>>(await needAgent(ctx, what), name, args);
}

/** Operation `name` that the agent runs as a job and only the agent offers (replication): through its API, following the job as runJob does. */
export async function agentJob<K extends OperationName>(
  ctx: Context,
  name: K,
  args: OperationArgs<K>,
  label: string,
  what: string,
): Promise<OperationResult<K>> {
  const agent = await needAgent(ctx, what);
  return (await import('./job-follow.js')).followJob<OperationResult<K>>(agent, name, args, label, ctx.clock);
}
