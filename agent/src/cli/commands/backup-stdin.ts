// `cairn backup --stdin [--stdin-filename NAME]`: standard input as one file of a new snapshot; in
// this process, or streamed to the running agent (POST /api/v1/backup-stdin).
import type { BackupResult, StdinBackupArgs } from '../../../../protocol/api.js';
import { checkStdinFilename } from '../../ops/backup-stdin.js';
import { runBackup } from '../../ops/run-backup.js';
import { UsageError } from '../../util/errors.js';
import { findAgent, streamUpload } from '../agent-client.js';
import { withServices, type Context } from '../context.js';
import { formatBytes, formatDuration, printJson } from '../format.js';

export async function stdinBackupCommand(ctx: Context, args: StdinBackupArgs): Promise<number> {
  checkStdinFilename(args.filename);
  if (args.tags.some((t) => t.includes(',') || t.trim() === '')) throw new UsageError('--tag: a tag is not empty and holds no ","');
  if (process.stdin.isTTY)
    throw new UsageError('--stdin reads standard input, which is a terminal here: pipe the data in (e.g. pg_dump mydb | cairn backup --stdin)');
  const agent = await findAgent(ctx.home);
  const r: BackupResult = agent
    ? await streamUpload<BackupResult>(
        agent,
        'backup-stdin',
        { filename: args.filename, ...(args.tags.length > 0 ? { tags: args.tags.join(',') } : {}) },
        process.stdin,
      )
    : await withServices(ctx, (svc) => runBackup(svc, { kind: 'stdin', args, input: process.stdin }));
  if (ctx.json) printJson(r);
  else
    process.stdout.write(
      `snapshot ${r.shortId} saved: ${r.paths[0]} from standard input, ${formatBytes(r.sizeBytes)}, added ${formatBytes(r.addedBytes)} in ${formatDuration(r.durationMs)}\n`,
    );
  return 0;
}
