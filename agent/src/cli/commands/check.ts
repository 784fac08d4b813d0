import { checkRepository } from '../../repo/checker.js';
import { CairnError } from '../../util/errors.js';
import type { Context } from '../context.js';
import { withRepo } from '../context.js';
import { printJson } from '../format.js';
import { ProgressLine } from '../progress.js';

export async function checkCommand(ctx: Context, opts: { readData?: boolean }): Promise<void> {
  await withRepo(ctx, async (repo) => {
    let done = 0;
    let total = 0;
    const progress = new ProgressLine('check', () => ({ files: done, bytes: 0, totalFiles: total }), ctx.clock);
    let report;
    try {
      report = await checkRepository(repo, { readData: opts.readData === true, onPack: (d, t) => ((done = d), (total = t)) });
    } finally {
      progress.stop();
    }
    const errors = report.problems.filter((p) => p.severity === 'error');
    if (ctx.json) printJson({ ok: errors.length === 0, ...report });
    else {
      for (const p of report.problems) process.stdout.write(`${p.severity}: ${p.message}\n`);
      process.stdout.write(
        `checked ${report.snapshots} snapshots, ${report.trees} trees, ${report.blobs} blobs, ${report.packs} packs` +
          `${opts.readData ? ` (${report.packsRead} read in full)` : ' (structure only; --read-data reads every byte)'}: ` +
          `${errors.length === 0 ? 'no errors' : `${errors.length} error${errors.length === 1 ? '' : 's'}`}\n`,
      );
    }
    if (errors.length > 0) throw new CairnError('E_CHECK_FAILED', `check found ${errors.length} error${errors.length === 1 ? '' : 's'}; first: ${errors[0]?.message}`);
  });
}
