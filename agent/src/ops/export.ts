import type { Writable } from 'node:stream';
import { exportTar } from '../snapshot/tar-export.js';
import { findNode, normalizeIncludes } from '../snapshot/tree-walk.js';
import { UsageError } from '../util/errors.js';
import type { Services } from './services.js';

export async function exportOp(svc: Services, args: { snapshot: string; path?: string }, out: Writable): Promise<void> {
  const { snapshot } = await svc.repo.resolveSnapshot(args.snapshot);
  const includes = args.path ? normalizeIncludes([args.path]) : [];
  if (args.path && !(await findNode(svc.repo, snapshot.tree, includes[0] ?? '')))
    throw new UsageError(`${args.path} is not in snapshot ${args.snapshot}`, 'E_NOT_FOUND');
  await exportTar(svc.repo, snapshot.tree, includes, out);
}
