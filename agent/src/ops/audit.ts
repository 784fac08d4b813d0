// cairn audit: a storage-challenge round over every pack at every friend (or one), now, riding on a
// replication round (mesh/challenger.ts); with `wait`, more rounds while they make progress, so the
// packs that failed are copied again before it returns.
import type { AuditArgs, AuditResult, ReplicateResult } from '../../../protocol/api.js';
import { UsageError } from '../util/errors.js';
import type { MeshDeps } from './services.js';

/** Most replication rounds `audit --wait` runs after the challenges (each must make progress). */
const AUDIT_WAIT_ROUNDS = 5;

export async function auditOp(svc: MeshDeps, args: AuditArgs): Promise<AuditResult> {
  const mesh = svc.mesh;
  let peerId: string | undefined;
  if (args.friend !== undefined) {
    const friends = await mesh.ledgers.friends.list();
    const match = friends.filter((f) => f.name === args.friend || f.peerId === args.friend);
    if (match.length !== 1)
      throw new UsageError(
        match.length === 0
          ? `no friend "${args.friend}" (friends: ${friends.map((f) => f.name).join(', ') || 'none'})`
          : `"${args.friend}" names ${match.length} friends: give the PeerId (cairn peers)`,
        match.length === 0 ? 'E_NOT_FOUND' : 'E_USAGE',
      );
    peerId = (match[0] as (typeof friends)[number]).peerId;
  }
  const { result, reports } = await mesh.replication.audit(peerId);
  let r: ReplicateResult = result;
  let pushed = r.pushed;
  let pushedBytes = r.pushedBytes;
  const earlier: string[] = [];
  for (let round = 1; args.wait && round < AUDIT_WAIT_ROUNDS && r.underReplicated > 0 && r.pushed > 0; round++) {
    earlier.push(...r.problems.map((p) => `round ${round} (retried): ${p}`));
    r = await mesh.replication.replicate();
    pushed += r.pushed;
    pushedBytes += r.pushedBytes;
  }
  return { friends: reports, replication: { ...r, pushed, pushedBytes, problems: [...r.problems, ...earlier] } };
}
