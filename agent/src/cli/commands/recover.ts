import { parseConfig } from '../../config/load.js';
import { recoverOp, recoveryRoot } from '../../ops/recover.js';
import { notificationsPath } from '../../repo/home.js';
import { DEFAULT_REPLICAS } from '../defaults.js';
import { passphraseFor, type Context } from '../context.js';
import { printJson } from '../format.js';
import { readRecoveryPhrase } from '../recovery-phrase.js';

export async function recoverCommand(ctx: Context, opts: { invite: string; phraseFile?: string }): Promise<void> {
  const root = recoveryRoot(await readRecoveryPhrase(opts));
  const passphrase = await passphraseFor(ctx, true);
  const settingsPaths = { config: ctx.configFile, notifications: notificationsPath(ctx.home), checkConfig: parseConfig };
  await recoverOp(ctx.home, passphrase, root, { invite: opts.invite, clock: ctx.clock, replicas: DEFAULT_REPLICAS, settingsPaths }, (r) => {
    if (ctx.json) return printJson(r);
    for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
    const settings =
      r.settings.length > 0
        ? `settings recovered: ${r.settings.map((s) => (s.beside ? `${s.file} (in ${s.path})` : s.path)).join(', ')}\n`
        : `no settings came back (the lost host had no cairn.yaml, or its agent was older than settings in the snapshot list): write cairn.yaml again if it had one\n`;
    process.stdout.write(
      `recovered repository ${r.repoId}: ${r.snapshots} snapshots (head seq ${r.headSeq}), ${r.packs} packs at friends, friends: ${r.friends.join(', ')}\n` +
        settings +
        `next: "cairn restore latest --target DIR" fetches data from friends; "cairn agent" resumes replication and the schedules\n`,
    );
  });
}
