// Who the node lets in (node.ts asks, admission.ts before Noise): friends by PeerId, strangers only
// while an invite is open, and the IPs friends were seen at or listen on (admitted ahead of
// strangers). Kept in memory from the friends ledger, and kept current by the services that
// change friendships (friend-presence.ts, pairing.ts, friend-directory.ts).
import type { PeerId } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import type { Clock } from '../util/clock.js';
import { ipOf } from './admission.js';
import type { Friends } from './friend-ledger.js';
import type { Startable } from './service.js';

export class FriendGate implements Startable {
  private readonly friends: Friends;
  private readonly clock: Clock;
  private readonly friendIds = new Set<string>();
  /** IPs friends were seen at or listen on: admitted ahead of strangers before Noise (admission.ts). */
  private friendIps = new Set<string>();
  private openInvites = 0;

  constructor(friends: Friends, clock: Clock) {
    this.friends = friends;
    this.clock = clock;
  }

  async start(): Promise<void> {
    for (const f of await this.friends.list()) this.friendIds.add(f.peerId);
    await this.refreshIps();
    await this.refreshInvites();
  }

  async stop(): Promise<void> {}

  admits(peer: PeerId): boolean {
    if (this.friendIds.has(peer.toString())) return true;
    return this.openInvites > 0;
  }

  /** True while an invite we issued is open (strangers may connect to pair). */
  inviteOpen(): boolean {
    return this.openInvites > 0;
  }

  isFriend(peerId: string): boolean {
    return this.friendIds.has(peerId);
  }

  isFriendIp(ip: string): boolean {
    return this.friendIps.has(ip);
  }

  add(peerId: string): void {
    this.friendIds.add(peerId);
  }

  drop(peerId: string): void {
    this.friendIds.delete(peerId);
  }

  /** An invite was issued: strangers may connect (for pairing) until it is used or expires. */
  inviteOpened(): void {
    this.openInvites += 1;
  }

  async refreshInvites(): Promise<void> {
    this.openInvites = (await this.friends.openInvites(this.clock.now() / 1000)).length;
  }

  /** Rebuilds the set of IPs friends are known at: where they were last seen, and where they listen. */
  async refreshIps(): Promise<void> {
    const ips = new Set<string>();
    for (const f of await this.friends.list()) {
      for (const ip of f.seenFrom ?? []) ips.add(ip);
      for (const a of f.addrs) {
        try {
          const ip = ipOf(multiaddr(a));
          if (ip !== null && ip !== '0.0.0.0' && ip !== '::') ips.add(ip);
        } catch {
          // not a multiaddr: nothing to admit
        }
      }
    }
    this.friendIps = ips;
  }
}
