// Replication: every pack of ours should live at `replicas` friends (capped by the number of
// friends). Each pack goes to the friends with the most unused grant (PUSH_CONCURRENCY packs in
// flight at once, each to as many friends at once as copies are missing, each push on a stream of
// its own: side-by-side.ts); a pack that does not fit what is left of a
// friend's grant goes elsewhere (smaller ones may still fit there); a refusal (over quota, disk
// floor) is recorded as that friend's shortfall, the friend gets no more packs this round, and the
// next friend is tried. Each push is atomic at the friend, so an interrupted round simply resumes
// with the next one. Before the packs, each connected friend lists what it holds of ours, and
// copies it no longer has stop counting, and so do copies that fail a storage challenge
// (challenger.ts: a few packs per friend each round); after them, the signed head goes to every friend.
// Friends are audited and sent the head side by side, and every exchange has a deadline
// (deadline.ts): a slow or lying friend delays only its own part of a round. Once a push to a
// friend fails for want of an answer, its other pushes in flight are cut off too.
// Repair rides on the same round (repair.ts): friends away longer than repair-after stop counting,
// friends back are challenged before they count again, grants that shrank move packs elsewhere, and
// surplus copies are released; grant messages waiting for a friend go out first (grant.ts).
import { peerIdFromString } from '@libp2p/peer-id';
import type { AuditFriend, ReplicateResult } from '../../../protocol/api.js';
import { formatBytes } from '../../../protocol/format.js';
import { MAX_LIST_PAGE, packChargeBytes } from '../../../protocol/mesh.js';
import type { Repository } from '../repo/repository.js';
import { errorMessage, throwIfCancelled } from '../util/errors.js';
import { mapLimit } from '../util/semaphore.js';
import type { ChallengeMode, Challenger } from './challenger.js';
import type { MeshContext } from './context.js';
import { offersSpace, type Friendship } from './friend-ledger.js';
import { RefusedError } from './framing.js';
import { nextHead, type HeadExtras } from './head-chain.js';
import { getHead, putHead } from './head.js';
import { queueOrphanDeletes } from './orphan-packs.js';
import { listPacks } from './pack-list.js';
import { deliverGrantMessages } from './grant.js';
import { putPack } from './pack-put.js';
import { countingCopies, markAway, proveReturned, releaseExtras } from './repair.js';
import { reachOf } from './reachability.js';
import { trySideBySide } from './side-by-side.js';

/** Packs pushed at once (each to as many friends at once as copies of it are missing). */
const PUSH_CONCURRENCY = 3;
/** Friends audited, or sent the head, at once. */
const FRIEND_CONCURRENCY = 8;

/** The storage challenges a round carries (mesh/challenger.ts): the rotation's, or every pack's for `cairn audit`. */
export interface RoundChallenges {
  challenger: Challenger;
  mode: ChallengeMode;
  /** Each friend challenged, once the round has run. */
  reports?: AuditFriend[];
}

