// Runs one command the way the benchmark measures it: wall time, peak RSS and captured output.
// Peak RSS comes from GNU time (`/usr/bin/time -f %M`, apt package `time`): it reports ru_maxrss
// of the command, which the kernel keeps as the largest RSS of the process and of every
// descendant it waited for (so `bin/cairn.js` re-executing itself on Node 22 is still counted).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const GNU_TIME = '/usr/bin/time';
const MAX_CAPTURE_BYTES = 1024 * 1024;
export const DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;
const USER_HZ = 100;

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** A Cairn command's CPU seconds by thread: its main thread, each kind of worker, and the rest (Node's own threads). */
export interface ThreadCpu {
  mainS: number;
  workersS: Record<string, number>;
}

export interface RunResult {
  command: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  seconds: number;
  /** Peak resident set size in bytes, or null when GNU time is not installed. */
  peakRssBytes: number | null;
  /** User + system CPU seconds of the command (GNU time), or null. */
  cpuSeconds: number | null;
  /**
   * CPU seconds the whole machine was busy during the command (/proc/stat) beyond the command's
   * own: other processes competing for the cores. Null when unknown.
   */
  otherCpuSeconds: number | null;
  /** Cairn only: CPU seconds by thread (CAIRN_CPU_REPORT, agent/src/util/thread-cpu.ts), when it wrote them. */
  threadCpu?: ThreadCpu;
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  constructor(readonly result: RunResult) {
    super(`${result.command}: ${describeFailure(result)}`);
    this.name = 'CommandError';
  }
}

export function hasGnuTime(): boolean {
  return existsSync(GNU_TIME);
}

/** Runs `cmd args` with stdin closed; never throws for a non-zero exit (see `runOk`). */
export async function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeDir = hasGnuTime() ? await mkdtemp(join(tmpdir(), 'cairn-bench-time-')) : null;
  const timeFile = timeDir === null ? null : join(timeDir, 'rss');
  const argv = timeFile === null ? [cmd, ...args] : [GNU_TIME, '-o', timeFile, '-f', '%M %U %S', cmd, ...args];
  const command = [cmd, ...args].join(' ');
  const busyBefore = await busyCpuSeconds();
  const started = process.hrtime.bigint();
  const child = spawn(argv[0] as string, argv.slice(1), {
    cwd: opts.cwd,
    env: { ...(process.env as Record<string, string>), ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group, so a timeout can stop the whole tree
  });
  const out = capture(child.stdout);
  const err = capture(child.stderr);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, s) => resolve({ code: c, signal: s }));
  }).finally(() => clearTimeout(timer));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const busyAfter = await busyCpuSeconds();
  let peakRssBytes: number | null = null;
  let cpuSeconds: number | null = null;
  if (timeFile !== null && timeDir !== null) {
    // On failure GNU time writes "Command exited with non-zero status N" first; ours is the last line.
    const lines = (await readFile(timeFile, 'utf8').catch(() => '')).trim().split('\n');
    const [kib, user, sys] = (lines[lines.length - 1] ?? '').split(' ').map(Number);
    if (kib !== undefined && Number.isFinite(kib) && kib > 0) peakRssBytes = kib * 1024;
    if (user !== undefined && sys !== undefined && Number.isFinite(user + sys)) cpuSeconds = user + sys;
    await rm(timeDir, { recursive: true, force: true });
  }
  const otherCpuSeconds = busyBefore === null || busyAfter === null || cpuSeconds === null ? null : Math.max(0, busyAfter - busyBefore - cpuSeconds);
  const stderr = timedOut ? `${err()}\ntimed out after ${(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000} s` : err();
  return { command, code: timedOut ? null : code, signal, seconds, peakRssBytes, cpuSeconds, otherCpuSeconds, stdout: out(), stderr };
}

/** Like `run`, but throws a CommandError unless the command exits 0. */
export async function runOk(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new CommandError(r);
  return r;
}

/**
 * Waits until the machine is quiet (all cores together busy less than `maxBusyCores` over a
 * one-second sample), for at most `maxWaitMs`. Returns whether it got quiet and how long it waited.
 */
export async function waitForQuiet(maxBusyCores: number, maxWaitMs: number): Promise<{ quiet: boolean; waitedSeconds: number; busyCores: number }> {
  const started = process.hrtime.bigint();
  const elapsedMs = () => Number(process.hrtime.bigint() - started) / 1e6;
  let busyCores = 0;
  for (;;) {
    const a = await busyCpuSeconds();
    await new Promise((r) => setTimeout(r, 1000));
    const b = await busyCpuSeconds();
    if (a === null || b === null) return { quiet: true, waitedSeconds: 0, busyCores: 0 };
    busyCores = b - a;
    if (busyCores < maxBusyCores) return { quiet: true, waitedSeconds: elapsedMs() / 1000, busyCores };
    if (elapsedMs() >= maxWaitMs) return { quiet: false, waitedSeconds: elapsedMs() / 1000, busyCores };
  }
}

/** Seconds of CPU time all cores have spent busy since boot (/proc/stat; USER_HZ is 100 on Linux). */
export async function busyCpuSeconds(): Promise<number | null> {
  const stat = await readFile('/proc/stat', 'utf8').catch(() => null);
  const fields = stat?.split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number);
  if (fields === undefined || fields.length < 8) return null;
  // user nice system idle iowait irq softirq steal: everything but idle and iowait is busy
  const [user, nice, system, , , irq, softirq, steal] = fields as number[];
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / USER_HZ;
}

function capture(stream: NodeJS.ReadableStream | null): () => string {
  const chunks: Buffer[] = [];
  let bytes = 0;
  stream?.on('data', (b: Buffer) => {
    chunks.push(b);
    bytes += b.length;
    while (bytes > MAX_CAPTURE_BYTES && chunks.length > 1) bytes -= (chunks.shift() as Buffer).length;
  });
  return () => Buffer.concat(chunks).toString('utf8');
}

export function describeFailure(r: RunResult): string {
  const status = r.code === null ? `killed (${r.signal ?? 'timeout'})` : `exit ${r.code}`;
  const line = errorLine(r.stderr) ?? errorLine(r.stdout);
  return line === null ? status : `${status}: ${line}`;
}

/** The most telling line of a tool's output: the first one that mentions an error, else the last. */
export function errorLine(text: string): string | null {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  if (lines.length === 0) return null;
  return lines.find((l) => /error|fatal|failed|missing|timed out|not found/i.test(l)) ?? (lines[lines.length - 1] as string);
}

/** The project's root: the nearest folder above `from` with a package.json (dist/bench or bench alike). */
export function findRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
  return dir;
}
