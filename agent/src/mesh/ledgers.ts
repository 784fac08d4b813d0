// The mesh's ledgers in the agent's LevelDB, one per concern: friends (and invites), the packs and
// heads we hold for friends, our copies at friends, and deletes both ways. Each is small and takes
// only its sublevels; a caller opens the ones it needs (prune: copies and deletes).
import type { Sublevels } from '../state/db.js';
import { ChallengeLedger } from './challenge-ledger.js';
import { OurCopies } from './copies-ledger.js';
import { Deletes } from './delete-ledger.js';
import { Friends } from './friend-ledger.js';
import { HostedPacks } from './hosted-ledger.js';

export interface Ledgers {
  friends: Friends;
  hostedPacks: HostedPacks;
  copies: OurCopies;
  deletes: Deletes;
  /** Storage challenges of our copies at friends (mesh/challenger.ts). */
  challenges: ChallengeLedger;
}

export function openLedgers(state: Sublevels): Ledgers {
  const copies = new OurCopies(state);
  return {
    friends: new Friends(state),
    hostedPacks: new HostedPacks(state),
    copies,
    deletes: new Deletes(state, copies),
    challenges: new ChallengeLedger(state),
  };
}

/** Forgets a friend: our records of copies at them, the head they gave us, and the friendship (packs we hold for them are removed by the caller). */
export async function forgetFriend(ledgers: Pick<Ledgers, 'friends' | 'hostedPacks' | 'copies' | 'challenges'>, peerId: string): Promise<void> {
  await ledgers.copies.forgetFriend(peerId);
  await ledgers.challenges.forgetFriend(peerId);
  await ledgers.hostedPacks.removeHead(peerId);
  await ledgers.friends.remove(peerId);
}
