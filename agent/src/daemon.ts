// The running agent: its parts built by the composition root (compose-root.ts: repository, friend
// mesh, scheduler), it starts the local API, replicates after each backup and on an interval, and
// owns start and stop. CAIRN_HOME/agent.json tells the CLI where the API listens and holds its
// token (mode 0600); it is removed on a clean stop.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { ConsoleAuth } from './api/auth.js';
import type { ExtraOp } from './api/ops-routes.js';
import { buildApi } from './api/server.js';
import { consoleTls } from './api/tls.js';
import { Notifier } from './notify/notifier.js';
import type { Activity } from './ops/activity.js';
import { statusOp } from './ops/status.js';
import type { Scheduler } from './scheduler/scheduler.js';
import type { ConfigWatcher } from './config/watch.js';
import { parseConfig } from './config/load.js';
import type { Mesh } from './mesh/compose.js';
import { openRoot, type AgentRoot } from './compose-root.js';
import type { MeshContext } from './mesh/context.js';
import type { Startable } from './mesh/service.js';
import { readSettingsOffer } from './ops/carried-settings.js';
import { agentInfoPath, configPath, notificationsPath, type AgentInfo } from './repo/home.js';
import { recoverStoppedAtStart } from './sources/hooks.js';
import type { CairnConfig } from '../../protocol/config.js';
import type { Clock } from './util/clock.js';
import { CancelledError, errorMessage, UsageError } from './util/errors.js';
import { keepFreedMemory } from './util/posix.js';
import { writeFileAtomic } from './util/fsx.js';

export interface AgentOptions {
  home: string;
  passphrase: string;
  listen: string[];
  /** Addresses friends are told besides the interfaces' (cairn.yaml announce). */
  announce?: string[];
  /** cairn.yaml lan-discovery and port-mapping (both off when absent). */
  lanDiscovery?: boolean;
  portMapping?: boolean;
  /** cairn.yaml stun: STUN servers WebRTC may ask (none when absent: friends' agents answer). */
  stun?: string[];
  /** cairn.yaml webrtc: false leaves WebRTC out. */
  webrtc?: boolean;
  apiHost: string;
  apiPort: number;
  /** console.tls-cert / tls-key (api/tls.ts); beyond loopback a self-signed certificate otherwise. */
  consoleTls?: { certFile?: string; keyFile?: string };
  name: string;
  replicas: number;
  diskFloorBytes: number;
  replicateIntervalMs: number;
  /** Upload limit for replication, bytes per second; 0 = unlimited. */
  bandwidthBytesPerSec: number;
  clock: Clock;
  log: (line: string) => void;
  /** cairn.yaml, kept current; the options above are its effective values at start. */
  config?: ConfigWatcher;
}

/**
 * What an entry point other than `cairn` adds to the agents it starts: the benchmark's agent
 * (bench/sink/agent.ts) adds its sink protocol and the API op that drives it. `cairn` adds nothing.
 */
export interface AgentExtension {
  meshServices?: (ctx: MeshContext) => Startable[];
  ops?: Record<string, ExtraOp>;
}

let extension: AgentExtension = {};

/** Called by such an entry point before the CLI runs: every agent this process starts carries `ext`. */
export function extendAgent(ext: AgentExtension): void {
  extension = ext;
}

/** Delay between a backup and the replication it triggers (coalesces bursts of backups). */
const REPLICATE_AFTER_BACKUP_MS = 1000;
/** How often the alerts (staleness, friends offline) are looked at for notifications. */
const ALERT_CHECK_MS = 5 * 60_000;

/**
 * `start`, which listens on a port: a port in use (libp2p says so in terms of its own settings) or
 * an address not of this machine becomes one line naming the port and what to do.
 */
export async function listening<T>(what: string, instead: string, start: Promise<T>): Promise<T> {
  try {
    return await start;
  } catch (err) {
    const text = `${(err as { code?: string }).code ?? ''} ${errorMessage(err)}`;
    if (/EADDRINUSE|faultTolerance|failed to be listened on/.test(text))
      throw new UsageError(`cannot listen ${what}: the port is in use (another cairn agent, or another service?): stop it, or choose ${instead}`, 'E_LISTEN');
    if (/EADDRNOTAVAIL/.test(text)) throw new UsageError(`cannot listen ${what}: that address is not one of this machine's: choose ${instead}`, 'E_LISTEN');
    throw err;
  }
}