export async function replicateOnce(
  ctx: MeshContext,
  repo: Repository,
  replicas: number,
  challenges: RoundChallenges,
  repairAfterMs: number,
  headExtras: HeadExtras = {},
  /** A cancelled round starts no more pushes (those under way finish and are recorded), sends no head. */
  signal?: AbortSignal,
): Promise<ReplicateResult> {
  const problems: string[] = [];
  const back: string[] = [];
  // friends gone longer than repair-after are marked away first: their copies stop counting (repair.ts)
  // friends that offer us no space (a relay) hold nothing of ours: no packs, no head
  const friends = await markAway(ctx, (await ctx.friends.list()).filter(offersSpace), repairAfterMs, problems);
  const wanted = Math.min(replicas, friends.length);
  // grant changes and requests for space not yet delivered (grant.ts)
  await deliverGrantMessages(
    ctx,
    friends.filter((f) => f.awaySince === undefined),
    problems,
  );
  const packIds = new Set<string>();
  for (const [, e] of repo.index.all()) packIds.add(e.packId);
  let counted = await ctx.copies.map();
  // copies a friend no longer has stop counting first, so the pushes below make new ones
  if (await auditFriends(ctx, friends, counted.byPack, packIds.size, problems, repo)) counted = await ctx.copies.map();
  // then copies that fail a storage challenge: the pushes below copy them again
  if (await challenges.challenger.reconcile(friends, counted)) counted = await ctx.copies.map();
  // a friend back after an absence: each of its copies is challenged before it counts again
  const proved = await proveReturned(ctx, challenges.challenger, friends, counted, problems, back);
  if (proved.length > 0) counted = await ctx.copies.map();
  const provedIds = new Set(proved.map((r) => r.peerId));
  const c = await challenges.challenger.run(
    friends.filter((f) => !provedIds.has(f.peerId)),
    counted,
    challenges.mode,
    problems,
  );
  challenges.reports = [...proved.filter((r) => challenges.mode.kind === 'all' && (challenges.mode.peerId ?? r.peerId) === r.peerId), ...c.reports];
  if (c.lost) counted = await ctx.copies.map();
  /** Copies that failed a challenge: pushed again with a recheck, so a friend holding damaged bytes takes the pack anew. */
  const failedAt = new Set((await ctx.challenges.failures()).map((f) => `${f.packId}!${f.peerId}`));
  // the copies that count: none at a friend still away, nor queued for deletion, nor beyond a grant
  const current = await ctx.friends.list();
  const plan = await countingCopies(ctx, current, counted);
  const away = new Set(current.filter((f) => f.awaySince !== undefined).map((f) => f.peerId));
  const { byPack } = plan;
  const { bytesAt } = counted;
  const unreachable = new Set<string>();
  /** Per friend: aborted once it proves unreachable, so its other pushes in flight stop too. */
  const cutOff = new Map(friends.map((f) => [f.peerId, new AbortController()]));
  const full = new Set<string>();
  let pushed = 0;
  let pushedBytes = 0;
  let under = 0;
  const pushOne = async (packId: string): Promise<void> => {
    throwIfCancelled(signal);
    let holders = byPack.get(packId);
    if (!holders) byPack.set(packId, (holders = new Set<string>()));
    if (holders.size >= wanted) return;
    const info = await repo.store.stat(packId);
    if (!info) {
      if (holders.size === 0) {
        const awayHolders = [...(counted.byPack.get(packId) ?? [])].filter((h) => away.has(h));
        problems.push(
          awayHolders.length > 0
            ? `pack ${packId} is not local, and only friends away longer than repair-after hold it: it cannot be copied until one is back`
            : `pack ${packId} is neither local nor at any friend`,
        );
      }
      under += 1;
      return;
    }
    // friends reached only through a relay last: a relayed copy crosses the relay's uplink twice
    const candidates = friends
      .filter((f) => !holders.has(f.peerId) && !away.has(f.peerId) && !unreachable.has(f.peerId) && !full.has(f.peerId))
      .sort(
        (a, b) =>
          reachRank(ctx, a.peerId) - reachRank(ctx, b.peerId) ||
          b.grantFromPeer - (bytesAt.get(b.peerId) ?? 0) - (a.grantFromPeer - (bytesAt.get(a.peerId) ?? 0)),
      );
    // what the friend charges against its grant (at least MIN_PACK_CHARGE_BYTES a pack)
    const charge = packChargeBytes(info.sizeBytes);
    // as many friends at once as copies are missing: one that stalls holds up only its own attempt
    await trySideBySide(
      candidates,
      () => wanted - holders.size,
      async (f) => {
        if (unreachable.has(f.peerId) || full.has(f.peerId)) return; // found out while this pack waited
        if ((bytesAt.get(f.peerId) ?? 0) + charge > f.grantFromPeer) {
          // this pack does not fit what is left of the grant; a smaller one may, so the friend
          // stays a candidate (a round fills the grant, and the next one finds nothing more to add)
          await ctx.friends.update(f.peerId, (x) => (x.shortfall = `our packs need more than the ${formatBytes(f.grantFromPeer)} ${f.name} granted`));
          return;
        }
        // count the bytes before pushing: concurrent pushes must not all fit the same remaining grant
        bytesAt.set(f.peerId, (bytesAt.get(f.peerId) ?? 0) + charge);
        try {
          const recheck = failedAt.has(`${packId}!${f.peerId}`);
          const r = await putPack(
            ctx,
            peerIdFromString(f.peerId),
            packId,
            info.sizeBytes,
            (off, target) => repo.store.readInto(packId, off, target),
            cutOff.get(f.peerId)?.signal,
            { recheck },
          );
          // a copy that failed and is still "had" after the recheck counts only once it passes a challenge
          if (recheck && r === 'had' && !(await challenges.challenger.prove(f, packId, info.sizeBytes))) {
            bytesAt.set(f.peerId, (bytesAt.get(f.peerId) ?? 0) - charge);
            problems.push(`${f.name} says it still holds pack ${packId.slice(0, 12)} after failing a challenge, and fails again: it is copied elsewhere`);
            return;
          }
          await ctx.copies.add(packId, f.peerId, info.sizeBytes);
          await ctx.deletes.unqueue(f.peerId, packId); // a release queued for this copy is called off: it is wanted again
          await ctx.challenges.repaired(packId, f.peerId);
          holders.add(f.peerId);
          if (r === 'stored') {
            pushed += 1;
            pushedBytes += info.sizeBytes;
          }
          await ctx.friends.update(f.peerId, (x) => {
            x.shortfall = null;
            x.lastSeen = new Date(ctx.clock.now()).toISOString();
          });
        } catch (err) {
          bytesAt.set(f.peerId, (bytesAt.get(f.peerId) ?? 0) - charge);
          if (err instanceof RefusedError) {
            full.add(f.peerId);
            await ctx.friends.update(f.peerId, (x) => (x.shortfall = `${err.wireCode}: ${err.message}`));
            problems.push(`${f.name} refused pack ${packId.slice(0, 12)}: ${err.message}`);
          } else if (!unreachable.has(f.peerId)) {
            unreachable.add(f.peerId);
            cutOff.get(f.peerId)?.abort(err);
            problems.push(`${f.name} is unreachable: ${errorMessage(err)}`);
          }
        }
      },
    );
    if (holders.size < wanted) under += 1;
  };
  // a few packs at once: the friend's disk work (write, fsync) overlaps our sending
  await mapLimit([...packIds].sort(), PUSH_CONCURRENCY, pushOne);
  throwIfCancelled(signal);
  await challenges.challenger.clearRepaired(packIds, byPack, wanted);
  // copies beyond what is wanted, or beyond a grant once their pack has its copies elsewhere, are released
  const released = await releaseExtras(ctx, current, plan, packIds, counted, wanted);
  // the sealed friend list names every friend, relays too (they hold nothing but a recovered host needs them)
  // and carries the owner's settings (cairn.yaml, notifications) as they are now
  const { head } = await nextHead(repo, ctx.ownHead, ctx.privateKey, current, new Date(ctx.clock.now()), headExtras);
  await mapLimit(friends, FRIEND_CONCURRENCY, async (f) => {
    if (unreachable.has(f.peerId) || away.has(f.peerId)) return;
    try {
      const peer = peerIdFromString(f.peerId);
      await putHead(ctx, peer, head);
      // audit: a friend must give back what it keeps; an older head means it is rolling us back
      const kept = await getHead(ctx, peer);
      if (!kept || kept.head.seq < head.head.seq) {
        const msg = `serves ${kept ? `an older snapshot list (seq ${kept.head.seq})` : 'no snapshot list'} after taking seq ${head.head.seq}: possible rollback`;
        problems.push(`${f.name} ${msg}`);
        await ctx.friends.addProblem(f.peerId, msg);
      }
    } catch (err) {
      problems.push(`${f.name} did not take our head seq ${head.head.seq}: ${errorMessage(err)}`);
      if (err instanceof RefusedError) await ctx.friends.addProblem(f.peerId, `refused head seq ${head.head.seq}: ${err.message}`);
    }
  });
  return {
    packs: packIds.size,
    underReplicated: under,
    wantedCopies: wanted,
    pushed,
    pushedBytes,
    headSeq: head.head.seq,
    problems,
    repair: { away: current.filter((f) => away.has(f.peerId)).map((f) => f.name), back, released },
  };
}

