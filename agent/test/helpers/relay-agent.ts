// A real `cairn relay` (from dist/) as a separate process, on loopback or inside a NatLab host's
// namespace (then its CLI runs in the namespace too: the relay's API is on the namespace's loopback).
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RelayStatusResult } from '../../../protocol/api.js';
import { cairn, CAIRN_BIN, ROOT, tempDir, type CliResult } from './cli.js';
import type { NatLab } from './natlab.js';

// a start on a busy 2-core machine: slow, never this slow
const START_POLLS = 600;
const START_POLL_MS = 100;
const CLI_TIMEOUT_MS = 120_000;

export interface TestRelay {
  name: string;
  home: string;
  info: { api: string; token: string; pid: number; peerId: string; addrs: string[] };
  proc: ChildProcess;
  log: () => string;
  /** A cairn command against the relay's home; resolves whatever its exit code. */
  cairn(args: string[]): Promise<CliResult>;
  /** `cairn relay invite --json`: the code. */
  invite(): Promise<string>;
  status(): Promise<RelayStatusResult>;
  stop(): Promise<void>;
  /** Stops it and removes its home. */
  destroy(): Promise<void>;
}

export interface RelayOptions {
  /** Run in this lab host's namespace (default: this machine, loopback). */
  lab?: { lab: NatLab; host: string };
  /** libp2p listen multiaddr (default: loopback, an ephemeral port). */
  listen?: string;
  /** More `cairn relay` options. */
  extraArgs?: string[];
}

export async function startRelay(name: string, opts: RelayOptions = {}): Promise<TestRelay> {
  const home = join(await tempDir(`cairn-relay-${name}-`), 'home');
  const env: Record<string, string> = { ...(process.env as Record<string, string>), CAIRN_HOME: home };
  delete env.CAIRN_PASSPHRASE;
  const args = [CAIRN_BIN, 'relay', '--listen', opts.listen ?? '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--name', name, ...(opts.extraArgs ?? [])];
  const proc = opts.lab
    ? opts.lab.lab.spawn(opts.lab.host, process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  proc.stdout?.on('data', (b: Buffer) => out.push(b));
  proc.stderr?.on('data', (b: Buffer) => out.push(b));
  const log = () => Buffer.concat(out).toString('utf8');
  let info: TestRelay['info'] | undefined;
  for (let i = 0; i < START_POLLS && !info; i++) {
    if (proc.exitCode !== null) throw new Error(`relay ${name} exited ${proc.exitCode}: ${log()}`);
    try {
      info = JSON.parse(await readFile(join(home, 'relay.json'), 'utf8')) as TestRelay['info'];
    } catch {
      await sleep(START_POLL_MS);
    }
  }
  if (!info) throw new Error(`relay ${name} did not start within ${(START_POLLS * START_POLL_MS) / 1000} s: ${log()}`);
  const run = async (a: string[]): Promise<CliResult> => {
    if (!opts.lab) return cairn(a, { home, passphrase: null });
    const r = await opts.lab.lab.exec(opts.lab.host, process.execPath, [CAIRN_BIN, ...a], { env, cwd: ROOT, timeoutMs: CLI_TIMEOUT_MS });
    return { code: r.code, signal: null, stdout: r.stdout, stderr: r.stderr, stdoutBytes: Buffer.from(r.stdout) };
  };
  const json = async <T>(a: string[]): Promise<T> => {
    const r = await run([...a, '--json']);
    if (r.code !== 0) throw new Error(`[relay ${name}] cairn ${a.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return JSON.parse(r.stdout) as T;
  };
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
  };
  return {
    name,
    home,
    info,
    proc,
    log,
    cairn: run,
    invite: async () => (await json<{ code: string }>(['relay', 'invite'])).code,
    status: () => json<RelayStatusResult>(['relay', 'status']),
    stop,
    destroy: async () => {
      await stop();
      await rm(join(home, '..'), { recursive: true, force: true });
    },
  };
}
