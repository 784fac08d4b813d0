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
import type { HomeDeps, RepoDeps } from './services.js';

/**
 * `cairn key show-phrase`: the home's key file, read and parsed (E_NO_REPO when there is none), so
 * the passphrase is asked only for a home that has one; `phrase` unlocks it and gives the recovery phrase.
 */
export async function readKeyFile(home: string): Promise<{ keyFile: string; phrase(passphrase: string): Promise<string> }> {
  const path = homePaths(home).keyFile;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`no repository in ${home}: cannot read ${path}: ${(err as Error).message}`, 'E_NO_REPO');
  }
  const kf = parseKeyFile(text, path);
  return { keyFile: path, phrase: async (passphrase) => rootToPhrase(await unlockKeyFile(kf, passphrase, path)) };
}

/** `first` when it unlocks the home's key file (or the key file cannot be read: opening it says so), else `second`. */
export async function passphraseThatOpens(home: string, first: string, second: string): Promise<string> {
  const path = homePaths(home).keyFile;
  try {
    await unlockKeyFile(parseKeyFile(await readFile(path, 'utf8'), path), first, path);
    return first;
  } catch (err) {
    return err instanceof WrongPassphraseError ? second : first;
  }
}

export async function recoveryPhraseCheckOp(svc: RepoDeps, args: RecoveryPhraseCheckArgs): Promise<RecoveryPhraseCheckResult> {
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

export async function passphraseChangeOp(svc: HomeDeps & RepoDeps, args: PassphraseChangeArgs): Promise<PassphraseChangeResult> {
  return changePassphrase(svc.home, svc.repo.paths.keyFile, args);
}

/**
 * Re-wraps the root secret under a new passphrase (the console's settings and `cairn key passwd`).
 * The key file is replaced whole (temp file, fsync, rename, fsync of the directory): a crash leaves
 * the old key file or the new one, each opened by its own passphrase. CAIRN_HOME/passphrase (kept by
 * unattended installs) is kept in step in three steps: "current, next" (either line opens the key
 * file, cli/passphrase.ts tries the second when the first fails), the key file, then "next" alone,
 * so no crash leaves a home whose passphrase file opens nothing.
 */
export async function changePassphrase(home: string, keyFile: string, args: PassphraseChangeArgs): Promise<PassphraseChangeResult> {
  const kf = parseKeyFile(await readFile(keyFile, 'utf8'), keyFile);
  let root: Buffer;
  try {
    root = await unlockKeyFile(kf, args.current, keyFile);
  } catch (err) {
    if (err instanceof WrongPassphraseError) throw new UsageError('the current passphrase is wrong', 'E_CURRENT_PASSPHRASE');
    throw err;
  }
  if (args.next === args.current) throw new UsageError('the new passphrase is the current one', 'E_USAGE');
  if (args.next === '' || args.next.includes('\n')) throw new UsageError('the new passphrase must be one line, not empty', 'E_USAGE');
  await checkNewPassphrase(args.next);
  const sealed = Buffer.from(JSON.stringify(await makeKeyFile(root, kf.repoId, args.next), null, 2) + '\n');
  // unattended installs keep the passphrase in CAIRN_HOME/passphrase: keep it in step
  const homeFile = join(home, 'passphrase');
  const inStep = existsSync(homeFile) && (await readFile(homeFile, 'utf8')).split('\n')[0] === args.current;
  if (inStep) await writeFileAtomic(homeFile, Buffer.from(`${args.current}\n${args.next}\n`), 0o600);
  await writeFileAtomic(keyFile, sealed);
  if (!inStep) return { updatedFile: null };
  await writeFileAtomic(homeFile, Buffer.from(args.next + '\n'), 0o600);
  return { updatedFile: homeFile };
}