/** Replication's order of preference: a friend reached only through a relay after the others (not yet connected ones are dialled, maybe directly). */
function reachRank(ctx: MeshContext, peerId: string): number {
  return reachOf(ctx.node, peerId).reach === 'relayed' ? 1 : 0;
}

/**
 * Most pack IDs taken from a friend's listing in an audit: what we counted there and every pack of
 * our index (it may hold any of them, e.g. a push whose record a crash lost), twice over for packs
 * it still keeps within its deletion grace after a prune, and a page more.
 */
export function auditListCap(countedThere: number, indexPacks: number): number {
  return 2 * (countedThere + indexPacks) + MAX_LIST_PAGE;
}

/**
 * Asks every friend we are connected to which of our packs it holds (pack-list). A pack we counted
 * at a friend that it does not list is gone there (a friend that put back an older copy of its
 * disk, or lost it): it stops counting as a copy, so this round copies it again, and the friend's
 * problems say so. Friends we are not connected to are left for the pushes to reach (no dial
 * here: an offline friend must not cost a round twice); a friend that cannot answer is reported.
 * Only a friend's word is taken here; damaged bytes are caught when packs are fetched.
 * Returns whether any copy stopped counting.
 */
async function auditFriends(
  ctx: MeshContext,
  friends: Friendship[],
  byPack: Map<string, Set<string>>,
  indexPacks: number,
  problems: string[],
  repo: Repository,
): Promise<boolean> {
  const counted = new Map<string, string[]>();
  for (const [packId, holders] of byPack) {
    for (const h of holders) {
      const list = counted.get(h);
      if (list) list.push(packId);
      else counted.set(h, [packId]);
    }
  }
  let lost = false;
  await mapLimit(friends, FRIEND_CONCURRENCY, async (f) => {
    const ours = counted.get(f.peerId) ?? [];
    const peer = peerIdFromString(f.peerId);
    if (ours.length === 0 || ctx.node.getConnections(peer).length === 0) return;
    let held: Set<string>;
    try {
      held = new Set((await listPacks(ctx, peer, auditListCap(ours.length, indexPacks))).map((p) => p.id));
    } catch (err) {
      problems.push(`${f.name} did not list the packs it holds for us: ${errorMessage(err)}`);
      return;
    }
    const orphans = await queueOrphanDeletes(ctx, repo, f.peerId, held, ctx.clock.now()); // packs we pruned: mesh/orphan-packs.ts
    if (orphans.problem) problems.push(`${f.name} ${orphans.problem}`);
    const gone = ours.filter((id) => !held.has(id));
    if (gone.length === 0) return;
    lost = true;
    await ctx.copies.removeAt(f.peerId, gone);
    const msg = `no longer holds ${gone.length} of the ${ours.length} packs it had taken (e.g. ${(gone[0] as string).slice(0, 12)}): they no longer count as copies there and are copied again`;
    problems.push(`${f.name} ${msg}`);
    await ctx.friends.addProblem(f.peerId, msg);
  });
  return lost;
}
