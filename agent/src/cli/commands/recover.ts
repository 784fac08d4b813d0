import { parseConfig } from '../../config/load.js';
import { openRoot } from '../../compose-root.js';
import { checkRecoveryPassphrase, recoverOp, recoveryRoot, type RecoverReport } from '../../ops/recover.js';
import { notificationsPath } from '../../repo/home.js';
import { DEFAULT_REPLICAS } from '../defaults.js';
import { passphraseFor, type Context } from '../context.js';
import { printJson } from '../format.js';
import { readRecoveryPhrase } from '../recovery-phrase.js';

export async function recoverCommand(ctx: Context, opts: { invite: string; phraseFile?: string }): Promise<void> {
  const root = recoveryRoot(await readRecoveryPhrase(opts));
  const passphrase = await passphraseFor(ctx, true);
  const settingsPaths = { config: ctx.configFile, notifications: notificationsPath(ctx.home), checkConfig: parseConfig };
  await checkRecoveryPassphrase(passphrase);
  // the repository created from the root secret, and a mesh node on an ephemeral loopback port (the
  // snapshot blobs are read from friends' packs through its reader)
  const home = await openRoot({
    home: ctx.home,
    passphrase,
    clock: ctx.clock,
    create: { root },
    mesh: {
      onlyWithFriends: false,
      options: { listen: ['/ip4/127.0.0.1/tcp/0'], name: 'recovering', replicas: DEFAULT_REPLICAS, diskFloorBytes: 0, clock: ctx.clock },
    },
  });
  try {
    await recoverOp({ repo: home.repo, mesh: home.mesh }, { invite: opts.invite, settingsPaths }, (r) => show(ctx, r));
  } finally {
    await home.close();
  }
}

function show(ctx: Context, r: RecoverReport): void {
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
}
