// The console's generated admin password is printed at every start until the first login (a start
// that failed after making it does not lose it), then only its hash is kept; `cairn console
// reset-password` (resetConsolePasswordOp) makes a new one and keeps the API tokens.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ConsoleAuth } from '../../src/api/auth.js';
import { resetConsolePasswordOp } from '../../src/ops/console-auth-file.js';
import { systemClock } from '../../src/util/clock.js';
import { tempDir } from '../helpers/cli.js';

async function open(home: string): Promise<{ auth: ConsoleAuth; shown: string | undefined }> {
  const lines: string[] = [];
  const auth = await ConsoleAuth.open(home, systemClock, 'agent-token', (l) => lines.push(l));
  return { auth, shown: lines.map((l) => /admin password is (\S+)/.exec(l)?.[1]).find((p) => p !== undefined) };
}

describe('the first admin password', () => {
  test('is shown at every start until the first login, then never again; the file keeps only its hash', async () => {
    const home = await tempDir('cairn-firstpw-');
    const first = await open(home);
    expect(first.shown).toMatch(/^[a-z2-9]{5}(-[a-z2-9]{5}){3}$/);
    // the start that made it failed before anyone saw the log: the next start shows the same one
    const again = await open(home);
    expect(again.shown).toBe(first.shown);
    expect(await again.auth.login('wrong')).toBeUndefined();
    expect((await open(home)).shown).toBe(first.shown);
    expect(await again.auth.login(first.shown as string)).toBeDefined();
    expect((await open(home)).shown).toBeUndefined();
    const file = await readFile(join(home, 'console-auth.json'), 'utf8');
    expect(file).not.toContain(first.shown as string);
  });

  test('a password change also ends the showing', async () => {
    const home = await tempDir('cairn-firstpw-');
    const { auth, shown } = await open(home);
    await auth.changePassword(shown as string, 'a new long password');
    expect((await open(home)).shown).toBeUndefined();
  });

  test('reset-password makes a new one, shown until its first login, and keeps the API tokens', async () => {
    const home = await tempDir('cairn-firstpw-');
    const { auth, shown } = await open(home);
    await auth.login(shown as string);
    const token = await auth.createToken('prometheus', 'read');
    const fresh = await resetConsolePasswordOp(home);
    expect(fresh).not.toBe(shown);
    const after = await open(home);
    expect(after.shown).toBe(fresh);
    expect(await after.auth.login(shown as string)).toBeUndefined();
    expect(await after.auth.login(fresh)).toBeDefined();
    expect(after.auth.listTokens().map((t) => t.name)).toEqual(['prometheus']);
    expect(after.auth.tokenScope(token.token)).toBe('read');
  });
});
