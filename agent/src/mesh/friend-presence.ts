// Friends on the node: every friend in the peer store with its addresses, tagged keep-alive; and
// what the node sees of them (when connected, the IP a connection came from, the addresses they
// listen on) written to the friends ledger, the gate following.
import { KEEP_ALIVE, type Connection, type IdentifyResult, type PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { ipOf } from './admission.js';
import type { MeshContext } from './context.js';
import type { FriendGate } from './friend-gate.js';
import type { Startable } from './service.js';
import { friendAddrs } from './addresses.js';
import { linkOf } from './relayed-addrs.js';

export class FriendPresence implements Startable {
  private readonly ctx: MeshContext;
  private readonly gate: FriendGate;
  /** Told after a friendship is made or renewed (compose.ts: reachability checks again). */
  onWelcome: (peerId: string) => void = () => undefined;

  constructor(ctx: MeshContext, gate: FriendGate) {
    this.ctx = ctx;
    this.gate = gate;
  }

  private readonly onConnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString();
    if (this.gate.isFriend(id)) void this.ctx.friends.update(id, (f) => (f.lastSeen = new Date(this.ctx.clock.now()).toISOString())).catch(() => undefined);
  };

  /** The last connection closed: the friend was there until now (repair counts its absence from here: repair.ts). */
  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString();
    if (this.gate.isFriend(id)) void this.ctx.friends.update(id, (f) => (f.lastSeen = new Date(this.ctx.clock.now()).toISOString())).catch(() => undefined);
  };

  private readonly onConnectionOpen = (evt: CustomEvent<Connection>): void => {
    const id = evt.detail.remotePeer.toString();
    // a relayed or WebRTC connection's address names the relay's IP, not the friend's
    const ip = linkOf(evt.detail.remoteAddr) === 'direct' ? ipOf(evt.detail.remoteAddr) : null;
    if (!this.gate.isFriend(id) || ip === null || this.gate.isFriendIp(ip)) return;
    void this.ctx.friends
      .sawFriendAt(id, ip)
      .then(() => this.gate.refreshIps())
      .catch(() => undefined);
  };

  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const id = evt.detail.peerId.toString();
    const remote = evt.detail.connection?.remoteAddr.toString() ?? '';
    const addrs = friendAddrs(
      evt.detail.listenAddrs.map((a) => a.toString()),
      remote,
    );
    if (this.gate.isFriend(id) && addrs.length > 0) {
      void this.ctx.friends
        .update(id, (f) => (f.addrs = addrs))
        .then(() => this.gate.refreshIps())
        .catch(() => undefined);
    }
  };

  async start(): Promise<void> {
    const node = this.ctx.node;
    node.addEventListener('peer:connect', this.onConnect);
    node.addEventListener('peer:disconnect', this.onDisconnect);
    node.addEventListener('connection:open', this.onConnectionOpen);
    node.addEventListener('peer:identify', this.onIdentify);
    for (const f of await this.ctx.friends.list()) await this.remember(f.peerId, f.addrs);
  }

  async stop(): Promise<void> {
    const node = this.ctx.node;
    node.removeEventListener('peer:connect', this.onConnect);
    node.removeEventListener('peer:disconnect', this.onDisconnect);
    node.removeEventListener('connection:open', this.onConnectionOpen);
    node.removeEventListener('peer:identify', this.onIdentify);
  }

  /** Puts every friend (or one) in the peer store with its addresses, tagged keep-alive. */
  async remember(peerId?: string, addrs?: string[]): Promise<void> {
    if (peerId === undefined) {
      for (const f of await this.ctx.friends.list()) {
        this.gate.add(f.peerId);
        await this.remember(f.peerId, f.addrs);
      }
      return;
    }
    const valid = (addrs ?? []).flatMap((a) => {
      try {
        return [multiaddr(a)];
      } catch {
        return [];
      }
    });
    await this.ctx.node.peerStore.merge(peerIdFromString(peerId), { multiaddrs: valid, tags: { [KEEP_ALIVE]: { value: 1 } } });
  }

  /** A friendship was made or renewed: the gate lets the friend in, and the node keeps it. */
  async welcome(peerId: string): Promise<void> {
    this.gate.add(peerId);
    await this.gate.refreshInvites();
    // the connection it paired over opened while it was a stranger: where it is seen from counts now
    // (its STUN requests come from there, stun-server.ts)
    for (const c of this.ctx.node.getConnections(peerIdFromString(peerId))) {
      const ip = linkOf(c.remoteAddr) === 'direct' ? ipOf(c.remoteAddr) : null;
      if (ip !== null && !this.gate.isFriendIp(ip)) await this.ctx.friends.sawFriendAt(peerId, ip).catch(() => undefined);
    }
    const f = await this.ctx.friends.get(peerId);
    if (f) await this.remember(peerId, f.addrs);
    await this.gate.refreshIps();
    this.onWelcome(peerId);
  }

  /** A removed friend: the node no longer keeps it, and hangs up on it. */
  async letGo(peerId: string): Promise<void> {
    const peer = peerIdFromString(peerId);
    await this.ctx.node.peerStore.merge(peer, { tags: { [KEEP_ALIVE]: undefined } }).catch(() => undefined);
    await this.ctx.node.hangUp(peer).catch(() => undefined);
  }

  isOnline(peerId: string): boolean {
    return this.ctx.node.getConnections(peerIdFromString(peerId)).length > 0;
  }
}
