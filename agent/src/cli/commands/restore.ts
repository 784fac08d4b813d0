import { restoreOp } from '../../ops/restore.js';
import type { Restorer } from '../../snapshot/restorer.js';
import { CairnError } from '../../util/errors.js';
import { withServices, type Context } from '../context.js';
import { formatBytes, printJson } from '../format.js';
import { ProgressLine } from '../progress.js';

export async function restoreCommand(ctx: Context, snapshot: string, opts: { target: string; include?: string[]; overwrite?: boolean }): Promise<void> {
  let progress: ProgressLine | undefined;
  const onStart = (r: Restorer, totalBytes?: number) => {
    progress = new ProgressLine('restore', () => ({ files: r.progress.filesDone, bytes: r.progress.bytesDone, ...(totalBytes !== undefined ? { totalBytes } : {}) }), ctx.clock);
  };
  let r;
  try {
    r = await withServices(ctx, (svc) => restoreOp(svc, { snapshot, target: opts.target, include: opts.include ?? [], overwrite: opts.overwrite === true }, onStart));
  } finally {
    progress?.stop();
  }
  for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
  for (const e of r.errors) process.stderr.write(`error: ${e}\n`);
  if (ctx.json) printJson(r);
  else process.stdout.write(`restored ${r.files} files (${formatBytes(r.bytes)}) from snapshot ${r.snapshot.slice(0, 8)} to ${r.target}\n`);
  if (r.errors.length > 0) {
    throw new CairnError('E_RESTORE_INCOMPLETE', `restore incomplete: ${r.errors.length} item${r.errors.length === 1 ? '' : 's'} could not be restored; first: ${r.errors[0]}`);
  }
}
