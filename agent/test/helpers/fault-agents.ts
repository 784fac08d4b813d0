// Agents that get killed and come back, for the fault-injection campaign: each listens on a fixed
// loopback port (its friends find it where they last knew it), is killed with SIGKILL (the real
// agent process, and the launcher if bin/cairn.js re-executed itself), and restarts on its own home.
// Also reads what a stopped agent left in its LevelDB (index, delete outbox, pending deletions).
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStateDb } from '../../src/state/db.js';
import { startAgent, type TestAgent } from './agents.js';
import { createServer } from 'node:net';

/** Whether `pid` is a live process (not gone, not a zombie), read from /proc. */
export async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * A free loopback port below the kernel's ephemeral range: while its agent is down, no outgoing
 * connection of another process can take it as its local port (a port from freePort can, and
 * the agent then cannot listen again: a 30-fault run lost bob that way).
 */
export async function stablePort(): Promise<number> {
  const range = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '32768 60999')).trim().split(/\s+/).map(Number);
  const below = Math.max(2000, (range[0] ?? 32768) - 1);
  for (let i = 0; i < 100; i++) {
    const port = 1024 + Math.floor(Math.random() * (below - 1024));
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port below ${below} on 127.0.0.1`);
}

/**
 * A killed agent's start may take long on a loaded machine (the passphrase's Argon2id, LevelDB's
 * log replay, libp2p): a 100-fault run beside five test runs saw 30 s pass. Longer than any start
 * should take, short enough that a start that hangs still fails the fault.
 */
const START_TIMEOUT_MS = 120_000;

export class RestartableAgent {
  agent!: TestAgent;
  private constructor(
    readonly name: string,
    private readonly port: number,
    private readonly replicas: number,
    private readonly env: Record<string, string>,
  ) {}

  /** `configYaml`: the home's cairn.yaml, written once before the first start. */
  static async start(
    name: string,
    opts: { home?: string; replicas?: number; env?: Record<string, string>; configYaml?: string } = {},
  ): Promise<RestartableAgent> {
    const r = new RestartableAgent(name, await stablePort(), opts.replicas ?? 1, opts.env ?? {});
    r.agent = await startAgent(name, {
      home: opts.home,
      replicas: r.replicas,
      extraArgs: r.listenArgs(),
      env: r.env,
      ...(opts.configYaml !== undefined ? { configYaml: opts.configYaml } : {}),
      startTimeoutMs: START_TIMEOUT_MS,
    });
    return r;
  }

  get home(): string {
    return this.agent.home;
  }

  private listenArgs(): string[] {
    return ['--listen', `/ip4/127.0.0.1/tcp/${this.port}`];
  }

  /** Whether the agent process (the one that wrote agent.json) is still running. */
  async running(): Promise<boolean> {
    return alive(this.agent.info.pid);
  }

  /** SIGKILL to the agent process and its launcher; waits (up to 10 s) until both are gone. */
  async kill(): Promise<void> {
    const pids = [this.agent.info.pid, this.agent.proc.pid].filter((p): p is number => p !== undefined);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (let i = 0; i < 1000; i++) {
      if (!(await alive(pids[0] as number)) && (pids[1] === undefined || !(await alive(pids[1])))) return;
      await sleep(10);
    }
    throw new Error(`${this.name}: agent process survived SIGKILL for 10 s`);
  }

  /**
   * Starts the agent again on its home and port. A killed agent left its agent.json behind, naming a
   * dead process: it goes first, so that the wait below sees the new agent's, not the old one.
   */
  async restart(): Promise<void> {
    if (await this.running()) throw new Error(`${this.name}: restart while the agent still runs`);
    await rm(join(this.home, 'agent.json'), { force: true });
    this.agent = await startAgent(this.name, {
      home: this.home,
      existing: { recoveryPhrase: this.agent.recoveryPhrase },
      replicas: this.replicas,
      extraArgs: this.listenArgs(),
      env: this.env,
      startTimeoutMs: START_TIMEOUT_MS,
    });
  }

  /** SIGTERM and wait: the agent closes its database. */
  async stop(): Promise<void> {
    await this.agent.stop();
  }
}

/** What a stopped agent's LevelDB says (keys as in state/db.ts). */
export interface AgentState {
  /** Pack IDs that blobs of the index point into. */
  indexPacks: Set<string>;
  /** "<friend PeerId>!<pack ID>": our packs a friend is still to be asked to delete. */
  deleteOutbox: Set<string>;
  /** "<owner PeerId>!<pack ID>": an owner's packs it asked us to delete (pending their grace). */
  pendingDeletions: Set<string>;
  /** "<owner PeerId>!<pack ID>": packs we hold for friends, by our records. */
  hosted: Set<string>;
}

/** Reads the state of a home whose agent is stopped (LevelDB takes one process at a time). */
export async function readAgentState(home: string): Promise<AgentState> {
  return readStateDir(join(home, 'state'));
}

/**
 * Reads a copy of a running agent's LevelDB, taken file by file while the agent runs (its lock
 * forbids opening the original). Good only while the agent is idle: a copy taken during a write or
 * a compaction may miss a record or fail to open. A caller treats what it finds as a hint to be
 * confirmed on a stopped agent (readAgentState), never as a verdict.
 */
export async function readLiveAgentState(home: string): Promise<AgentState> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-state-copy-'));
  try {
    await cp(join(home, 'state'), join(dir, 'state'), { recursive: true, filter: (src) => !src.endsWith('/LOCK') });
    return await readStateDir(join(dir, 'state'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function readStateDir(stateDir: string): Promise<AgentState> {
  const { db, sub } = await openStateDb(stateDir);
  try {
    const indexPacks = new Set<string>();
    for await (const v of sub.index.values()) indexPacks.add(v.split(':')[0] as string);
    const keys = async (s: { keys(): AsyncIterable<string> }) => {
      const out = new Set<string>();
      for await (const k of s.keys()) out.add(k);
      return out;
    };
    return { indexPacks, deleteOutbox: await keys(sub.deleteOutbox), pendingDeletions: await keys(sub.deletions), hosted: await keys(sub.hosted) };
  } finally {
    await db.close();
  }
}
