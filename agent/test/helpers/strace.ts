// strace, for tests that kill a process at a given system call or make one call lie. Debian's
// `strace`; .ci/run installs it, so under CI a test that needs it runs (and fails) without it.
import { execFileSync } from 'node:child_process';

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
