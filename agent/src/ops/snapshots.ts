import type { SnapshotsArgs, SnapshotsResult } from '../../../protocol/api.js';
import type { Snapshot, SnapshotListing } from '../../../protocol/snapshot.js';
import { matchesFilter } from '../repo/snapshot-filter.js';
import type { RepoDeps } from './services.js';

/** The group a snapshot belongs to for --latest: its source, or for ad-hoc backups its host and paths. */
const groupOf = (s: Snapshot) => (s.source !== undefined ? `source:${s.source}` : `adhoc:${s.hostname}:${JSON.stringify(s.paths)}`);

export async function snapshotsOp(svc: RepoDeps, args: SnapshotsArgs = {}): Promise<SnapshotsResult> {
  const pins = await svc.repo.pins();
  let list = (await svc.repo.listSnapshots()).filter((s) => matchesFilter(s.snapshot, args.filter));
  if (args.latest !== undefined) {
    // oldest first: keep the last N of each group
    const seen = new Map<string, number>();
    list = list
      .reverse()
      .filter((s) => {
        const n = (seen.get(groupOf(s.snapshot)) ?? 0) + 1;
        seen.set(groupOf(s.snapshot), n);
        return n <= (args.latest as number);
      })
      .reverse();
  }
  return list.map(({ id, snapshot: s }) => listingOf(id, s, pins.has(id)));
}

/** A snapshot as the listings show it. */
export function listingOf(id: string, s: Snapshot, pinned: boolean): SnapshotListing {
  return {
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
    ...(s.original ? { original: s.original } : {}),
    pinned,
  };
}
