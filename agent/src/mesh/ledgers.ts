// The mesh's ledgers in the agent's LevelDB, one per concern: friends (and invites), the packs and
// heads we hold for friends, our copies at friends, deletes both ways, storage challenges, restore
// drills and our own newest head. Each is small and takes only its sublevels. The composition root
// (compose-root.ts) opens them once on the state database it opened, and hands them to the mesh and
// to the operations (ops/services.ts LedgerDeps); the repository holds none of them.
import type { Sublevels } from '../state/db.js';
import { ChallengeLedger } from './challenge-ledger.js';
import { OurCopies } from './copies-ledger.js';
import { Deletes } from './delete-ledger.js';
import { DrillLedger } from './drill-ledger.js';
import { Friends } from './friend-ledger.js';
import { HostedPacks } from './hosted-ledger.js';
import { OwnHead } from './own-head-ledger.js';

export interface Ledgers {
  friends: Friends;
  hostedPacks: HostedPacks;
  copies: OurCopies;
  deletes: Deletes;
  /** Storage challenges of our copies at friends (mesh/challenger.ts). */
  challenges: ChallengeLedger;
  /** Restore drills: the last one's result, and per copy (mesh/drill.ts, ops/drill.ts). */
  drills: DrillLedger;
  /** Our newest signed head (head-chain.ts). */
  ownHead: OwnHead;
}

export function openLedgers(state: Sublevels): Ledgers {
  const copies = new OurCopies(state);
  return {
    friends: new Friends(state),
    hostedPacks: new HostedPacks(state),
    copies,
    deletes: new Deletes(state, copies),
    challenges: new ChallengeLedger(state),
    drills: new DrillLedger(state),
    ownHead: new OwnHead(state),
  };
}

/** Forgets a friend: our records of copies at them, the head they gave us, and the friendship (packs we hold for them are removed by the caller). */
export async function forgetFriend(ledgers: Pick<Ledgers, 'friends' | 'hostedPacks' | 'copies' | 'challenges'>, peerId: string): Promise<void> {
  await ledgers.copies.forgetFriend(peerId);
  await ledgers.challenges.forgetFriend(peerId);
  await ledgers.hostedPacks.removeHead(peerId);
  await ledgers.friends.remove(peerId);
}
