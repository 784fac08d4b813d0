import type { PruneArgs } from '../../../../protocol/api.js';
import { pruneOp } from '../../ops/prune.js';
import type { PruneProgress } from '../../ops/progress.js';
import { UsageError } from '../../util/errors.js';
import { runJob, type Context } from '../context.js';
import { formatBytes, printJson } from '../format.js';
import { ProgressLine } from '../progress.js';
import { AFTER_CANCEL } from '../ctrl-c.js';

export async function pruneCommand(ctx: Context, opts: { dryRun?: boolean; maxUnused?: string }): Promise<void> {
  const pct = opts.maxUnused === undefined ? undefined : Number(opts.maxUnused.replace(/%$/, ''));
  if (pct !== undefined && !(pct >= 0 && pct <= 100)) throw new UsageError(`--max-unused ${opts.maxUnused}: expected a percentage from 0 to 100`, 'E_BAD_ARGS');
  const args: PruneArgs = { dryRun: opts.dryRun === true, ...(pct !== undefined ? { maxUnusedPercent: pct } : {}) };
  let p: PruneProgress = { phase: 'plan', done: 0, total: 0 };
  let progress: ProgressLine | undefined;
  let r;
  try {
    r = await runJob(
      ctx,
      'prune',
      args,
      'prune',
      (svc, signal) => {
        progress = new ProgressLine('prune', () => ({ files: p.done, bytes: 0, totalFiles: p.total }), ctx.clock);
        return svc.repo.writeLock.with(1, () => pruneOp(svc, args, (x) => (p = x), signal));
      },
      { afterCancel: AFTER_CANCEL.prune },
    );
  } finally {
    progress?.stop();
  }
  if (ctx.json) return printJson(r);
  const verb = r.dryRun ? 'would' : 'did';
  const out = [
    `${r.snapshots} snapshots kept; ${r.blobsForgotten} blobs no longer needed`,
    `${verb} delete ${r.packsDeleted} packs, repack ${r.packsRepacked}${r.strayPacks ? `, remove ${r.strayPacks} unindexed` : ''}${r.dryRun ? '' : ` (${r.packsWritten} new packs written)`}`,
    `local packs: ${formatBytes(r.storedBytesBefore)} -> ${r.dryRun ? 'about ' : ''}${formatBytes(r.storedBytesAfter)} (${formatBytes(r.freedBytes)} ${r.dryRun ? 'to give back' : 'given back'})`,
  ];
  for (const d of r.deleteRequests) out.push(`friend ${d.friend}: ${d.packs} packs ${d.sent ? 'to delete, request taken; ' : ''}${d.detail}`);
  process.stdout.write(out.join('\n') + '\n');
}