export class Agent {
  readonly info: AgentInfo;
  /** The parts the composition root built (compose-root.ts): repository, mesh, scheduler, services. */
  private readonly root: AgentRoot;
  private readonly mesh: Mesh;
  private readonly api: FastifyInstance;
  private readonly opts: AgentOptions;
  private timer: NodeJS.Timeout | undefined;
  private alerter: NodeJS.Timeout | undefined;
  /** After each of the agent's own replication rounds: the 3-2-1 states are checked again. */
  private afterRound: (() => void) | undefined;
  private activity: Activity | undefined;
  /** The scheduler (jobs, live job events), for the console and tests. */
  scheduler: Scheduler | undefined;
  private replicating: Promise<void> | undefined;
  private again = false;
  /** Fires when the agent stops: its replication round stops between packs (no head goes out). */
  private readonly stopping = new AbortController();
  /** The head (signed snapshot list) sequence number of the last replication round. */
  private headSeq = 0;

  private constructor(opts: AgentOptions, root: AgentRoot, api: FastifyInstance, info: AgentInfo) {
    this.opts = opts;
    this.root = root;
    this.mesh = root.mesh;
    this.api = api;
    this.info = info;
  }

  static async start(opts: AgentOptions): Promise<Agent> {
    keepFreedMemory(); // this process moves packs: keep freed buffers for the next ones
    // before anything starts: a remote console without usable TLS stops here, in one line
    const tls = await consoleTls(opts.home, opts.apiHost, opts.consoleTls ?? {}, new Date(opts.clock.now()));
    const config = opts.config;
    // called by the parts built below once the agent exists (a scheduled backup before that replicates with the first round)
    let agent: Agent | undefined;
    let watchProtection = (): void => undefined;
    const root = await openRoot({
      home: opts.home,
      passphrase: opts.passphrase,
      clock: opts.clock,
      ...(config ? { config: () => config.current } : {}),
      mesh: {
        onlyWithFriends: false,
        starting: (start) =>
          listening(`for friends on ${opts.listen.join(', ')}`, 'another address with --listen /ip4/0.0.0.0/tcp/PORT (or listen: in cairn.yaml)', start),
        options: {
          listen: opts.listen,
          ...(opts.announce && opts.announce.length > 0 ? { announce: opts.announce } : {}),
          lanDiscovery: opts.lanDiscovery === true,
          portMapping: opts.portMapping === true,
          ...(opts.stun && opts.stun.length > 0 ? { stun: opts.stun } : {}),
          webrtc: opts.webrtc !== false,
          log: opts.log,
          name: opts.name,
          replicas: opts.replicas,
          diskFloorBytes: opts.diskFloorBytes,
          clock: opts.clock,
          ...(opts.bandwidthBytesPerSec > 0 ? { bandwidthBytesPerSec: opts.bandwidthBytesPerSec } : {}),
          ...(config
            ? {
                deletionGraceMs: config.current.friends.deletionGraceMs,
                audit: config.current.friends.audit,
                repairAfterMs: config.current.friends.repairAfterMs,
                relayLimits: config.current.relay,
              }
            : {}),
          sweepLog: opts.log,
          ...(extension.meshServices ? { extraServices: extension.meshServices } : {}),
          // each head carries cairn.yaml and notifications.json, sealed (SPEC 13.5): recover brings them back
          settings: () =>
            readSettingsOffer(
              { config: config?.file ?? configPath(opts.home), notifications: notificationsPath(opts.home), checkConfig: parseConfig },
              opts.log,
            ),
        },
      },
      agent: {
        name: opts.name,
        log: opts.log,
        afterBackup: () => agent?.replicateSoon(REPLICATE_AFTER_BACKUP_MS),
        afterOp: () => watchProtection(),
      },
    });
    try {
      const svc = root.services;
      const { mesh } = root;
      const { scheduler, activity } = root.agent;
      const token = randomBytes(24).toString('base64url');
      const auth = await ConsoleAuth.open(opts.home, opts.clock, token, opts.log);
      // changed notification settings go to friends with the next head: a round soon sends it
      let settingsChanged = (): void => undefined;
      const notifier = await Notifier.open({ home: opts.home, clock: opts.clock, agentName: opts.name, log: opts.log, onSaved: () => settingsChanged() });
      notifier.watch(activity);
      await scheduler.start(config?.current ?? { sources: [], maintenance: {} });
      config?.onChange((next) => scheduler.update(next));
      const statusOptions = () => ({ staleAfterMs: notifier.get().staleAfterMs, friendOfflineAfterMs: notifier.get().friendOfflineAfterMs });
      const api = buildApi(
        svc,
        {
          host: opts.apiHost,
          port: opts.apiPort,
          auth,
          hooks: { notifier, ...(config ? { config } : {}) },
          statusOptions,
          ...(tls ? { tls } : {}),
          ...(extension.ops ? { extraOps: extension.ops } : {}),
        },
        () => mesh.peerId,
      );
      const address = await listening(
        `for the console and API on ${opts.apiHost}:${opts.apiPort}`,
        'another with --api HOST:PORT (or console: address: in cairn.yaml)',
        api.listen({ host: opts.apiHost, port: opts.apiPort }),
      );
      if (tls)
        opts.log(
          `console over TLS with ${tls.selfSigned ? 'a self-signed' : 'the configured'} certificate ${tls.certFile}; its SHA-256 fingerprint (compare it with the browser's) is ${tls.fingerprint256}`,
        );
      const info: AgentInfo = {
        api: address,
        token,
        pid: process.pid,
        peerId: mesh.peerId,
        addrs: mesh.addresses(),
        ...(tls ? { tls: { certPem: tls.cert, fingerprint256: tls.fingerprint256 } } : {}),
      };
      await writeFileAtomic(agentInfoPath(opts.home), Buffer.from(JSON.stringify(info, null, 2) + '\n'), 0o600);
      const started = new Agent(opts, root, api, info);
      agent = started;
      started.activity = activity;
      started.scheduler = scheduler;
      started.timer = setInterval(() => started.replicateSoon(0), opts.replicateIntervalMs);
      started.timer.unref();
      started.replicateSoon(REPLICATE_AFTER_BACKUP_MS);
      config?.onChange((next, prev) => started.applyConfig(next, prev));
      settingsChanged = () => started.replicateSoon(REPLICATE_AFTER_BACKUP_MS);
      // staleness (no backup or replication for too long, a friend offline for days, failed audits)
      // goes to the notification channels; each alert is sent when it appears and again daily
      const watchAlerts = () =>
        void statusOp(svc, statusOptions()).then(
          (s) => notifier.alerts(s.alerts),
          (err: unknown) => opts.log(`alerts: ${errorMessage(err)}`),
        );
      // each source's 3-2-1 state: one notification per change, checked after every replication
      // round and API operation (debounced: one check at a time, one more if asked meanwhile)
      let checking: Promise<void> | undefined;
      let checkAgain = false;
      watchProtection = (): void => {
        if (checking) {
          checkAgain = true;
          return;
        }
        checking = statusOp(svc, statusOptions())
          .then((s) => notifier.protection(s.sources))
          .catch((err: unknown) => opts.log(`3-2-1 status: ${errorMessage(err)}`))
          .finally(() => {
            checking = undefined;
            if (checkAgain) {
              checkAgain = false;
              watchProtection();
            }
          });
      };
      started.afterRound = watchProtection;
      watchProtection();
      started.alerter = setInterval(() => {
        watchAlerts();
        watchProtection();
      }, ALERT_CHECK_MS);
      started.alerter.unref();
      // Containers a killed run left stopped (docker-stopped.json) run again; Docker is only
      // contacted when there is such a record, and an unreachable engine is one log line.
      void recoverStoppedAtStart(opts.home, opts.clock, opts.log).catch((err: unknown) =>
        opts.log(`docker: recovering stopped containers failed: ${errorMessage(err)}`),
      );
      return started;
    } catch (err) {
      await root.close();
      throw err;
    }
  }

