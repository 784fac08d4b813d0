// The composition root of `cairn relay`: opens the relay's home (ops/relay-home.ts), starts the relay
// (mesh/relay-agent.ts) and its loopback API (api/relay-api.ts), and writes relay.json (mode 0600)
// for `cairn relay invite` and `cairn relay status`; removed again on a clean stop.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { listening } from './daemon.js';
import { startRelayApi, type RelayApi } from './api/relay-api.js';
import { RelayAgent } from './mesh/relay-agent.js';
import type { RelayLimits } from './mesh/relay-budget.js';
import { openRelayHome, relayInfoPath } from './mesh/relay-home.js';
import type { AgentInfo } from './repo/home.js';
import type { StateDb } from './state/db.js';
import type { Clock } from './util/clock.js';
import { writeFileAtomic } from './util/fsx.js';

export interface RelayDaemonOptions {
  home: string;
  listen: string[];
  announce: string[];
  name: string;
  apiHost: string;
  apiPort: number;
  limits: RelayLimits;
  clock: Clock;
  /** The relay's log (a relay-budget.json it could not read or write). */
  log?: (line: string) => void;
}

export class RelayDaemon {
  readonly relay: RelayAgent;
  readonly info: AgentInfo;
  private readonly api: RelayApi;
  private readonly db: StateDb;
  private readonly home: string;

  private constructor(home: string, relay: RelayAgent, api: RelayApi, db: StateDb, info: AgentInfo) {
    this.home = home;
    this.relay = relay;
    this.api = api;
    this.db = db;
    this.info = info;
  }

  static async start(opts: RelayDaemonOptions): Promise<RelayDaemon> {
    const home = await openRelayHome(opts.home);
    let relay: RelayAgent | undefined;
    let api: RelayApi | undefined;
    try {
      relay = await listening(
        `for friends on ${opts.listen.join(', ')}`,
        'another address with --listen /ip4/0.0.0.0/tcp/PORT (or listen: in cairn.yaml)',
        RelayAgent.start({
          home: opts.home,
          privateKey: home.privateKey,
          state: home.state,
          listen: opts.listen,
          announce: opts.announce,
          name: opts.name,
          limits: opts.limits,
          clock: opts.clock,
          ...(opts.log ? { log: opts.log } : {}),
        }),
      );
      const token = randomBytes(24).toString('base64url');
      api = await listening(
        `for the relay's API on ${opts.apiHost}:${opts.apiPort}`,
        'another with --api HOST:PORT',
        startRelayApi(relay, opts.apiHost, opts.apiPort, token),
      );
      const info: AgentInfo = { api: api.url, token, pid: process.pid, peerId: relay.peerId, addrs: relay.addresses() };
      await writeFileAtomic(relayInfoPath(opts.home), Buffer.from(JSON.stringify(info, null, 2) + '\n'), 0o600);
      return new RelayDaemon(opts.home, relay, api, home.db, info);
    } catch (err) {
      await api?.close().catch(() => undefined);
      await relay?.stop().catch(() => undefined);
      await home.db.close().catch(() => undefined);
      throw err;
    }
  }

  async stop(): Promise<void> {
    await rm(relayInfoPath(this.home), { force: true });
    await this.api.close();
    await this.relay.stop();
    await this.db.close();
  }
}
