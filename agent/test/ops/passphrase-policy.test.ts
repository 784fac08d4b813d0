// New passphrases are checked with a strength estimator (zxcvbn), not a length rule, and the
// .env.example placeholder is refused (issue 21 item 9): at init, at the agent's first start and
// when the passphrase changes.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { createRepository } from '../../src/compose-root.js';
import { checkNewPassphrase, EXAMPLE_PASSPHRASE } from '../../src/ops/passphrase-policy.js';
import { tempDir } from '../helpers/cli.js';

describe('new passphrases', () => {
  test('common passwords, short ones and keyboard walks are refused, with the reason; long random words pass', async () => {
    for (const weak of ['pw', 'password123', 'qwertyuiop', 'hunter2hunter2', 'cairnbackup', 'aaaaaaaaaaaaaaaa']) {
      await expect(checkNewPassphrase(weak), weak).rejects.toMatchObject({ code: 'E_WEAK_PASSPHRASE', exitCode: 2 });
    }
    await expect(checkNewPassphrase('password123')).rejects.toThrow(/too easy to guess \(strength \d of 4, at least 3 needed\).*four or more random words/);
    // not a length rule: a long run of one character is refused, four words are not
    await checkNewPassphrase('correct horse battery staple');
    await checkNewPassphrase('velvet orbit pickle lantern');
  });

  test('the .env.example placeholder is refused by name, however strong it looks', async () => {
    await expect(checkNewPassphrase(EXAMPLE_PASSPHRASE)).rejects.toThrow(/example's placeholder from \.env\.example/);
  });

  test('init with a weak passphrase creates nothing', async () => {
    const home = join(await tempDir('cairn-weak-'), 'home');
    await expect(createRepository(home, 'letmein', new Date())).rejects.toMatchObject({ code: 'E_WEAK_PASSPHRASE' });
    expect(existsSync(join(home, 'repo'))).toBe(false);
  });
});
