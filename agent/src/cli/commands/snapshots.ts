import { snapshotsOp } from '../../ops/snapshots.js';
import { runOp, type Context } from '../context.js';
import { formatBytes, formatTime, printJson, table } from '../format.js';
import { filterOf, type FilterCliOptions } from '../snapshot-filter.js';
import { UsageError } from '../../util/errors.js';

export interface SnapshotsCliOptions extends FilterCliOptions {
  latest?: string;
}

export async function snapshotsCommand(ctx: Context, opts: SnapshotsCliOptions = {}): Promise<void> {
  const latest = opts.latest !== undefined ? Number(opts.latest) : undefined;
  if (latest !== undefined && (!Number.isInteger(latest) || latest < 1)) throw new UsageError(`--latest ${opts.latest}: expected a whole number of at least 1`);
  const filter = filterOf(opts);
  const args = { ...(filter ? { filter } : {}), ...(latest !== undefined ? { latest } : {}) };
  const rows = await runOp(ctx, 'snapshots', args, (svc) => snapshotsOp(svc, args));
  if (ctx.json) return printJson(rows);
  if (rows.length === 0) return void process.stdout.write(filter ? 'no snapshot matches\n' : 'no snapshots yet\n');
  const lines = [['ID', 'Time', 'Host', 'Tags', 'Size', 'Added', 'Paths']];
  for (const r of rows)
    lines.push([
      r.pinned ? `${r.shortId}*` : r.shortId,
      formatTime(r.time),
      r.hostname,
      r.tags.join(','),
      formatBytes(r.sizeBytes),
      formatBytes(r.addedBytes),
      r.paths.join(' '),
    ]);
  const pinned = rows.filter((r) => r.pinned).length;
  process.stdout.write(table(lines) + `\n${rows.length} snapshot${rows.length === 1 ? '' : 's'}${pinned > 0 ? ` (* = pinned: ${pinned})` : ''}\n`);
}
