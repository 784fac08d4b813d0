// Creating a repository in a home: `cairn init` and the agent's first start (`cairn recover` creates
// one from the recovery phrase: ops/recover.ts).
import { hostname } from 'node:os';
import { Repository } from '../repo/repository.js';
import { checkNewPassphrase } from './passphrase-policy.js';

/** A new repository in `home` (E_EXISTS when there is one; E_WEAK_PASSPHRASE for a passphrase too easy to guess): its ID and the recovery phrase of its root secret. */
export async function createRepoOp(home: string, passphrase: string, now: Date): Promise<{ repoId: string; recoveryPhrase: string }> {
  await checkNewPassphrase(passphrase, [hostname()]);
  const { repo, recoveryPhrase } = await Repository.init(home, passphrase, now);
  await repo.close();
  return { repoId: repo.config.repoId, recoveryPhrase };
}
