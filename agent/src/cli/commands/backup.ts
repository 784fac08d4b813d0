import { resolve } from 'node:path';
import { runBackup } from '../../ops/run-backup.js';
import { scan, type RunningBackup, type ScanTotals } from '../../ops/progress.js';
import { runJob, type Context } from '../context.js';
import { formatBytes, formatDuration, jsonLinesMode, printJson } from '../format.js';
import { ProgressLine } from '../progress.js';
import { EXIT_INCOMPLETE, UsageError } from '../../util/errors.js';
import { excludesOf } from '../exclude-file.js';
import { AFTER_CANCEL } from '../ctrl-c.js';

export interface BackupCliOptions {
  tag?: string[];
  volumeRead?: string;
  exclude?: string[];
  excludeFile?: string[];
  oneFileSystem?: boolean;
  dryRun?: boolean;
  stdin?: boolean;
  stdinFilename?: string;
}

export async function backupCommand(ctx: Context, paths: string[], opts: BackupCliOptions): Promise<number> {
  if (opts.stdin) {
    if (paths.length > 0) throw new UsageError('--stdin reads the one file it stores from standard input: give no paths (name it with --stdin-filename)');
    if (opts.exclude || opts.excludeFile || opts.oneFileSystem || opts.dryRun || opts.volumeRead !== undefined)
      throw new UsageError('--stdin does not go with --exclude, --exclude-file, --one-file-system, --dry-run or --volume-read');
    return (await import('./backup-stdin.js')).stdinBackupCommand(ctx, { filename: opts.stdinFilename ?? 'stdin', tags: opts.tag ?? [] });
  }
  if (opts.stdinFilename !== undefined) throw new UsageError('--stdin-filename goes with --stdin');
  if (paths.length === 0) throw new UsageError('say what to back up: PATH... or volume:NAME, or --stdin');
  if (paths.some((p) => p.startsWith('volume:'))) {
    if (opts.exclude || opts.excludeFile || opts.oneFileSystem || opts.dryRun)
      throw new UsageError('--exclude, --exclude-file, --one-file-system and --dry-run apply to directories, not to volume:NAME');
    return (await import('./volumes.js')).volumeBackupCommand(ctx, paths, opts);
  }
  if (opts.volumeRead !== undefined) throw new UsageError('--volume-read applies to volume:NAME arguments only');
  const exclude = await excludesOf(opts);
  const totals: ScanTotals = { files: 0, bytes: 0, done: false };
  const abort = new AbortController();
  let progress: ProgressLine | undefined;
  const onStart = (archiver: RunningBackup) => {
    if (process.stderr.isTTY || jsonLinesMode()) void scan(paths, totals, abort.signal);
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
    const args = {
      paths: paths.map((p) => resolve(p)),
      tags: opts.tag ?? [],
      ...(exclude.length > 0 ? { exclude } : {}),
      ...(opts.oneFileSystem ? { oneFileSystem: true } : {}),
      ...(opts.dryRun ? { dryRun: true } : {}),
    };
    r = await runJob(ctx, 'backup', args, 'backup', (svc, signal) => runBackup(svc, { kind: 'paths', args, onStart }, signal ? { signal } : {}), {
      afterCancel: AFTER_CANCEL.backup,
    });
  } finally {
    progress?.stop();
    abort.abort();
  }
  if (ctx.json) printJson(r);
  else if (r.dryRun) {
    for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(
      `dry run: would store ${r.files} files (${r.filesRead} new or changed, ${r.filesReused} unchanged), ${r.dirs} dirs, ` +
        `${formatBytes(r.sizeBytes)}; would add ${formatBytes(r.addedBytes)} before compression; nothing was written\n`,
    );
  } else {
    for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(
      `snapshot ${r.shortId} saved: ${r.files} files (${r.filesRead} read, ${r.filesReused} unchanged), ${r.dirs} dirs, ` +
        `${formatBytes(r.sizeBytes)}, added ${formatBytes(r.addedBytes)} in ${formatDuration(r.durationMs)}\n`,
    );
  }
  return r.unreadable > 0 ? EXIT_INCOMPLETE : 0;
}
