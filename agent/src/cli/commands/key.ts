// `cairn key show-phrase` and `cairn key passwd`. show-phrase: the recovery phrase again, from the key file and the passphrase, on a
// terminal only (a pipe or a container log would keep it).
import { readFile } from 'node:fs/promises';
import { changePassphrase, readKeyFile } from '../../ops/keys.js';
import { UsageError } from '../../util/errors.js';
import { findAgent } from '../agent-client.js';
import { passphraseFor, type Context } from '../context.js';
import { printJson } from '../format.js';
import { promptHidden } from '../passphrase.js';
import { phraseBlock, phraseMayShow } from '../recovery-phrase.js';

export async function showPhraseCommand(ctx: Context): Promise<void> {
  if (ctx.json || !phraseMayShow())
    throw new UsageError(
      `the recovery phrase is shown only on a terminal, never into a pipe, --json or a container's own log: run it in a terminal, e.g. docker compose exec cairn cairn key show-phrase`,
      'E_NOT_A_TERMINAL',
    );
  const keyFile = await readKeyFile(ctx.home);
  process.stdout.write(phraseBlock(await keyFile.phrase(await passphraseFor(ctx))));
}

/**
 * `cairn key passwd [--new-password-file FILE]` (restic's key passwd): the key file re-wrapped under a
 * new passphrase; the old one stops working. The key file is changed in place whether or not the
 * agent runs (the agent holds the unlocked key and never reads the file again until its next start).
 */
export async function passwdCommand(ctx: Context, opts: { newPasswordFile?: string }): Promise<void> {
  const { keyFile } = await readKeyFile(ctx.home); // no repository here: said before any passphrase is asked for
  const current = await passphraseFor(ctx);
  const next = await newPassphrase(opts.newPasswordFile);
  const r = await changePassphrase(ctx.home, keyFile, { current, next });
  const agent = await findAgent(ctx.home);
  if (ctx.json) return printJson({ changed: true, keyFile, updatedFile: r.updatedFile });
  process.stdout.write(`passphrase changed: ${keyFile} opens with the new passphrase only; the recovery phrase stays the same\n`);
  if (r.updatedFile) process.stdout.write(`${r.updatedFile} holds the new passphrase\n`);
  else if (agent || process.env.CAIRN_PASSPHRASE) process.stdout.write('update CAIRN_PASSPHRASE (or your passphrase file) before the agent next starts\n');
}

async function newPassphrase(file: string | undefined): Promise<string> {
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read the new passphrase from ${file}: ${(err as Error).message}`);
    }
    const line = text.split('\n')[0] ?? '';
    if (!line) throw new UsageError(`${file} is empty: its first line is the new passphrase`);
    return line;
  }
  if (!process.stdin.isTTY) throw new UsageError('no new passphrase: give --new-password-file FILE, or run on a terminal to be asked');
  const first = await promptHidden('New passphrase: ');
  if (!first) throw new UsageError('the passphrase must not be empty');
  if ((await promptHidden('New passphrase again: ')) !== first) throw new UsageError('the passphrases do not match');
  return first;
}
