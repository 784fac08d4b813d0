import { resolve } from 'node:path';
import { Restorer } from '../../snapshot/restorer.js';
import { normalizeIncludes } from '../../snapshot/tree-walk.js';
import { CairnError } from '../../util/errors.js';
import type { Context } from '../context.js';
import { withRepo } from '../context.js';
import { formatBytes, printJson } from '../format.js';
import { ProgressLine } from '../progress.js';

export async function restoreCommand(ctx: Context, snap: string, opts: { target: string; include?: string[]; overwrite?: boolean }): Promise<void> {
  await withRepo(ctx, async (repo) => {
    const { id, snapshot } = await repo.resolveSnapshot(snap);
    const includes = normalizeIncludes(opts.include ?? []);
    const restorer = new Restorer(repo, { target: resolve(opts.target), includes, overwrite: opts.overwrite === true });
    const progress = new ProgressLine(
      'restore',
      () => ({ files: restorer.progress.filesDone, bytes: restorer.progress.bytesDone, ...(includes.length === 0 ? { totalBytes: snapshot.summary.sizeBytes, totalFiles: snapshot.summary.files } : {}) }),
      ctx.clock,
    );
    try {
      await restorer.run(snapshot.tree);
    } finally {
      progress.stop();
    }
    for (const w of restorer.warnings) process.stderr.write(`warning: ${w}\n`);
    for (const e of restorer.errors) process.stderr.write(`error: ${e}\n`);
    const summary = { snapshot: id, target: resolve(opts.target), files: restorer.progress.filesDone, bytes: restorer.progress.bytesDone, errors: restorer.errors, warnings: restorer.warnings };
    if (ctx.json) printJson(summary);
    else process.stdout.write(`restored ${summary.files} files (${formatBytes(summary.bytes)}) from snapshot ${id.slice(0, 8)} to ${summary.target}\n`);
    if (restorer.errors.length > 0) {
      throw new CairnError('E_RESTORE_INCOMPLETE', `restore incomplete: ${restorer.errors.length} item${restorer.errors.length === 1 ? '' : 's'} could not be restored; first: ${restorer.errors[0]}`);
    }
  });
}
