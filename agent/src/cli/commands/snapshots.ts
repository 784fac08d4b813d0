import type { Context } from '../context.js';
import { withRepo } from '../context.js';
import { formatBytes, printJson, table } from '../format.js';
import type { SnapshotListing } from '../../../../protocol/snapshot.js';

export async function snapshotsCommand(ctx: Context): Promise<void> {
  await withRepo(ctx, async (repo) => {
    const rows: SnapshotListing[] = (await repo.listSnapshots()).map(({ id, snapshot: s }) => ({
      id,
      shortId: id.slice(0, 8),
      time: s.time,
      hostname: s.hostname,
      paths: s.paths,
      tags: s.tags,
      sizeBytes: s.summary.sizeBytes,
      addedBytes: s.summary.addedBytes,
      files: s.summary.files,
      ...(s.parent ? { parent: s.parent } : {}),
    }));
    if (ctx.json) return printJson(rows);
    if (rows.length === 0) return void process.stdout.write('no snapshots yet\n');
    const lines = [['ID', 'Time', 'Host', 'Tags', 'Size', 'Added', 'Paths']];
    for (const r of rows) lines.push([r.shortId, r.time.replace('T', ' ').slice(0, 19), r.hostname, r.tags.join(','), formatBytes(r.sizeBytes), formatBytes(r.addedBytes), r.paths.join(' ')]);
    process.stdout.write(table(lines) + `\n${rows.length} snapshot${rows.length === 1 ? '' : 's'}\n`);
  });
}
