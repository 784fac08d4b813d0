// What the snapshot layer needs of the volumes' unchanged-file cache (the mountpoint read path,
// SPEC 6.1 and 8): look a file up, and after the snapshot is committed replace a volume's entries.
// The state's LevelDB implements it (state/volume-file-cache.ts); the caller passes it in.
import type { CachedFile } from '../../../protocol/snapshot.js';

export type { CachedFile };

export interface UnchangedFileCache {
  /** The file at `rel` below `volume` as last read, or undefined. */
  get(volume: string, rel: string): Promise<CachedFile | undefined>;
  /** Replaces everything cached for `volume` with `entries` (rel -> file, field order kept). */
  replace(volume: string, entries: ReadonlyArray<readonly [string, CachedFile]>): Promise<void>;
}
