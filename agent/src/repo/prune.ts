// Prune: give back the space no remaining snapshot needs. Live blobs are found by walking every
// snapshot's trees; a pack with nothing live is deleted, a pack whose unused share is above the
// threshold is repacked (its live blobs copied, still sealed and verified, into new packs), and a
// pack file the index does not know (left by an interrupted backup or prune) is deleted.
//
// Crash order (kill -9 anywhere leaves a repository that check --read-data accepts):
//   1. new packs are written and fsynced, then indexed (the packer's own order): from here the
//      index points the moved blobs at the new packs;
//   2. the index entries of blobs that are not live and still point at doomed packs are deleted,
//      in one synced LevelDB batch that also queues the delete requests for friends holding the
//      doomed packs (the caller's queueDeletes): from here nothing in the index names a doomed
//      pack, and every friend known to hold one is due to be asked to delete it;
//   3. the doomed pack files are deleted.
// A crash before 2 leaves old packs referenced and complete; between 2 and 3 it leaves unindexed
// pack files, which the next prune deletes, and the friends' deletes queued. Callers hold the
// repository write lock throughout.
import type { Repository } from './repository.js';
import { loadTree } from './trees.js';
import type { IndexEntry } from './index.js';
import type { StateOp } from '../state/db.js';

/** Repack a pack when more than this share of its blob bytes is no longer needed. */
export const DEFAULT_MAX_UNUSED = 0.2;

export interface PrunePlan {
  snapshots: number;
  liveBlobs: number;
  /** Indexed packs with no live blob. */
  deletePacks: string[];
  /** Indexed packs above the unused threshold that still hold live blobs. */
  repackPacks: string[];
  /** Pack files the index does not reference. */
  strayPacks: string[];
  /** Bytes of live blobs that will be copied. */
  repackLiveBytes: number;
  /** Bytes of the local pack files that go (deleted, repacked and stray packs). */
  freedBytes: number;
  storedBytesBefore: number;
  /** Unreferenced blobs whose index entries go. */
  deadBlobs: number;
}

export interface PruneProgress {
  phase: 'plan' | 'repack' | 'index' | 'delete';
  done: number;
  total: number;
}

/** Every blob a remaining snapshot needs: snapshot blobs, trees and file contents. */
export async function liveBlobs(repo: Repository): Promise<{ live: Set<string>; snapshots: number }> {
  const live = new Set<string>();
  const snapshots = await repo.listSnapshots();
  const walk = async (treeId: string): Promise<void> => {
    if (live.has(treeId)) return;
    live.add(treeId);
    for (const node of (await loadTree(repo, treeId)).nodes) {
      if (node.type === 'dir' && node.subtree) await walk(node.subtree);
      for (const blob of node.content ?? []) live.add(blob);
    }
  };
  for (const { id, snapshot } of snapshots) {
    live.add(id);
    if (snapshot.meta) live.add(snapshot.meta);
    await walk(snapshot.tree);
  }
  return { live, snapshots: snapshots.length };
}

export async function planPrune(
  repo: Repository,
  maxUnused = DEFAULT_MAX_UNUSED,
  onProgress?: (p: PruneProgress) => void,
): Promise<{ plan: PrunePlan; live: Set<string> }> {
  onProgress?.({ phase: 'plan', done: 0, total: 1 });
  const { live, snapshots } = await liveBlobs(repo);
  const packs = new Map<string, { indexed: number; live: number }>();
  let deadBlobs = 0;
  for (const [id, e] of repo.index.all()) {
    const p = packs.get(e.packId) ?? { indexed: 0, live: 0 };
    p.indexed += e.sealedLength;
    if (live.has(id)) p.live += e.sealedLength;
    else deadBlobs += 1;
    packs.set(e.packId, p);
  }
  const stored = new Map<string, number>();
  for await (const info of repo.store.list()) stored.set(info.id, info.sizeBytes);
  const plan: PrunePlan = {
    snapshots,
    liveBlobs: live.size,
    deletePacks: [],
    repackPacks: [],
    strayPacks: [],
    repackLiveBytes: 0,
    freedBytes: 0,
    storedBytesBefore: 0,
    deadBlobs,
  };
  for (const size of stored.values()) plan.storedBytesBefore += size;
  for (const [packId, p] of [...packs].sort((a, b) => a[0].localeCompare(b[0]))) {
    if (p.live === 0) plan.deletePacks.push(packId);
    else if (1 - p.live / p.indexed > maxUnused) {
      plan.repackPacks.push(packId);
      plan.repackLiveBytes += p.live;
    } else continue;
    plan.freedBytes += stored.get(packId) ?? 0;
  }
  for (const [packId, size] of stored) {
    if (!packs.has(packId)) {
      plan.strayPacks.push(packId);
      plan.freedBytes += size;
    }
  }
  onProgress?.({ phase: 'plan', done: 1, total: 1 });
  return { plan, live };
}

/**
 * Carries out a plan. Returns the bytes of new packs written by repacking. `queueDeletes` gives
 * the writes that queue delete requests for the doomed packs; they go into the index's batch.
 */
export async function executePrune(
  repo: Repository,
  plan: PrunePlan,
  live: Set<string>,
  onProgress?: (p: PruneProgress) => void,
  queueDeletes?: (packIds: string[]) => Promise<StateOp[]>,
): Promise<{ writtenBytes: number; packsWritten: number }> {
  const doomed = new Set([...plan.deletePacks, ...plan.repackPacks]);
  // 1. copy the live blobs of repacked packs into new packs (verified: prune never launders damage)
  const moving: Array<[string, IndexEntry]> = [];
  for (const [id, e] of repo.index.all()) if (live.has(id) && plan.repackPacks.includes(e.packId)) moving.push([id, e]);
  moving.sort((a, b) => a[1].packId.localeCompare(b[1].packId) || a[1].offset - b[1].offset);
  const before = repo.packStats();
  let done = 0;
  for (const [id, e] of moving) {
    const sealed = await repo.reader.getRange(e.packId, e.offset, e.sealedLength);
    repo.openBlob(id, e.type, e, sealed);
    await repo.addSealedBlob(id, e, sealed);
    done += 1;
    if (done % 64 === 0) onProgress?.({ phase: 'repack', done, total: moving.length });
  }
  await repo.flush();
  onProgress?.({ phase: 'repack', done: moving.length, total: moving.length });
  // 2. forget the blobs that still live in doomed packs (all dead now: live ones moved)
  const gone: string[] = [];
  for (const [id, e] of repo.index.all()) if (doomed.has(e.packId)) gone.push(id);
  onProgress?.({ phase: 'index', done: 0, total: gone.length });
  await repo.forgetBlobs(gone, queueDeletes ? await queueDeletes([...doomed].sort()) : []);
  // 3. delete the pack files
  const files = [...doomed, ...plan.strayPacks];
  onProgress?.({ phase: 'delete', done: 0, total: files.length });
  let deleted = 0;
  for (const packId of files) {
    await repo.store.delete(packId);
    deleted += 1;
    if (deleted % 16 === 0) onProgress?.({ phase: 'delete', done: deleted, total: files.length });
  }
  onProgress?.({ phase: 'delete', done: files.length, total: files.length });
  const after = repo.packStats();
  return { writtenBytes: after.packedBytes - before.packedBytes, packsWritten: after.packsWritten - before.packsWritten };
}
