import { Repository } from '../../repo/repository.js';
import { passphraseFor, type Context } from '../context.js';
import { printJson } from '../format.js';

export async function initCommand(ctx: Context): Promise<void> {
  const { repo, recoveryPhrase } = await Repository.init(ctx.home, await passphraseFor(ctx, true), new Date(ctx.clock.now()));
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
