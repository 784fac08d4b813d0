// Real agents as separate processes (`cairn agent`), each with its own home, libp2p on an
// ephemeral loopback TCP port and its API on an ephemeral loopback port.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CAIRN_BIN, cairnJson, cairnOk, ROOT, TEST_PASSPHRASE, tempDir } from './cli.js';

export interface TestAgent {
  name: string;
  home: string;
  recoveryPhrase: string;
  proc: ChildProcess;
  log: () => string;
  info: { api: string; token: string; pid: number; peerId: string; addrs: string[] };
  /** Runs a cairn command against this agent's home (routed through its API). */
  cli<T = unknown>(args: string[]): Promise<T>;
  cliOk(args: string[]): Promise<string>;
  stop(): Promise<void>;
}

export interface AgentOptions {
  home?: string;
  /** Already initialised home: skip `cairn init`. */
  existing?: { recoveryPhrase: string };
  diskFloor?: string;
  replicas?: number;
  /** More `cairn agent` options. */
  extraArgs?: string[];
  /** More environment for the agent process (e.g. libfiu's preload, helpers/fiu.ts). */
  env?: Record<string, string>;
  /** cairn.yaml written into the home before the agent starts. */
  configYaml?: string;
  /** How long the agent may take to write its agent.json (default 30 s). */
  startTimeoutMs?: number;
  /** The program run as `<entry> agent ...` (default bin/cairn.js; the bench's agent is dist/bench/sink/agent.js). */
  entry?: string;
}

async function waitForInfo(home: string, proc: ChildProcess, log: () => string, timeoutMs: number): Promise<TestAgent['info']> {
  for (let i = 0; i < timeoutMs / 100; i++) {
    if (proc.exitCode !== null) throw new Error(`agent exited ${proc.exitCode}: ${log()}`);
    try {
      return JSON.parse(await readFile(join(home, 'agent.json'), 'utf8')) as TestAgent['info'];
    } catch {
      await sleep(100);
    }
  }
  proc.kill('SIGKILL'); // a start that hangs must not outlive the test (a deadlocked agent holds its home)
  throw new Error(`agent did not start within ${timeoutMs / 1000} s: ${log()}`);
}

export async function startAgent(name: string, opts: AgentOptions = {}): Promise<TestAgent> {
  const home = opts.home ?? join(await tempDir(`cairn-${name}-`), 'home');
  const recoveryPhrase = opts.existing?.recoveryPhrase ?? (await cairnJson<{ recoveryPhrase: string }>(['init'], { home })).recoveryPhrase;
  if (opts.configYaml !== undefined) await writeFile(join(home, 'cairn.yaml'), opts.configYaml);
  const args = [
    opts.entry ?? CAIRN_BIN,
    'agent',
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
    '--api',
    '127.0.0.1:0',
    '--name',
    name,
    '--disk-floor',
    opts.diskFloor ?? '0',
    '--replicate-every',
    '1h',
    '--replicas',
    String(opts.replicas ?? 2),
    ...(opts.extraArgs ?? []),
  ];
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...opts.env, CAIRN_HOME: home, CAIRN_PASSPHRASE: TEST_PASSPHRASE },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  proc.stdout?.on('data', (b: Buffer) => out.push(b));
  proc.stderr?.on('data', (b: Buffer) => out.push(b));
  const log = () => Buffer.concat(out).toString('utf8');
  const info = await waitForInfo(home, proc, log, opts.startTimeoutMs ?? 30_000);
  return {
    name,
    home,
    recoveryPhrase,
    proc,
    log,
    info,
    cli: <T>(a: string[]) => cairnJson<T>(a, { home }),
    cliOk: async (a: string[]) => (await cairnOk(a, { home })).stdout,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** `joiner` pairs with `inviter`; each offers the other `quota`. */
export async function pairAgents(inviter: TestAgent, joiner: TestAgent, quota = '1G', joinerQuota = quota): Promise<void> {
  const { code } = await inviter.cli<{ code: string }>(['invite', '--quota', quota]);
  await joiner.cli(['pair', code, '--quota', joinerQuota]);
}
