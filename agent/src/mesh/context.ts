// What the protocol handlers share: the libp2p node, the ledgers (ledgers.ts), hosted packs, our identity.
import type { Connection, Libp2p, PrivateKey } from '@libp2p/interface';
import { WireError } from '../../../protocol/mesh.js';
import type { Clock } from '../util/clock.js';
import type { TokenBucket } from '../util/rate-limit.js';
import { transferLimits, type TransferLimits } from './deadline.js';
import { RefusedError } from './framing.js';
import type { ChallengeLedger } from './challenge-ledger.js';
import type { OurCopies } from './copies-ledger.js';
import type { Deletes } from './delete-ledger.js';
import type { Friends, Friendship } from './friend-ledger.js';
import type { HostedPacks } from './hosted-ledger.js';
import type { HostedStore } from './hosted-store.js';
import type { OwnHead } from './own-head-ledger.js';

export interface MeshContext {
  node: Libp2p;
  privateKey: PrivateKey;
  friends: Friends;
  /** The ledger of packs (and heads) we hold for friends. */
  hostedPacks: HostedPacks;
  copies: OurCopies;
  deletes: Deletes;
  /** Storage challenges of our copies at friends: last passed, failed copies, budgets. */
  challenges: ChallengeLedger;
  /** Our newest signed head, which replication sends to friends (head-chain.ts). */
  ownHead: OwnHead;
  /** The files of the packs we hold for friends. */
  hosted: HostedStore;
  clock: Clock;
  name: string;
  /** How long we keep a friend's packs after it asked us to delete them (ms); follows the config. */
  deletionGraceMs: number;
  /** Upload limit for packs we push (replication), when the user set one. */
  throttle?: TokenBucket;
  /** Called when a friendship is made or renewed, so the gater and keep-alive follow. */
  onFriend(peerId: string): Promise<void>;
  /** Inactivity timeout and deadlines of mesh exchanges; the protocol's defaults when absent (tests set small ones). */
  limits?: Partial<TransferLimits>;
}

/** The timeouts and deadlines this context's exchanges keep. */
export function limitsOf(ctx: Pick<MeshContext, 'limits'>): TransferLimits {
  return transferLimits(ctx.limits);
}

/** The remote's friendship, or a refusal with E_NOT_FRIEND: every protocol but pairing starts here. */
export async function requireFriend(ctx: Pick<MeshContext, 'friends'>, connection: Connection): Promise<Friendship> {
  const friend = await ctx.friends.get(connection.remotePeer.toString());
  if (!friend) throw new RefusedError(WireError.notFriend, 'not a friend of this agent');
  return friend;
}
