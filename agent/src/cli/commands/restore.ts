import { resolve } from 'node:path';
import { restoreOp } from '../../ops/restore.js';
import type { Restorer } from '../../snapshot/restorer.js';
import { CairnError } from '../../util/errors.js';
import { runOp, type Context } from '../context.js';
import { formatBytes, printJson } from '../format.js';
import { ProgressLine } from '../progress.js';

export async function restoreCommand(ctx: Context, snapshot: string, opts: { target: string; include?: string[]; overwrite?: boolean }): Promise<void> {
  let progress: ProgressLine | undefined;
  const onStart = (r: Restorer, totalBytes?: number) => {
    progress = new ProgressLine('restore', () => ({ files: r.progress.filesDone, bytes: r.progress.bytesDone, ...(totalBytes !== undefined ? { totalBytes } : {}) }), ctx.clock);
  };
  let r;
  try {
    const args = { snapshot, target: resolve(opts.target), include: opts.include ?? [], overwrite: opts.overwrite === true };
    r = await runOp(ctx, 'restore', args, (svc) => restoreOp(svc, args, onStart), { mesh: true });
  } finally {
    progress?.stop();
  }
  for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
  for (const e of r.errors) process.stderr.write(`error: ${e}\n`);
  for (const [friend, n] of Object.entries(r.fetched)) process.stderr.write(`fetched ${n} pack${n === 1 ? '' : 's'} from ${friend}\n`);
  if (ctx.json) printJson(r);
  else process.stdout.write(`restored ${r.files} files (${formatBytes(r.bytes)}) from snapshot ${r.snapshot.slice(0, 8)} to ${r.target}\n`);
  if (r.errors.length > 0) {
    throw new CairnError('E_RESTORE_INCOMPLETE', `restore incomplete: ${r.errors.length} item${r.errors.length === 1 ? '' : 's'} could not be restored; first: ${r.errors[0]}`);
  }
}
