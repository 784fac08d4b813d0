import { checkOp } from '../../ops/check.js';
import { CairnError, throwIfCancelled } from '../../util/errors.js';
import { runJob, type Context } from '../context.js';
import { printJson } from '../format.js';
import { ProgressLine } from '../progress.js';
import { AFTER_CANCEL } from '../ctrl-c.js';

export async function checkCommand(ctx: Context, opts: { readData?: boolean; readDataSubset?: string }): Promise<void> {
  let done = 0;
  let total = 0;
  let progress: ProgressLine | undefined;
  let r;
  try {
    const args = { readData: opts.readData === true, ...(opts.readDataSubset !== undefined ? { readDataSubset: opts.readDataSubset } : {}) };
    r = await runJob(
      ctx,
      'check',
      args,
      'check',
      (svc, signal) => {
        progress = new ProgressLine('check', () => ({ files: done, bytes: 0, totalFiles: total }), ctx.clock);
        // check only reads: a cancel stops it before the next pack
        return checkOp(svc, args, (d, t) => {
          throwIfCancelled(signal);
          done = d;
          total = t;
        });
      },
      { afterCancel: AFTER_CANCEL.check },
    );
  } finally {
    progress?.stop();
  }
  const errors = r.problems.filter((p) => p.severity === 'error');
  if (ctx.json) printJson(r);
  else {
    for (const p of r.problems) process.stdout.write(`${p.severity}: ${p.message}\n`);
    process.stdout.write(
      `checked ${r.snapshots} snapshots, ${r.trees} trees, ${r.blobs} blobs, ${r.packs} packs` +
        `${opts.readData || opts.readDataSubset !== undefined ? ` (${r.packsRead} read in full)` : ' (structure only; --read-data reads every byte)'}: ` +
        `${errors.length === 0 ? 'no errors' : `${errors.length} error${errors.length === 1 ? '' : 's'}`}\n`,
    );
  }
  if (errors.length > 0)
    throw new CairnError('E_CHECK_FAILED', `check found ${errors.length} error${errors.length === 1 ? '' : 's'}; first: ${errors[0]?.message}`);
}
