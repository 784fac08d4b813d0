// strace, for tests that kill a process at a given system call or make one call lie. Debian's
// `strace`; .ci/run installs it, so under CI a test that needs it runs (and fails) without it.
import { execFileSync, spawn } from 'node:child_process';
import { CAIRN_BIN, collect, type CliResult } from './cli.js';

export const hasStrace = (() => {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Skip only outside CI: a missing strace under CI is a failure, not a skip. */
export const skipWithoutStrace = !hasStrace && !process.env.CI;

/**
 * A `cairn` command run under strace with one fault injected: `inject` is strace's
 * `inject=SYSCALL:...` rule (e.g. `pwrite64:retval=100000:when=1`), traced on that syscall only.
 */
export function cairnUnderStrace(inject: string, args: string[], env: Record<string, string>): Promise<CliResult> {
  const syscall = inject.slice(0, inject.indexOf(':'));
  const child = spawn('strace', ['-f', '-qq', '-o', '/dev/null', '-e', `trace=${syscall}`, '-e', `inject=${inject}`, process.execPath, CAIRN_BIN, ...args], {
    env: { ...(process.env as Record<string, string>), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collect(child);
}
