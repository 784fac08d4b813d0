// Friend operations: invites, pairing, the friend list, replication.
import type { InviteArgs, InviteResult, PairArgs, PairResult, PeersResult, ReplicateArgs, ReplicateResult } from '../../../protocol/api.js';
import type { FriendRemoveArgs, FriendRemoveResult } from '../../../protocol/console-api.js';
import { needMesh, type Services } from './services.js';

/** How long `replicate --wait` keeps trying before it says why copies are missing. */
const REPLICATE_WAIT_ROUNDS = 5;

export async function inviteOp(svc: Services, args: InviteArgs): Promise<InviteResult> {
  return needMesh(svc, 'creating an invite').invite(args.quotaBytes, args.expiresInMs);
}

export async function pairOp(svc: Services, args: PairArgs): Promise<PairResult> {
  return needMesh(svc, 'pairing').pair(args.code, args.quotaBytes);
}

export async function peersOp(svc: Services): Promise<PeersResult> {
  return needMesh(svc, 'listing friends').peers();
}

export async function replicateOp(svc: Services, args: ReplicateArgs): Promise<ReplicateResult> {
  const mesh = needMesh(svc, 'replication');
  let r = await mesh.replicate();
  for (let round = 1; args.wait && round < REPLICATE_WAIT_ROUNDS && r.underReplicated > 0 && r.pushed > 0; round++) r = await mesh.replicate();
  return r;
}

export async function friendRemoveOp(svc: Services, args: FriendRemoveArgs & { dryRun: boolean }): Promise<FriendRemoveResult> {
  return needMesh(svc, 'removing a friend').removeFriend(args.peerId, args.dryRun);
}
