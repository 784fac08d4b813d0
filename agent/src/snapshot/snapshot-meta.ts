// A snapshot's metadata blob (SPEC 7): the volumes it holds, how they were read and used, and their
// exact mtimes. Written by the archiver; read by restores and the volume commands.
import type { SnapshotMeta } from '../../../protocol/snapshot.js';
import { BlobType } from '../repo/blob.js';
import type { Repository } from '../repo/repository.js';

/** The snapshot's metadata, or null when it has none (snapshots of plain paths, or made before it existed). */
export async function loadSnapshotMeta(repo: Repository, snapshot: { meta?: string }): Promise<SnapshotMeta | null> {
  if (!snapshot.meta) return null;
  return JSON.parse((await repo.loadBlob(snapshot.meta, BlobType.data)).toString('utf8')) as SnapshotMeta;
}
