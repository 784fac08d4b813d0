// Packs a friend holds for us that our index no longer knows: left by a prune that crashed before
// its delete requests were queued (older agents queued them only after deleting the local files),
// by a replication round that pushed a pack while a prune was dropping it, or by a copy the friend
// took whose record we lost. The replication audit hands each friend's listing here; such packs get
// a delete request queued, which the friend honours only after its deletion grace, like prune's.
//
// Why "not in our index" means "pruned": a pack is pushed to a friend only once it is in the index
// (the packer writes and fsyncs a pack, then indexes it; replication pushes only indexed packs),
// and a pack leaves the index only through prune. A backup in progress has packs on our disk that
// are not indexed yet, but none of them at a friend. What the friend lists was therefore indexed
// before we asked; if the index (read after the answer) no longer names it, prune dropped it.
// One case breaks this: an index that lacks packs it should have (a recovery that could not read a
// pack's header). So before asking for any deletion, every blob our snapshots need must be in the
// index; if one is not, nothing is queued and the audit reports why.
// The friend keeps listing a pack through its deletion grace: a pack we asked about (prune or an
// earlier sweep) is asked about again only after ORPHAN_REASK_MS, so rounds during the grace cost
// neither a walk of our trees nor a request (the friend keeps the first due time either way).
import { liveBlobs } from '../repo/prune.js';
import type { Repository } from '../repo/repository.js';
import { errorMessage } from '../util/errors.js';
import type { OurCopies } from './copies-ledger.js';
import type { Deletes } from './delete-ledger.js';

/** A pack we queued a delete request for at a friend is asked about again after this long at the earliest. */
export const ORPHAN_REASK_MS = 24 * 3600_000;

export interface OrphanSweep {
  /** Delete requests newly queued for this friend. */
  queued: number;
  /** Why none were queued although the friend holds packs we do not index. */
  problem?: string;
}

/** Queues deletes for the packs in `held` (what friend `peerId` listed as ours) that our index no longer names. */
export async function queueOrphanDeletes(
  ledgers: { copies: OurCopies; deletes: Deletes },
  repo: Repository,
  peerId: string,
  held: ReadonlySet<string>,
  nowMs: number,
): Promise<OrphanSweep> {
  // read after the friend's answer: whatever it listed was indexed before it got there
  const indexed = new Set<string>();
  for (const [, e] of repo.index.all()) indexed.add(e.packId);
  const queued = (await ledgers.deletes.outbox()).get(peerId) ?? new Map<string, number>();
  const asked = await ledgers.deletes.deletesAsked(peerId);
  const deleted = [...asked.keys()].filter((id) => !held.has(id));
  if (deleted.length > 0) await ledgers.deletes.forgetDeletesAsked(peerId, deleted);
  const orphans = [...held].filter((id) => !indexed.has(id) && !queued.has(id) && !(nowMs - (asked.get(id) ?? -Infinity) < ORPHAN_REASK_MS));
  if (orphans.length === 0) return { queued: 0 };
  let missing: string | undefined;
  try {
    const { live } = await liveBlobs(repo);
    for (const id of live) {
      if (!repo.index.has(id)) {
        missing = `blob ${id} is not in the index`;
        break;
      }
    }
  } catch (err) {
    missing = errorMessage(err);
  }
  if (missing !== undefined) {
    return {
      queued: 0,
      problem: `holds ${orphans.length} packs our index does not name, kept there because our index is incomplete (${missing}): run "cairn check"`,
    };
  }
  const sizes = new Map<string, number>();
  for (const id of orphans) sizes.set(id, await ledgers.copies.size(id, peerId));
  await ledgers.deletes.queueDeletesAt(peerId, sizes, nowMs);
  return { queued: orphans.length };
}
