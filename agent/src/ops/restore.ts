import { resolve } from 'node:path';
import { Restorer } from '../snapshot/restorer.js';
import { normalizeIncludes } from '../snapshot/tree-walk.js';
import type { RestoreArgs, RestoreResult } from '../../../protocol/api.js';
import type { Services } from './services.js';

export async function restoreOp(svc: Services, args: RestoreArgs, onStart?: (r: Restorer, totalBytes?: number) => void): Promise<RestoreResult> {
  const { id, snapshot } = await svc.repo.resolveSnapshot(args.snapshot);
  const includes = normalizeIncludes(args.include);
  const target = resolve(args.target);
  const restorer = new Restorer(svc.repo, { target, includes, overwrite: args.overwrite });
  onStart?.(restorer, includes.length === 0 ? snapshot.summary.sizeBytes : undefined);
  await restorer.run(snapshot.tree);
  return { snapshot: id, target, files: restorer.progress.filesDone, bytes: restorer.progress.bytesDone, errors: restorer.errors, warnings: restorer.warnings, fetched: {} };
}
