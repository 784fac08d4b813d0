// `cairn key passwd` (issue 21 item 4, restic's key passwd): the key file re-wrapped under a new
// passphrase; the old one is refused with the usual wrong-passphrase error, the new one opens the
// repository. Crashes are real: strace kills the process (SIGKILL) at the renames and fsyncs of the
// change, and after each kill exactly one passphrase opens the key file; with the passphrase kept in
// CAIRN_HOME/passphrase (unattended installs), that file opens the repository after every kill.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cairn, cairnJson, initHome, tempDir, TEST_PASSPHRASE, type CliResult } from '../helpers/cli.js';
import { cairnUnderStrace, skipWithoutStrace } from '../helpers/strace.js';

const NEW = 'violet tundra marmalade quietly 93';
let work: string;
let newFile: string;

beforeAll(async () => {
  work = await tempDir('cairn-passwd-');
  newFile = join(work, 'new.txt');
  await writeFile(newFile, NEW + '\n');
  await mkdir(join(work, 'src'));
  await writeFile(join(work, 'src', 'f'), 'data\n');
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** `cairn key passwd`, killed by strace with SIGKILL at the `when`-th call of `syscall`. */
function passwdKilledAt(home: string, syscall: string, when: number, env: Record<string, string>): Promise<CliResult> {
  // strace counts calls per thread: one libuv thread does every file operation, so "the n-th" is the n-th of the process
  return cairnUnderStrace(`${syscall}:signal=KILL:when=${when}`, ['key', 'passwd', '--new-password-file', newFile], {
    CAIRN_HOME: home,
    UV_THREADPOOL_SIZE: '1',
    ...env,
  });
}

const opensWith = async (home: string, passphrase: string) => (await cairn(['snapshots', '--json'], { home, passphrase })).code === 0;

describe('cairn key passwd', () => {
  test('the old passphrase is refused as any wrong one, the new one opens the repository; mistakes refused', async () => {
    const home = await initHome();
    try {
      await cairnJson(['backup', join(work, 'src')], { home });
      const help = await cairn(['key', 'passwd', '--help'], { home });
      expect(help.stdout).toContain('cairn key passwd --passphrase-file old.txt --new-password-file new.txt');
      // a weak new passphrase and a wrong current one: refused, nothing changed
      const weakFile = join(work, 'weak.txt');
      await writeFile(weakFile, 'password1\n');
      const weak = await cairn(['key', 'passwd', '--new-password-file', weakFile], { home });
      expect(weak.code).toBe(2);
      expect(weak.stderr).toMatch(/too easy to guess/);
      const wrong = await cairn(['key', 'passwd', '--new-password-file', newFile], { home, passphrase: 'not the passphrase at all 42' });
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).toMatch(/the current passphrase is wrong/);
      expect(await opensWith(home, TEST_PASSPHRASE)).toBe(true);

      const r = await cairnJson<{ changed: boolean; updatedFile: string | null }>(['key', 'passwd', '--new-password-file', newFile], { home });
      expect(r).toMatchObject({ changed: true, updatedFile: null });
      const old = await cairn(['snapshots'], { home, passphrase: TEST_PASSPHRASE });
      expect(old.code).toBe(1);
      expect(old.stderr.trim()).toBe(`cairn: wrong passphrase: it does not unlock the key file ${join(home, 'repo', 'key.json')}`);
      const listed = await cairnJson<Array<{ id: string }>>(['snapshots'], { home, passphrase: NEW });
      expect(listed).toHaveLength(1);
      // no temp files left next to the key file
      expect((await readdir(join(home, 'repo'))).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    } finally {
      await rm(dirname(home), { recursive: true, force: true });
    }
  }, 120_000);

  test.skipIf(skipWithoutStrace)(
    'killed at any step: exactly one passphrase opens the key file, and the home passphrase file always opens it',
    async () => {
      // the key file alone (CAIRN_PASSPHRASE): the temp file's fsync, the rename, the directory's fsync
      for (const [syscall, when, expected] of [
        ['fsync', 1, 'old'],
        ['rename', 1, 'either'],
        ['fsync', 2, 'new'],
      ] as const) {
        const home = await initHome();
        try {
          const r = await passwdKilledAt(home, syscall, when, { CAIRN_PASSPHRASE: TEST_PASSPHRASE });
          expect(r.signal ?? r.code, `${syscall} #${when}: ${r.stderr}`).not.toBe(0);
          const oldOpens = await opensWith(home, TEST_PASSPHRASE);
          const newOpens = await opensWith(home, NEW);
          expect(oldOpens !== newOpens, `${syscall} #${when}: old ${oldOpens}, new ${newOpens}`).toBe(true);
          if (expected !== 'either') expect(expected === 'old' ? oldOpens : newOpens, `${syscall} #${when}`).toBe(true);
        } finally {
          await rm(dirname(home), { recursive: true, force: true });
        }
      }
      // the passphrase kept in CAIRN_HOME/passphrase: three renames (that file with both lines, the
      // key file, that file with the new one); killed at each, the home's file still opens the repository
      for (const when of [1, 2, 3]) {
        const home = await initHome();
        try {
          await writeFile(join(home, 'passphrase'), TEST_PASSPHRASE + '\n', { mode: 0o600 });
          const r = await passwdKilledAt(home, 'rename', when, {});
          expect(r.signal ?? r.code, `rename #${when}: ${r.stderr}`).not.toBe(0);
          const viaFile = await cairn(['snapshots', '--json'], { home, passphrase: null });
          expect(viaFile.code, `rename #${when}: ${viaFile.stderr}`).toBe(0);
          // finished by hand with the passphrase that works: the file ends with the new one alone
          const current = (await opensWith(home, NEW)) ? NEW : TEST_PASSPHRASE;
          if (current !== NEW) {
            const done = await cairn(['key', 'passwd', '--new-password-file', newFile], { home, passphrase: null });
            expect(done.code, done.stderr).toBe(0);
          }
        } finally {
          await rm(dirname(home), { recursive: true, force: true });
        }
      }
      // and the finished change through the home's file: one line, the new passphrase
      const home = await initHome();
      try {
        await writeFile(join(home, 'passphrase'), TEST_PASSPHRASE + '\n', { mode: 0o600 });
        const done = await cairnJson<{ updatedFile: string }>(['key', 'passwd', '--new-password-file', newFile], { home, passphrase: null });
        expect(done.updatedFile).toBe(join(home, 'passphrase'));
        expect(await readFile(join(home, 'passphrase'), 'utf8')).toBe(NEW + '\n');
        expect(await opensWith(home, NEW)).toBe(true);
      } finally {
        await rm(dirname(home), { recursive: true, force: true });
      }
    },
    300_000,
  );
});
