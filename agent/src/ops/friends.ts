// Friend operations: invites, pairing, the friend list, replication.
import type { InviteArgs, InviteResult, PairArgs, PairResult, PeersResult, ReplicateArgs, ReplicateResult } from '../../../protocol/api.js';
import type { FriendRemoveArgs, FriendRemoveResult } from '../../../protocol/console-api.js';
import { loadProofs } from './protection.js';
import type { LedgerDeps, MeshDeps } from './services.js';

/** How long `replicate --wait` keeps trying before it says why copies are missing. */
const REPLICATE_WAIT_ROUNDS = 5;

export async function inviteOp(svc: MeshDeps, args: InviteArgs): Promise<InviteResult> {
  return svc.mesh.pairing.invite(args.quotaBytes, args.expiresInMs);
}

export async function pairOp(svc: MeshDeps, args: PairArgs): Promise<PairResult> {
  return svc.mesh.pairing.pair(args.code, args.quotaBytes);
}

export async function peersOp(svc: MeshDeps & LedgerDeps): Promise<PeersResult> {
  const peers = await svc.mesh.directory.peers();
  const proofs = await loadProofs(
    svc,
    peers.map((p) => p.peerId),
  );
  return peers.map((p) => {
    let last = 0;
    for (const t of proofs.get(p.peerId)?.values() ?? []) if (t > last) last = t;
    return { ...p, lastProvedAt: last > 0 ? new Date(last).toISOString() : null };
  });
}

/**
 * One replication round, or with `wait` more while they make progress. The counts pushed add up
 * over the rounds; the state (copies, head) is the last round's; problems of earlier rounds are
 * kept after the last round's, marked with their round (a friend that reset a stream and took the
 * pack on the next try is still worth knowing about).
 */
/** `signal`: a cancelled replication starts no more pushes and no more rounds (the pushes under way finish and count). */
export async function replicateOp(svc: MeshDeps, args: ReplicateArgs, signal?: AbortSignal): Promise<ReplicateResult> {
  const mesh = svc.mesh;
  let r = await mesh.replication.replicate(signal);
  let pushed = r.pushed;
  let pushedBytes = r.pushedBytes;
  const earlier: string[] = [];
  for (let round = 1; args.wait && round < REPLICATE_WAIT_ROUNDS && r.underReplicated > 0 && r.pushed > 0; round++) {
    earlier.push(...r.problems.map((p) => `round ${round} (retried): ${p}`));
    r = await mesh.replication.replicate(signal);
    pushed += r.pushed;
    pushedBytes += r.pushedBytes;
  }
  return { ...r, pushed, pushedBytes, problems: [...r.problems, ...earlier] };
}

export async function friendRemoveOp(svc: MeshDeps, args: FriendRemoveArgs & { dryRun: boolean }): Promise<FriendRemoveResult> {
  return svc.mesh.directory.removeFriend(args.peerId, args.dryRun);
}