  /** A reloaded config: what can change while running changes now; the rest is logged. */
  private applyConfig(next: CairnConfig, prev: CairnConfig): void {
    this.mesh.retune({
      replicas: next.replicas,
      bandwidthBytesPerSec: next.bandwidthBytesPerSec,
      deletionGraceMs: next.friends.deletionGraceMs,
      audit: next.friends.audit,
      relayLimits: next.relay,
      repairAfterMs: next.friends.repairAfterMs,
    });
    if (next.replicateIntervalMs !== prev.replicateIntervalMs) {
      if (this.timer) clearInterval(this.timer);
      this.timer = setInterval(() => this.replicateSoon(0), next.replicateIntervalMs);
      this.timer.unref();
    }
    const needRestart = (['listen', 'announce', 'lanDiscovery', 'portMapping', 'stun', 'webrtc', 'console', 'diskFloorBytes', 'name'] as const).filter(
      (k) => JSON.stringify(next[k]) !== JSON.stringify(prev[k]),
    );
    if (needRestart.length > 0) this.opts.log(`config: ${needRestart.join(', ')} changed: takes effect when the agent restarts`);
    // the new cairn.yaml goes to friends in the next head (a recovered home gets it back)
    this.replicateSoon(REPLICATE_AFTER_BACKUP_MS);
  }

