// Checks on how the CLI reports failure, and a way to kill it hard (for crash tests).
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { CAIRN_BIN, ROOT, TEST_PASSPHRASE, collect, type CliOptions, type CliResult } from './cli.js';

const STACK_LINE = /^\s+at\s+\S|node:internal|\.(?:js|ts|mjs):\d+:\d+/m;

/** A pointer to the help text after a usage error; not counted as part of the error message. */
const HELP_HINT = /^\(?\s*(?:run|see|try)\b.*--help/i;

/**
 * Problems with stderr as a user-facing error report: empty, stack traces, or more than `maxLines`
 * lines (a trailing "(run cairn --help for usage)" hint is not counted).
 */
export function stderrProblems(r: CliResult, maxLines = 1): string[] {
  const problems: string[] = [];
  const lines = r.stderr.split('\n').filter((l) => l.trim().length > 0 && !HELP_HINT.test(l.trim()));
  if (lines.length === 0) problems.push('stderr is empty');
  if (lines.length > maxLines) problems.push(`stderr has ${lines.length} lines (expected at most ${maxLines}): ${JSON.stringify(r.stderr.slice(0, 600))}`);
  if (STACK_LINE.test(r.stderr) || STACK_LINE.test(r.stdout))
    problems.push(`output contains a stack trace: ${JSON.stringify((r.stderr + r.stdout).slice(0, 600))}`);
  return problems;
}

export function describeResult(r: CliResult): string {
  return `exit ${r.code}${r.signal ? ` signal ${r.signal}` : ''}; stderr: ${JSON.stringify(r.stderr.slice(0, 800))}; stdout: ${JSON.stringify(r.stdout.slice(0, 400))}`;
}

/**
 * Spawns cairn in its own process group, so that a kill reaches the real engine process too
 * (bin/cairn.js re-executes itself under the project's Node 22 when the test runs on older Node).
 */
export function spawnCairnGroup(args: string[], opts: CliOptions): ChildProcess {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), CAIRN_HOME: opts.home, ...opts.env };
  if (opts.passphrase !== null) env.CAIRN_PASSPHRASE = opts.passphrase ?? TEST_PASSPHRASE;
  else delete env.CAIRN_PASSPHRASE;
  return spawn(process.execPath, [CAIRN_BIN, ...args], { env, cwd: opts.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
}

/** Live (non-zombie) processes whose process group is `pgid`, read from /proc. */
export async function groupMembers(pgid: number): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = await readFile(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] !== 'Z' && fields[0] !== 'X' && Number(fields[2]) === pgid) out.push(Number(name));
  }
  return out;
}

/** SIGKILLs the whole process group and waits until no process of it is left. */
export async function killGroup(child: ChildProcess): Promise<void> {
  const pgid = child.pid;
  if (pgid === undefined) return;
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already gone
  }
  for (let i = 0; i < 500 && (await groupMembers(pgid)).length > 0; i++) await sleep(10);
  if ((await groupMembers(pgid)).length > 0) throw new Error(`process group ${pgid} survived SIGKILL for 5 s`);
}

export { collect };
