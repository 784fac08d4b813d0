// prune: removes the data no remaining snapshot needs, locally (repo/prune.ts), and asks friends to
// delete their copies of the packs that went (mesh/pack-delete.ts; they wait out their deletion
// grace first). Holds the repository write lock (OPS table), so no backup runs meanwhile.
import type { PruneArgs, PruneResult } from '../../../protocol/api.js';
import { DEFAULT_MAX_UNUSED, executePrune, planPrune, type PruneProgress } from '../repo/prune.js';
import type { Ledgers } from '../mesh/ledgers.js';
import { throwIfCancelled, UsageError } from '../util/errors.js';
import type { ClockDeps, LedgerDeps, MaybeMeshDeps, RepoDeps } from './services.js';
import { packUsage } from '../store/pack-store.js';

/** What would be (dry run: for `packs`) or is queued for friends, without sending. */
async function queuedFor(ledgers: Ledgers, packs?: string[]): Promise<PruneResult['deleteRequests']> {
  const per = new Map<string, { packs: number; bytes: number }>();
  if (packs) {
    const { byPack } = await ledgers.copies.map();
    for (const p of packs)
      for (const peer of byPack.get(p) ?? []) {
        const x = per.get(peer) ?? { packs: 0, bytes: 0 };
        x.packs += 1;
        per.set(peer, x);
      }
  } else {
    for (const [peer, m] of await ledgers.deletes.outbox()) per.set(peer, { packs: m.size, bytes: [...m.values()].reduce((a, b) => a + b, 0) });
  }
  const out: PruneResult['deleteRequests'] = [];
  for (const [peer, x] of per)
    out.push({
      friend: (await ledgers.friends.get(peer))?.name ?? peer,
      ...x,
      sent: false,
      detail: packs ? 'would be asked to delete them' : 'queued: the agent sends it at its next replication',
    });
  return out;
}

/** `signal`: cancels the prune while it plans; once it deletes or repacks it goes on to the end. */
export async function pruneOp(
  svc: RepoDeps & LedgerDeps & ClockDeps & MaybeMeshDeps,
  args: PruneArgs,
  onProgress?: (p: PruneProgress) => void,
  signal?: AbortSignal,
): Promise<PruneResult> {
  const pct = args.maxUnusedPercent;
  if (pct !== undefined && (!Number.isFinite(pct) || pct < 0 || pct > 100))
    throw new UsageError(`--max-unused ${pct}: expected a percentage from 0 to 100`, 'E_BAD_ARGS');
  const { repo, ledgers } = svc;
  await repo.flush();
  const { plan, live } = await planPrune(repo, pct === undefined ? DEFAULT_MAX_UNUSED : pct / 100, onProgress);
  const gone = [...plan.deletePacks, ...plan.repackPacks];
  let written = { writtenBytes: 0, packsWritten: 0 };
  throwIfCancelled(signal); // the last point where a cancel leaves the repository as it was
  if (!args.dryRun) {
    // our copies at friends go too: queued in the same synced batch as the index change (a crash
    // cannot lose them), sent now when the mesh is up, else at the next replication
    written = await executePrune(repo, plan, live, onProgress, (packs) => ledgers.deletes.deleteRequestOps(packs, svc.clock.now()));
  }
  const deleteRequests = args.dryRun || !svc.mesh ? await queuedFor(ledgers, args.dryRun ? gone : undefined) : await svc.mesh.deletion.sendDeletes();
  const storedBytesAfter = args.dryRun ? plan.storedBytesBefore - plan.freedBytes + plan.repackLiveBytes : (await packUsage(repo.store)).bytes;
  return {
    dryRun: args.dryRun,
    snapshots: plan.snapshots,
    packsDeleted: plan.deletePacks.length,
    packsRepacked: plan.repackPacks.length,
    strayPacks: plan.strayPacks.length,
    packsWritten: written.packsWritten,
    blobsForgotten: plan.deadBlobs,
    storedBytesBefore: plan.storedBytesBefore,
    storedBytesAfter,
    freedBytes: plan.storedBytesBefore - storedBytesAfter,
    deleteRequests,
  };
}
