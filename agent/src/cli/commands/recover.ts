import { recoverOp, recoveryRoot } from '../../ops/recover.js';
import { DEFAULT_REPLICAS } from '../defaults.js';
import { passphraseFor, type Context } from '../context.js';
import { printJson } from '../format.js';
import { readRecoveryPhrase } from '../recovery-phrase.js';

export async function recoverCommand(ctx: Context, opts: { invite: string; phraseFile?: string }): Promise<void> {
  const root = recoveryRoot(await readRecoveryPhrase(opts));
  const passphrase = await passphraseFor(ctx, true);
  await recoverOp(ctx.home, passphrase, root, { invite: opts.invite, clock: ctx.clock, replicas: DEFAULT_REPLICAS }, (r) => {
    if (ctx.json) return printJson(r);
    for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(
      `recovered repository ${r.repoId}: ${r.snapshots} snapshots (head seq ${r.headSeq}), ${r.packs} packs at friends, friends: ${r.friends.join(', ')}\n` +
        `next: "cairn restore latest --target DIR" fetches data from friends; "cairn agent" resumes replication\n`,
    );
  });
}
