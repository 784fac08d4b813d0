import { createRepository } from '../../compose-root.js';
import { passphraseFor, type Context } from '../context.js';
import { printJson } from '../format.js';
import { noticeIfSlow } from '../slow-step.js';
import { phraseBlock, phraseMayShow, SHOW_PHRASE_HINT } from '../recovery-phrase.js';

export async function initCommand(ctx: Context): Promise<void> {
  const passphrase = await passphraseFor(ctx, true);
  const made = noticeIfSlow('checking the passphrase and creating the repository');
  const { repoId, recoveryPhrase } = await createRepository(ctx.home, passphrase, new Date(ctx.clock.now())).finally(made);
  if (ctx.json) {
    // a program asked for it (to put it in a secret store): the JSON carries the phrase
    printJson({ repoId, home: ctx.home, recoveryPhrase });
    return;
  }
  process.stdout.write(`Created repository ${repoId} in ${ctx.home}\n\n`);
  if (phraseMayShow()) {
    process.stdout.write(`${phraseBlock(recoveryPhrase)}With it and any friend holding your packs you can restore everything if this host is lost.\n`);
  } else {
    process.stdout.write(
      `The recovery phrase is not printed: stdout is not a terminal of yours (a pipe, file or container log would keep it). To see it, ${SHOW_PHRASE_HINT}.\n`,
    );
  }
}
