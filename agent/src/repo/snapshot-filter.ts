// Which snapshots a SnapshotFilter (protocol/api.ts) matches: restic's --host, --path and --tag
// semantics, plus Cairn's configured sources.
import { resolve } from 'node:path';
import type { SnapshotFilter } from '../../../protocol/api.js';
import type { Snapshot } from '../../../protocol/snapshot.js';

export function matchesFilter(s: Snapshot, f: SnapshotFilter | undefined): boolean {
  if (!f) return true;
  if (f.source !== undefined && s.source !== f.source) return false;
  if (f.host !== undefined && s.hostname !== f.host) return false;
  if (f.paths !== undefined && f.paths.length > 0) {
    const want = [...new Set(f.paths.map((p) => resolve(p)))].sort();
    if (JSON.stringify(want) !== JSON.stringify([...s.paths].sort())) return false;
  }
  if (f.tags !== undefined && f.tags.length > 0) {
    const has = new Set(s.tags);
    const groups = f.tags.map((g) =>
      g
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t !== ''),
    );
    if (!groups.some((g) => g.every((t) => has.has(t)))) return false;
  }
  return true;
}

/** The filter in words, for "no snapshot matches ..." messages. */
export function describeFilter(f: SnapshotFilter | undefined): string {
  const parts: string[] = [];
  if (f?.source !== undefined) parts.push(`source ${f.source}`);
  if (f?.host !== undefined) parts.push(`host ${f.host}`);
  if (f?.paths?.length) parts.push(`paths ${f.paths.join(' ')}`);
  if (f?.tags?.length) parts.push(`tags ${f.tags.join(' or ')}`);
  return parts.join(', ');
}
