// The pairing service: serves /cairn/pair/1.0.0 (pair.ts) to joiners, and makes friendships from
// the owner's side: an invite code to give a friend, or pairing with a friend's code.
import { randomBytes } from 'node:crypto';
import type { InviteResult, PairResult } from '../../../protocol/api.js';
import { decodeInvite, encodeInvite, INVITE_SECRET_BYTES, InviteFormatError, inviteId } from '../../../protocol/invite.js';
import { PROTOCOLS } from '../../../protocol/mesh.js';
import { UsageError } from '../util/errors.js';
import type { MeshContext } from './context.js';
import type { FriendGate } from './friend-gate.js';
import type { FriendPresence } from './friend-presence.js';
import { pairHandler, pairWith } from './pair.js';
import { ProtocolService, type Startable } from './service.js';

export class Pairing implements Startable {
  private readonly ctx: MeshContext;
  private readonly gate: FriendGate;
  private readonly presence: FriendPresence;
  private readonly addresses: () => string[];
  private readonly service: ProtocolService;

  constructor(ctx: MeshContext, gate: FriendGate, presence: FriendPresence, addresses: () => string[]) {
    this.ctx = ctx;
    this.gate = gate;
    this.presence = presence;
    this.addresses = addresses;
    this.service = new ProtocolService(ctx.node, PROTOCOLS.pair, pairHandler(ctx));
  }

  start(): Promise<void> {
    return this.service.start();
  }

  stop(): Promise<void> {
    return this.service.stop();
  }

  private get peerId(): string {
    return this.ctx.node.peerId.toString();
  }

  async invite(quotaBytes: number, expiresInMs: number): Promise<InviteResult> {
    const secret = randomBytes(INVITE_SECRET_BYTES).toString('hex');
    const expiresAt = Math.floor((this.ctx.clock.now() + expiresInMs) / 1000);
    await this.ctx.friends.putInvite({ id: inviteId(secret), secret, expiresAt, quotaBytes, failures: 0, used: false });
    this.gate.inviteOpened();
    const code = encodeInvite({ peerId: this.peerId, addrs: this.addresses(), expiresAt, quotaBytes, secret });
    return { code, expiresAt: new Date(expiresAt * 1000).toISOString(), quotaBytes };
  }

  async pair(code: string, quotaBytes: number): Promise<PairResult> {
    let invite;
    try {
      invite = decodeInvite(code);
    } catch (err) {
      if (err instanceof InviteFormatError) throw new UsageError(err.message, 'E_INVITE_FORMAT');
      throw err;
    }
    if (invite.peerId === this.peerId) throw new UsageError('this invite was made by this agent: give it to a friend', 'E_INVITE_SELF');
    const accept = await pairWith(this.ctx, invite, quotaBytes);
    const now = new Date(this.ctx.clock.now()).toISOString();
    const friends = this.ctx.friends;
    const existing = await friends.get(invite.peerId);
    await friends.put({
      peerId: invite.peerId,
      name: accept.name.slice(0, 64) || invite.peerId.slice(-8),
      addrs: invite.addrs,
      grantToPeer: existing && accept.known ? existing.grantToPeer : quotaBytes,
      grantFromPeer: accept.grantBytes,
      createdAt: existing?.createdAt ?? now,
      lastSeen: now,
      shortfall: null,
      problems: existing?.problems ?? [],
    });
    await this.presence.welcome(invite.peerId);
    const f = await friends.get(invite.peerId);
    return { peerId: invite.peerId, name: f?.name ?? '', grantToPeer: f?.grantToPeer ?? 0, grantFromPeer: f?.grantFromPeer ?? 0 };
  }
}
