import { resolve } from 'node:path';
import { Restorer } from '../snapshot/restorer.js';
import { findNode, normalizeIncludes, walkTree } from '../snapshot/tree-walk.js';
import { UsageError } from '../util/errors.js';
import type { RestoreArgs, RestoreResult } from '../../../protocol/api.js';
import type { Services } from './services.js';

/** Concurrent pack fetches per online friend during a restore. */
const PREFETCH_PER_FRIEND = 2;

export async function restoreOp(svc: Services, args: RestoreArgs, onStart?: (r: Restorer, totalBytes?: number) => void): Promise<RestoreResult> {
  const { id, snapshot } = await svc.repo.resolveSnapshot(args.snapshot);
  const includes = normalizeIncludes(args.include);
  const target = resolve(args.target);
  const restorer = new Restorer(svc.repo, { target, includes, overwrite: args.overwrite });
  onStart?.(restorer, includes.length === 0 ? snapshot.summary.sizeBytes : undefined);
  const warnings: string[] = [];
  if (svc.mesh) {
    // Packs missing locally come from friends: fetch them all first, spread over every holder.
    svc.mesh.reader.fetched.clear();
    const packs = await packsOf(svc, snapshot.tree, args.from !== undefined ? normalizeIncludes([args.from]) : includes);
    const online = (await svc.mesh.peers()).filter((p) => p.online).length;
    warnings.push(...(await svc.mesh.reader.prefetch(packs, Math.max(2, online * PREFETCH_PER_FRIEND))));
  }
  if (args.from !== undefined) {
    const dir = await findNode(svc.repo, snapshot.tree, args.from);
    if (!dir) throw new UsageError(`${args.from} is not in snapshot ${args.snapshot}`, 'E_NOT_FOUND');
    await restorer.runInto(dir);
  } else await restorer.run(snapshot.tree);
  const fetched = Object.fromEntries(svc.mesh?.reader.fetched ?? []);
  return { snapshot: id, target, files: restorer.progress.filesDone, bytes: restorer.progress.bytesDone, errors: restorer.errors, warnings: [...warnings, ...restorer.warnings], fetched };
}

/** Every data pack the selected part of a snapshot needs. */
async function packsOf(svc: Services, tree: string, includes: string[]): Promise<string[]> {
  const packs = new Set<string>();
  for await (const { node } of walkTree(svc.repo, tree, includes)) {
    for (const id of node.content ?? []) {
      const e = svc.repo.index.get(id);
      if (e) packs.add(e.packId);
    }
  }
  return [...packs];
}
