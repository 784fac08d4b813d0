// Runs the real `cairn` command (bin/cairn.js → dist/) as a separate process, the way users do.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..', '..');
export const CAIRN_BIN = join(ROOT, 'bin', 'cairn.js');
export const TEST_PASSPHRASE = 'correct horse battery staple';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

export interface CliOptions {
  home: string;
  passphrase?: string | null;
  env?: Record<string, string>;
  cwd?: string;
}

export function spawnCairn(args: string[], opts: CliOptions): ChildProcess {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), CAIRN_HOME: opts.home, ...opts.env };
  if (opts.passphrase !== null) env.CAIRN_PASSPHRASE = opts.passphrase ?? TEST_PASSPHRASE;
  else delete env.CAIRN_PASSPHRASE;
  return spawn(process.execPath, [CAIRN_BIN, ...args], { env, cwd: opts.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function collect(child: ChildProcess): Promise<CliResult> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (b: Buffer) => out.push(b));
  child.stderr?.on('data', (b: Buffer) => err.push(b));
  return new Promise((resolveResult, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const stdoutBytes = Buffer.concat(out);
      resolveResult({ code, signal, stdout: stdoutBytes.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), stdoutBytes });
    });
  });
}

export function cairn(args: string[], opts: CliOptions): Promise<CliResult> {
  return collect(spawnCairn(args, opts));
}

/** Runs cairn and throws with its stderr when it does not exit 0. */
export async function cairnOk(args: string[], opts: CliOptions): Promise<CliResult> {
  const r = await cairn(args, opts);
  if (r.code !== 0) throw new Error(`cairn ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r;
}

export async function cairnJson<T = unknown>(args: string[], opts: CliOptions): Promise<T> {
  const r = await cairnOk([...args, '--json'], opts);
  return JSON.parse(r.stdout) as T;
}

/** Directories tempDir made in this test file: removed after its last test (setup/remove-temp-dirs.ts). */
const madeTempDirs: string[] = [];

export async function tempDir(prefix = 'cairn-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  madeTempDirs.push(dir);
  return dir;
}

/** Removes every directory tempDir made (CAIRN_KEEP_TEMP=1 keeps them, for a look after a failure). */
export async function removeTempDirs(): Promise<void> {
  if (process.env.CAIRN_KEEP_TEMP === '1') return;
  for (const dir of madeTempDirs.splice(0)) await rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
}

/** A fresh CAIRN_HOME with an initialised repository. */
export async function initHome(): Promise<string> {
  const home = join(await tempDir('cairn-home-'), 'home');
  await cairnOk(['init', '--json'], { home });
  return home;
}
