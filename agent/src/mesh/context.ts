// What the protocol handlers share: the libp2p node, the friend book, hosted packs, our identity.
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface';
import type { Clock } from '../util/clock.js';
import type { FriendBook } from './friends.js';
import type { HostedStore } from './hosted-store.js';

export interface MeshContext {
  node: Libp2p;
  privateKey: PrivateKey;
  book: FriendBook;
  hosted: HostedStore;
  clock: Clock;
  name: string;
  /** Called when a friendship is made or renewed, so the gater and keep-alive follow. */
  onFriend(peerId: string): Promise<void>;
}

export function peerString(p: PeerId): string {
  return p.toString();
}
