// Creating a repository in a home: `cairn init` and the agent's first start (`cairn recover` creates
// one from the recovery phrase: ops/recover.ts).
import { Repository } from '../repo/repository.js';

/** A new repository in `home` (E_EXISTS when there is one): its ID and the recovery phrase of its root secret. */
export async function createRepoOp(home: string, passphrase: string, now: Date): Promise<{ repoId: string; recoveryPhrase: string }> {
  const { repo, recoveryPhrase } = await Repository.init(home, passphrase, now);
  await repo.close();
  return { repoId: repo.config.repoId, recoveryPhrase };
}
