import type { SnapshotsResult } from '../../../protocol/api.js';
import type { Services } from './services.js';

export async function snapshotsOp(svc: Services): Promise<SnapshotsResult> {
  const pins = await svc.repo.pins();
  return (await svc.repo.listSnapshots()).map(({ id, snapshot: s }) => ({
    id,
    shortId: id.slice(0, 8),
    time: s.time,
    hostname: s.hostname,
    paths: s.paths,
    tags: s.tags,
    ...(s.source !== undefined ? { source: s.source } : {}),
    sizeBytes: s.summary.sizeBytes,
    addedBytes: s.summary.addedBytes,
    files: s.summary.files,
    ...(s.parent ? { parent: s.parent } : {}),
    pinned: pins.has(id),
  }));
}
