// The restorer's own pack fetches (restic's filerestorer): when packs may be missing here (they are
// at friends), a restore plans which packs it will read, the data packs of the selected entries in
// the order it reads them, and fetches them ahead of itself, a few at once, while it writes; a read
// that gets to a pack first fetches it itself (or joins its fetch). Who counts what each restore
// fetched is the source's business (mesh/mesh-reader.ts counts per restore, by async context).
import type { Repository } from '../repo/repository.js';
import { errorMessage } from '../util/errors.js';
import { walkTree, type WalkExclude } from './tree-walk.js';

/** Where packs missing here come from: the mesh's reader. */
export interface PackPrefetcher {
  /** Fetches the packs in order, `concurrency` at once; starts none once `signal` aborts; resolves with what could not be fetched. */
  prefetch(packIds: string[], concurrency: number, signal?: AbortSignal): Promise<string[]>;
}

/** A restore's fetching ahead: from where, how many packs at once, and packs to fetch before the planned ones (the snapshot's metadata). */
export interface FetchAhead {
  from: PackPrefetcher;
  concurrency: number;
  first?: string[];
}

/** Every data pack the selected part of tree `tree` needs, in the order a restore reads them, `first` before them. */
export async function packsToRead(
  repo: Repository,
  tree: string,
  includes: string[],
  exclude: WalkExclude | undefined,
  first: string[] = [],
): Promise<string[]> {
  const packs = new Set(first);
  for await (const { node } of walkTree(repo, tree, includes, '', exclude)) {
    for (const id of node.content ?? []) {
      const e = repo.index.get(id);
      if (e) packs.add(e.packId);
    }
  }
  return [...packs];
}

/**
 * Plans and starts the fetches of a restore of `tree`: `done` resolves (never rejects) with what
 * could not be fetched once all are fetched or, after `stop()`, those under way have finished.
 */
export function fetchAhead(
  repo: Repository,
  ahead: FetchAhead,
  tree: string,
  includes: string[],
  exclude: WalkExclude | undefined,
): { stop: () => void; done: Promise<string[]> } {
  const stopping = new AbortController();
  const done = packsToRead(repo, tree, includes, exclude, ahead.first)
    .then((packs) => ahead.from.prefetch(packs, ahead.concurrency, stopping.signal))
    // a tree that cannot be read fails the restore itself, with its own error
    .catch((err: unknown) => [errorMessage(err)]);
  return { stop: () => stopping.abort(), done };
}
