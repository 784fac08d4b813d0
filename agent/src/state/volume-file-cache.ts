// The unchanged-file cache of volumes read through their mountpoint (SPEC 8, sublevel `volumeFiles`):
// "<volume>!<path below it>" -> JSON {size, mtimeNs, ctimeNs, inode, dev, content}. The snapshot
// layer sees it only through its own narrow interface (snapshot/file-cache.ts `UnchangedFileCache`),
// which this class satisfies; the database stays here.
import type { CachedFile } from '../../../protocol/snapshot.js';
import type { Sublevels } from './db.js';

/** Where a volume's entries live: "<volume>!<rel>" (volume names never hold "!"). */
const cacheKey = (volume: string, rel: string) => `${volume}!${rel}`;

export class VolumeFileCache {
  constructor(private readonly files: Sublevels['volumeFiles']) {}

  async get(volume: string, rel: string): Promise<CachedFile | undefined> {
    const raw = await this.files.get(cacheKey(volume, rel));
    return raw === undefined ? undefined : (JSON.parse(raw) as CachedFile);
  }

  /** Replaces everything cached for `volume` with `entries` (rel -> file). */
  async replace(volume: string, entries: ReadonlyArray<readonly [string, CachedFile]>): Promise<void> {
    // '"' follows '!': the range holds exactly this volume's keys
    await this.files.clear({ gte: `${volume}!`, lt: `${volume}"` });
    await this.files.batch(entries.map(([rel, v]) => ({ type: 'put' as const, key: cacheKey(volume, rel), value: JSON.stringify(v) })));
  }
}
