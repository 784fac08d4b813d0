import { phraseToRoot } from '../../crypto/phrase.js';
import { recoverFromFriends } from '../../mesh/recover.js';
import { Mesh } from '../../mesh/mesh.js';
import { DEFAULT_REPLICAS } from '../defaults.js';
import { Repository } from '../../repo/repository.js';
import { passphraseFor, type Context } from '../context.js';
import { printJson } from '../format.js';
import { readRecoveryPhrase } from '../recovery-phrase.js';

export async function recoverCommand(ctx: Context, opts: { invite: string; phraseFile?: string }): Promise<void> {
  const root = phraseToRoot(await readRecoveryPhrase(opts));
  const passphrase = await passphraseFor(ctx, true);
  const { repo } = await Repository.init(ctx.home, passphrase, new Date(ctx.clock.now()), root);
  let mesh: Mesh | undefined;
  try {
    mesh = await Mesh.start(repo, { listen: ['/ip4/127.0.0.1/tcp/0'], name: 'recovering', replicas: DEFAULT_REPLICAS, diskFloorBytes: 0, clock: ctx.clock });
    const r = await recoverFromFriends(repo, mesh, opts.invite);
    if (ctx.json) return printJson({ repoId: repo.config.repoId, peerId: mesh.peerId, ...r });
    for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(
      `recovered repository ${repo.config.repoId}: ${r.snapshots} snapshots (head seq ${r.headSeq}), ${r.packs} packs at friends, friends: ${r.friends.join(', ')}\n` +
        `next: "cairn restore latest --target DIR" fetches data from friends; "cairn agent" resumes replication\n`,
    );
  } finally {
    await mesh?.stop();
    await repo.close();
  }
}
