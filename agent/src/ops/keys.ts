// The repository's secrets from the console: check a recovery phrase against this repository,
// and change the passphrase that unlocks the key file (the root secret, and so every snapshot and
// the recovery phrase, stay the same).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PassphraseChangeArgs, PassphraseChangeResult, RecoveryPhraseCheckArgs, RecoveryPhraseCheckResult } from '../../../protocol/console-api.js';
import { repoIdFromRoot } from '../crypto/kdf.js';
import { makeKeyFile, parseKeyFile, unlockKeyFile } from '../crypto/key-file.js';
import { phraseToRoot, rootToPhrase } from '../crypto/phrase.js';
import { homePaths } from '../repo/home.js';
import { CairnError, UsageError, WrongPassphraseError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import { checkNewPassphrase } from './passphrase-policy.js';
import type { Services } from './services.js';

/**
 * `cairn key show-phrase`: the home's key file, read and parsed (E_NO_REPO when there is none), so
 * the passphrase is asked only for a home that has one; `phrase` unlocks it and gives the recovery phrase.
 */
export async function readKeyFile(home: string): Promise<{ phrase(passphrase: string): string }> {
  const path = homePaths(home).keyFile;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`no repository in ${home}: cannot read ${path}: ${(err as Error).message}`, 'E_NO_REPO');
  }
  const kf = parseKeyFile(text, path);
  return { phrase: (passphrase) => rootToPhrase(unlockKeyFile(kf, passphrase, path)) };
}

export async function recoveryPhraseCheckOp(svc: Services, args: RecoveryPhraseCheckArgs): Promise<RecoveryPhraseCheckResult> {
  let root: Buffer;
  try {
    root = phraseToRoot(args.phrase);
  } catch (err) {
    if (err instanceof CairnError) return { matches: false, problem: err.message };
    throw err;
  }
  const matches = repoIdFromRoot(root) === svc.repo.config.repoId;
  return { matches, problem: matches ? null : 'a valid phrase, but of another repository' };
}

export async function passphraseChangeOp(svc: Services, args: PassphraseChangeArgs): Promise<PassphraseChangeResult> {
  const path = svc.repo.paths.keyFile;
  const kf = parseKeyFile(await readFile(path, 'utf8'), path);
  let root: Buffer;
  try {
    root = unlockKeyFile(kf, args.current, path);
  } catch (err) {
    if (err instanceof WrongPassphraseError) throw new UsageError('the current passphrase is wrong', 'E_CURRENT_PASSPHRASE');
    throw err;
  }
  if (args.next === args.current) throw new UsageError('the new passphrase is the current one', 'E_USAGE');
  await checkNewPassphrase(args.next);
  await writeFileAtomic(path, Buffer.from(JSON.stringify(makeKeyFile(root, kf.repoId, args.next), null, 2) + '\n'));
  // unattended installs keep the passphrase in CAIRN_HOME/passphrase: keep it in step
  const homeFile = join(svc.home, 'passphrase');
  if (existsSync(homeFile) && (await readFile(homeFile, 'utf8')).split('\n')[0] === args.current) {
    await writeFileAtomic(homeFile, Buffer.from(args.next + '\n'), 0o600);
    return { updatedFile: homeFile };
  }
  return { updatedFile: null };
}
