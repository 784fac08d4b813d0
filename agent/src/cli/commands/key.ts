// `cairn key show-phrase`: the recovery phrase again, from the key file and the passphrase, on a
// terminal only (a pipe or a container log would keep it).
import { readKeyFile } from '../../ops/keys.js';
import { UsageError } from '../../util/errors.js';
import { passphraseFor, type Context } from '../context.js';
import { phraseBlock, phraseMayShow } from '../recovery-phrase.js';

export async function showPhraseCommand(ctx: Context): Promise<void> {
  if (ctx.json || !phraseMayShow())
    throw new UsageError(
      `the recovery phrase is shown only on a terminal, never into a pipe, --json or a container's own log: run it in a terminal, e.g. docker compose exec cairn cairn key show-phrase`,
      'E_NOT_A_TERMINAL',
    );
  const keyFile = await readKeyFile(ctx.home);
  process.stdout.write(phraseBlock(keyFile.phrase(await passphraseFor(ctx))));
}
