import { exportTar } from '../../snapshot/tar-export.js';
import { findNode, normalizeIncludes } from '../../snapshot/tree-walk.js';
import { UsageError } from '../../util/errors.js';
import type { Context } from '../context.js';
import { withRepo } from '../context.js';

export async function exportCommand(ctx: Context, snap: string, path: string | undefined): Promise<void> {
  if (process.stdout.isTTY) throw new UsageError('export writes a tar stream: redirect stdout to a file or a pipe (e.g. cairn export latest | tar -x)');
  await withRepo(ctx, async (repo) => {
    const { snapshot } = await repo.resolveSnapshot(snap);
    const includes = path ? normalizeIncludes([path]) : [];
    if (path && !(await findNode(repo, snapshot.tree, includes[0] ?? ''))) throw new UsageError(`${path} is not in snapshot ${snap}`, 'E_NOT_FOUND');
    await exportTar(repo, snapshot.tree, includes, process.stdout);
  });
}
