// Where a Cairn home keeps what (see protocol/SPEC.md "Home layout").
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export interface HomePaths {
  home: string;
  repo: string;
  config: string;
  keyFile: string;
  packs: string;
  state: string;
}

/** What a running agent publishes in CAIRN_HOME/agent.json (mode 0600) for the CLI. */
export interface AgentInfo {
  api: string;
  token: string;
  pid: number;
  peerId: string;
  addrs: string[];
  /** When the API serves TLS: its certificate (PEM) and SHA-256 fingerprint, which the CLI pins. */
  tls?: { certPem: string; fingerprint256: string };
}

/** The agent's settings file (protocol/config.ts; loaded by agent/src/config). */
export function configPath(home: string): string {
  return join(home, 'cairn.yaml');
}

/** Notification channels (notify/notifier.ts; mode 0600, edited in the console). */
export const NOTIFICATIONS_FILE = 'notifications.json';

/** Each source's 3-2-1 state as last notified (notify/notifier.ts), so a restart does not notify it again. */
export const NOTIFIED_FILE = 'notified.json';

export function notificationsPath(home: string): string {
  return join(home, NOTIFICATIONS_FILE);
}

export function agentInfoPath(home: string): string {
  return join(home, 'agent.json');
}

/** What a running `cairn relay` publishes in its home (the AgentInfo fields; mode 0600), for `cairn relay invite/status`. */
export function relayInfoPath(home: string): string {
  return join(home, 'relay.json');
}

export function defaultHome(): string {
  return process.env.CAIRN_HOME ? resolve(process.env.CAIRN_HOME) : join(homedir(), '.cairn');
}

export function homePaths(home: string): HomePaths {
  const repo = join(home, 'repo');
  return {
    home,
    repo,
    config: join(repo, 'config.json'),
    keyFile: join(repo, 'key.json'),
    packs: join(repo, 'packs'),
    state: join(home, 'state'),
  };
}
