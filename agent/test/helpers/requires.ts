// describe() for tests that need something outside Node (a Docker engine, chromium, restic, libfiu,
// network namespaces): with it they run; without it they FAIL under CI (process.env.CI set: a
// missing component must never pass as a skip there) and are skipped elsewhere, saying why.
import { describe, test } from 'vitest';

/** `why`: undefined when `what` is available, else what is missing and how to get it. */
export function describeRequiring(what: string, why: string | undefined, name: string, fn: () => void): void {
  if (why === undefined) {
    describe(name, fn);
    return;
  }
  if (process.env.CI) {
    describe(name, () => {
      test(`${what} (required in CI)`, () => {
        throw new Error(why);
      });
    });
    return;
  }
  process.stderr.write(`skipping "${name}": ${why}\n`);
  describe.skip(`${name} (skipped: ${why})`, fn);
}
