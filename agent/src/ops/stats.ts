// `stats`, as restic has it: what the (filtered) snapshots would restore, and what the repository
// stores: unique blobs before and after compression and encryption, and the local pack files.
import type { StatsArgs, StatsResult } from '../../../protocol/api.js';
import { BlobType } from '../repo/blob.js';
import { matchesFilter } from '../repo/snapshot-filter.js';
import type { RepoDeps } from './services.js';
import { packUsage } from '../store/pack-store.js';

export async function statsOp(svc: RepoDeps, args: StatsArgs): Promise<StatsResult> {
  const list = (await svc.repo.listSnapshots()).filter((s) => matchesFilter(s.snapshot, args.filter));
  const restoreSize = { files: 0, bytes: 0 };
  for (const { snapshot } of list) {
    restoreSize.files += snapshot.summary.files;
    restoreSize.bytes += snapshot.summary.sizeBytes;
  }
  const local = await packUsage(svc.repo.store);
  const stored = { dataBlobs: 0, treeBlobs: 0, rawBytes: 0, storedBytes: 0, packs: local.packs, packBytes: local.bytes };
  for (const [, e] of svc.repo.index.all()) {
    if (e.type === BlobType.data) {
      stored.dataBlobs++;
      stored.rawBytes += e.rawLength;
    } else if (e.type === BlobType.tree) stored.treeBlobs++;
    stored.storedBytes += e.sealedLength;
  }
  return {
    snapshots: list.length,
    restoreSize,
    stored,
    dedupRatio: stored.rawBytes > 0 ? restoreSize.bytes / stored.rawBytes : null,
    compressionRatio: stored.storedBytes > 0 ? stored.rawBytes / stored.storedBytes : null,
  };
}
