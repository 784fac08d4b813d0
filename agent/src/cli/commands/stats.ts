import { statsOp } from '../../ops/stats.js';
import { runOp, type Context } from '../context.js';
import { formatBytes, printJson } from '../format.js';
import { filterOf, type FilterCliOptions } from '../snapshot-filter.js';

const ratio = (r: number | null) => (r === null ? '-' : `${r.toFixed(2)}x`);

/** `cairn stats`: restore size of the (filtered) snapshots, and what the repository stores. */
export async function statsCommand(ctx: Context, opts: FilterCliOptions): Promise<void> {
  const filter = filterOf(opts);
  const args = filter ? { filter } : {};
  const r = await runOp(ctx, 'stats', args, (svc) => statsOp(svc, args));
  if (ctx.json) return printJson(r);
  const s = r.stored;
  process.stdout.write(
    [
      `snapshots:       ${r.snapshots}${filter ? ' (matching the filter)' : ''}`,
      `restore size:    ${formatBytes(r.restoreSize.bytes)} in ${r.restoreSize.files} files (every snapshot restored in full)`,
      `unique data:     ${formatBytes(s.rawBytes)} in ${s.dataBlobs} chunks, ${s.treeBlobs} folder listings (the whole repository)`,
      `stored:          ${formatBytes(s.storedBytes)} compressed and encrypted, in ${s.packs} pack files of ${formatBytes(s.packBytes)} on this machine`,
      `deduplication:   ${ratio(r.dedupRatio)}    compression: ${ratio(r.compressionRatio)}`,
    ].join('\n') + '\n',
  );
}
