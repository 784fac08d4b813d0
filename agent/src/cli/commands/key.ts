// `cairn key show-phrase`: the recovery phrase again, from the key file and the passphrase, on a
// terminal only (a pipe or a container log would keep it).
import { readFile } from 'node:fs/promises';
import { parseKeyFile, unlockKeyFile } from '../../crypto/key-file.js';
import { rootToPhrase } from '../../crypto/phrase.js';
import { homePaths } from '../../repo/home.js';
import { UsageError } from '../../util/errors.js';
import { passphraseFor, type Context } from '../context.js';
import { phraseBlock, phraseMayShow } from '../recovery-phrase.js';

export async function showPhraseCommand(ctx: Context): Promise<void> {
  if (ctx.json || !phraseMayShow()) throw new UsageError(`the recovery phrase is shown only on a terminal, never into a pipe, --json or a container's own log: run it in a terminal, e.g. docker compose exec cairn cairn key show-phrase`, 'E_NOT_A_TERMINAL');
  const path = homePaths(ctx.home).keyFile;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`no repository in ${ctx.home}: cannot read ${path}: ${(err as Error).message}`, 'E_NO_REPO');
  }
  const root = unlockKeyFile(parseKeyFile(text, path), await passphraseFor(ctx), path);
  process.stdout.write(phraseBlock(rootToPhrase(root)));
}
