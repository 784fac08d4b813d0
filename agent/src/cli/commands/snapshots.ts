import { snapshotsOp } from '../../ops/snapshots.js';
import { runOp, type Context } from '../context.js';
import { formatBytes, printJson, table } from '../format.js';

export async function snapshotsCommand(ctx: Context): Promise<void> {
  const rows = await runOp(ctx, 'snapshots', {}, (svc) => snapshotsOp(svc));
  if (ctx.json) return printJson(rows);
  if (rows.length === 0) return void process.stdout.write('no snapshots yet\n');
  const lines = [['ID', 'Time', 'Host', 'Tags', 'Size', 'Added', 'Paths']];
  for (const r of rows) lines.push([r.pinned ? `${r.shortId}*` : r.shortId, r.time.replace('T', ' ').slice(0, 19), r.hostname, r.tags.join(','), formatBytes(r.sizeBytes), formatBytes(r.addedBytes), r.paths.join(' ')]);
  const pinned = rows.filter((r) => r.pinned).length;
  process.stdout.write(table(lines) + `\n${rows.length} snapshot${rows.length === 1 ? '' : 's'}${pinned > 0 ? ` (* = pinned: ${pinned})` : ''}\n`);
}
