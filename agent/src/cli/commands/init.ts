import { Repository } from '../../repo/repository.js';
import type { Context } from '../context.js';
import { printJson } from '../format.js';
import { getPassphrase } from '../passphrase.js';

export async function initCommand(ctx: Context): Promise<void> {
  const passphrase = await getPassphrase({ ...(ctx.passphraseFile ? { passphraseFile: ctx.passphraseFile } : {}), confirm: true });
  const { repo, recoveryPhrase } = await Repository.init(ctx.home, passphrase, new Date(ctx.clock.now()));
  await repo.close();
  if (ctx.json) {
    printJson({ repoId: repo.config.repoId, home: ctx.home, recoveryPhrase });
    return;
  }
  process.stdout.write(
    `Created repository ${repo.config.repoId} in ${ctx.home}\n\n` +
      `Recovery phrase (shown once; write it down and keep it away from this machine):\n\n  ${recoveryPhrase}\n\n` +
      `With it and any friend holding your packs you can restore everything if this host is lost.\n`,
  );
}
