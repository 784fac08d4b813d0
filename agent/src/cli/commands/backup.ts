import { resolve } from 'node:path';
import { backupOp } from '../../ops/backup.js';
import { scan, type RunningBackup, type ScanTotals } from '../../ops/progress.js';
import { runOp, type Context } from '../context.js';
import { formatBytes, formatDuration, printJson } from '../format.js';
import { ProgressLine } from '../progress.js';
import { EXIT_INCOMPLETE, UsageError } from '../../util/errors.js';

export async function backupCommand(ctx: Context, paths: string[], opts: { tag?: string[]; volumeRead?: string }): Promise<number> {
  if (paths.some((p) => p.startsWith('volume:'))) return (await import('./volumes.js')).volumeBackupCommand(ctx, paths, opts);
  if (opts.volumeRead !== undefined) throw new UsageError('--volume-read applies to volume:NAME arguments only');
  const totals: ScanTotals = { files: 0, bytes: 0, done: false };
  const abort = new AbortController();
  let progress: ProgressLine | undefined;
  const onStart = (archiver: RunningBackup) => {
    if (process.stderr.isTTY) void scan(paths, totals, abort.signal);
    progress = new ProgressLine(
      'backup',
      () => ({
        files: archiver.progress.filesDone,
        bytes: archiver.progress.bytesDone,
        ...(totals.done ? { totalBytes: totals.bytes, totalFiles: totals.files } : {}),
      }),
      ctx.clock,
    );
  };
  let r;
  try {
    const args = { paths: paths.map((p) => resolve(p)), tags: opts.tag ?? [] };
    r = await runOp(ctx, 'backup', args, (svc) => backupOp(svc, args, onStart));
  } finally {
    progress?.stop();
    abort.abort();
  }
  if (ctx.json) printJson(r);
  else {
    for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(
      `snapshot ${r.shortId} saved: ${r.files} files (${r.filesRead} read, ${r.filesReused} unchanged), ${r.dirs} dirs, ` +
        `${formatBytes(r.sizeBytes)}, added ${formatBytes(r.addedBytes)} in ${formatDuration(r.durationMs)}\n`,
    );
  }
  return r.unreadable > 0 ? EXIT_INCOMPLETE : 0;
}