  /** Runs a replication round soon; a request during a round runs one more after it. */
  replicateSoon(delayMs: number): void {
    setTimeout(() => {
      if (this.stopping.signal.aborted) return;
      if (this.replicating) {
        this.again = true;
        return;
      }
      this.replicating = this.mesh.replication
        .replicate(this.stopping.signal)
        .then((r) => {
          this.activity?.replication({
            ok: r.problems.length === 0,
            time: new Date(this.opts.clock.now()).toISOString(),
            packs: r.packs,
            underReplicated: r.underReplicated,
            wantedCopies: r.wantedCopies,
            problems: r.problems,
            error: null,
          });
          if (r.pushed > 0 || r.problems.length > 0)
            this.opts.log(
              `replication: ${r.pushed} packs pushed, ${r.underReplicated} of ${r.packs} below ${r.wantedCopies} copies${r.problems.length ? `; ${r.problems.join('; ')}` : ''}`,
            );
          if (r.headSeq !== this.headSeq) {
            this.headSeq = r.headSeq;
            this.opts.log(`replication: snapshot list seq ${r.headSeq} offered to friends`);
          }
        })
        .catch((err: unknown) => {
          if (this.stopping.signal.aborted && err instanceof CancelledError) {
            this.opts.log('replication: round stopped: the agent is stopping (the next round goes on)');
            return;
          }
          this.activity?.replication({
            ok: false,
            time: new Date(this.opts.clock.now()).toISOString(),
            packs: 0,
            underReplicated: 0,
            wantedCopies: 0,
            problems: [],
            error: errorMessage(err),
          });
          this.opts.log(`replication failed: ${errorMessage(err)}`);
        })
        .finally(() => {
          this.replicating = undefined;
          this.afterRound?.();
          if (this.again) {
            this.again = false;
            this.replicateSoon(0);
          }
        });
    }, delayMs).unref();
  }

  /**
   * Stops the agent: running jobs are cancelled at their safe points (Scheduler.stop, bounded by
   * its STOP_GRACE_MS) and so is a replication round, then the API, the mesh and the repository close.
   */
  async stop(): Promise<void> {
    this.opts.config?.stop();
    this.stopping.abort(new CancelledError('cancelled because the agent is stopping'));
    await this.scheduler?.stop();
    if (this.timer) clearInterval(this.timer);
    if (this.alerter) clearInterval(this.alerter);
    await this.api.close();
    await this.replicating;
    await this.root.close();
    await rm(agentInfoPath(this.opts.home), { force: true });
  }
}
