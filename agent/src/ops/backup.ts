import { resolve } from 'node:path';
import { Archiver, type VolumeSpec } from '../snapshot/archiver.js';
import type { UnchangedFileCache } from '../snapshot/file-cache.js';
import type { BackupArgs, BackupResult } from '../../../protocol/api.js';
import type { SnapshotMeta } from '../../../protocol/snapshot.js';
import type { ClockDeps, HomeDeps, RepoDeps } from './services.js';

/**
 * Makes one snapshot of `paths` (and `extra.volumes`, Docker volumes read by ops/volumes.ts, with
 * `extra.fileCache` their unchanged-file cache); the parent is the latest snapshot of the same
 * source (or, for ad-hoc backups, of the same set of paths). It runs under ops/run-backup.ts
 * (the write lock, the activity record), the one place a backup is started.
 */
export async function backupOp(
  svc: RepoDeps & ClockDeps & HomeDeps,
  args: BackupArgs,
  onStart?: (a: Archiver) => void,
  extra: { volumes?: VolumeSpec[]; meta?: SnapshotMeta; signal?: AbortSignal; fileCache?: UnchangedFileCache } = {},
): Promise<BackupResult> {
  const abs = [...new Set([...args.paths, ...(extra.volumes ?? []).map((v) => v.path)].map((p) => resolve(p)))].sort();
  const sameSource = (s: { paths: string[]; source?: string }) =>
    args.source !== undefined ? s.source === args.source : s.source === undefined && JSON.stringify(s.paths) === JSON.stringify(abs);
  const parent = (await svc.repo.listSnapshots()).filter((s) => sameSource(s.snapshot)).at(-1);
  const archiver = new Archiver(svc.repo, {
    paths: abs,
    tags: args.tags,
    clock: svc.clock,
    skip: [svc.home],
    ...(args.source !== undefined ? { source: args.source } : {}),
    ...(args.exclude ? { exclude: args.exclude } : {}),
    ...(args.oneFileSystem ? { oneFileSystem: true } : {}),
    ...(args.dryRun ? { dryRun: true } : {}),
    ...(parent ? { parent } : {}),
    ...extra,
  });
  onStart?.(archiver);
  const { id, snapshot } = await archiver.run();
  return {
    id,
    shortId: id.slice(0, 8),
    time: snapshot.time,
    paths: snapshot.paths,
    tags: snapshot.tags,
    parent: snapshot.parent ?? null,
    unreadable: archiver.unreadable,
    ...(args.dryRun ? { dryRun: true } : {}),
    ...(snapshot.meta ? { meta: snapshot.meta } : {}),
    ...snapshot.summary,
  };
}
