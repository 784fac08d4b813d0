// Real agents (`cairn agent` from dist/) inside a NatLab host's namespace. Each namespace has its own
// loopback, so every agent uses the same API port; libp2p listens on the host's own address (a
// LAN address behind a router), never 127.0.0.1, so friends get an address that means something
// from where they are. The CLI runs in the same namespace, since it reaches the agent's API on
// the namespace's loopback.
import type { ChildProcess } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CAIRN_BIN, cairnJson, ROOT, TEST_PASSPHRASE, tempDir, type CliResult } from './cli.js';
import type { NatLab } from './natlab.js';

export const LAB_P2P_PORT = 4001;
export const LAB_API = '127.0.0.1:7070';
// a start unlocks the key (Argon2id) and may hash a first console password: slow on a busy 2-core machine
const START_POLLS = 900;
const START_POLL_MS = 100;
const CLI_TIMEOUT_MS = 120_000;

export interface LabAgent {
  name: string;
  host: string;
  home: string;
  /** The multiaddr libp2p listens on. */
  listen: string;
  info: { api: string; token: string; pid: number; peerId: string; addrs: string[] };
  proc: ChildProcess;
  log: () => string;
  /** A cairn command in the agent's namespace; resolves whatever its exit code. */
  cairn(args: string[]): Promise<CliResult>;
  /** A cairn command with --json, throwing with stderr unless it exits 0. */
  cli<T = unknown>(args: string[]): Promise<T>;
  stop(): Promise<void>;
}

export interface LabAgentOptions {
  /** More `cairn agent` options. */
  extraArgs?: string[];
  replicas?: number;
  /** libp2p listen multiaddr (default: the host's address, port LAB_P2P_PORT). */
  listen?: string;
  /** Start on this existing home (a restart) instead of initialising a new one. */
  home?: string;
  /** cairn.yaml written into the home before the start (YAML text). */
  config?: string;
}

/** Initialises a home and starts `cairn agent` in `host`'s namespace, listening on its address. */
export async function startLabAgent(lab: NatLab, host: string, name: string, opts: LabAgentOptions = {}): Promise<LabAgent> {
  const home = opts.home ?? join(await tempDir(`cairn-lab-${name}-`), 'home');
  if (opts.home === undefined) await cairnJson(['init'], { home });
  if (opts.config !== undefined) await writeFile(join(home, 'cairn.yaml'), opts.config);
  const env = { ...process.env, CAIRN_HOME: home, CAIRN_PASSPHRASE: TEST_PASSPHRASE };
  const listen = opts.listen ?? `/ip4/${lab.addressOf(host)}/tcp/${LAB_P2P_PORT}`;
  const args = [
    CAIRN_BIN,
    'agent',
    '--listen',
    listen,
    '--api',
    LAB_API,
    '--name',
    name,
    '--disk-floor',
    '0',
    '--replicate-every',
    '1h',
    '--replicas',
    String(opts.replicas ?? 1),
    ...(opts.extraArgs ?? []),
  ];
  const proc = lab.spawn(host, process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  proc.stdout?.on('data', (b: Buffer) => out.push(b));
  proc.stderr?.on('data', (b: Buffer) => out.push(b));
  const log = () => Buffer.concat(out).toString('utf8');
  let info: LabAgent['info'] | undefined;
  for (let i = 0; i < START_POLLS && !info; i++) {
    if (proc.exitCode !== null) throw new Error(`agent ${name} exited ${proc.exitCode}: ${log()}`);
    try {
      info = JSON.parse(await readFile(join(home, 'agent.json'), 'utf8')) as LabAgent['info'];
    } catch {
      await sleep(START_POLL_MS);
    }
  }
  if (!info) throw new Error(`agent ${name} did not start within ${(START_POLLS * START_POLL_MS) / 1000} s: ${log()}`);
  const cairn = async (a: string[]): Promise<CliResult> => {
    const r = await lab.exec(host, process.execPath, [CAIRN_BIN, ...a], { env, cwd: ROOT, timeoutMs: CLI_TIMEOUT_MS });
    return { code: r.code, signal: null, stdout: r.stdout, stderr: r.stderr, stdoutBytes: Buffer.from(r.stdout) };
  };
  return {
    name,
    host,
    home,
    listen,
    info,
    proc,
    log,
    cairn,
    cli: async <T>(a: string[]): Promise<T> => {
      const r = await cairn([...a, '--json']);
      if (r.code !== 0) throw new Error(`[${name}] cairn ${a.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
      return JSON.parse(r.stdout) as T;
    },
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** Stops the agents and removes their homes. */
export async function stopLabAgents(agents: LabAgent[]): Promise<void> {
  for (const a of agents) await a.stop();
  for (const a of agents) await rm(join(a.home, '..'), { recursive: true, force: true });
}
