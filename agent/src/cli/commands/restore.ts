import { resolve } from 'node:path';
import { restoreOp, type RestoreTotals } from '../../ops/restore.js';
import type { RunningRestore } from '../../ops/progress.js';
import { CairnError, UsageError } from '../../util/errors.js';
import { runJob, type Context } from '../context.js';
import { formatBytes, printJson } from '../format.js';
import { displayName } from '../../util/byte-names.js';
import { ProgressLine } from '../progress.js';
import { AFTER_CANCEL } from '../ctrl-c.js';
import { filterOf, splitSubpath, type FilterCliOptions } from '../snapshot-filter.js';

/** Error lines printed before the rest are only counted. */
const MAX_ERROR_LINES = 20;

export interface RestoreCliOptions extends FilterCliOptions {
  target?: string;
  include?: string[];
  overwrite?: boolean;
  toVolume?: string;
  fromVolume?: string;
  force?: boolean;
  dryRun?: boolean;
  exclude?: string[];
  verify?: boolean;
}

export async function restoreCommand(ctx: Context, snapshotArg: string, opts: RestoreCliOptions): Promise<void> {
  const { snapshot, subpath } = splitSubpath(snapshotArg);
  const filter = filterOf(opts);
  if (opts.toVolume !== undefined) {
    if (subpath !== undefined || filter) throw new UsageError('--to-volume takes a snapshot ID or "latest" alone (choose the volume with --from-volume)');
    if (opts.target !== undefined || opts.include !== undefined || opts.overwrite || opts.exclude !== undefined || opts.verify)
      throw new UsageError(
        '--to-volume restores the whole volume: it does not go with --target, --include, --exclude, --verify or --overwrite (use --force to replace an existing volume)',
      );
    return (await import('./volumes.js')).volumeRestoreCommand(ctx, snapshot, {
      volume: opts.toVolume,
      fromVolume: opts.fromVolume,
      force: opts.force === true,
      dryRun: opts.dryRun === true,
    });
  }
  if (opts.target === undefined) throw new UsageError('say where to restore: --target DIR, or --to-volume NAME for a Docker volume');
  if (opts.force || opts.fromVolume !== undefined) throw new UsageError('--force and --from-volume go with --to-volume (for a directory, use --overwrite)');
  if (opts.dryRun && opts.verify) throw new UsageError('--verify reads back what a restore wrote: a --dry-run writes nothing');
  const target = opts.target;
  let progress: ProgressLine | undefined;
  const onStart = (r: RunningRestore, t: RestoreTotals) => {
    progress = new ProgressLine(
      'restore',
      () => ({ files: r.progress.filesDone, bytes: r.progress.bytesDone, ...(t.done ? { totalBytes: t.bytes, totalFiles: t.files } : {}) }),
      ctx.clock,
    );
  };
  let r;
  try {
    const args = {
      snapshot,
      ...(filter ? { filter } : {}),
      target: resolve(target),
      include: opts.include ?? [],
      overwrite: opts.overwrite === true,
      ...(subpath !== undefined ? { from: subpath } : {}),
      ...(opts.exclude?.length ? { exclude: opts.exclude } : {}),
      ...(opts.dryRun ? { dryRun: true } : {}),
      ...(opts.verify ? { verify: true } : {}),
    };
    r = await runJob(ctx, 'restore', args, 'restore', (svc, signal) => restoreOp(svc, args, onStart, signal), {
      mesh: true,
      afterCancel: AFTER_CANCEL.restore,
    });
  } finally {
    progress?.stop();
  }
  for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
  // one lost pack can fail thousands of files: the first few, then how many more (--json lists all)
  for (const e of r.errors.slice(0, MAX_ERROR_LINES)) process.stderr.write(`error: ${e}\n`);
  if (r.errors.length > MAX_ERROR_LINES) process.stderr.write(`error: ... and ${r.errors.length - MAX_ERROR_LINES} more items (--json lists every one)\n`);
  for (const [friend, n] of Object.entries(r.fetched)) process.stderr.write(`fetched ${n} pack${n === 1 ? '' : 's'} from ${friend}\n`);
  if (ctx.json) printJson(r);
  else if (r.dryRun) {
    for (const e of r.entries ?? [])
      process.stdout.write(`would restore ${e.type === 'dir' ? 'dir ' : ''}${displayName(e.path)}${e.type === 'file' ? ` (${formatBytes(e.size)})` : ''}\n`);
    if (r.truncated) process.stdout.write(`... only the first ${(r.entries ?? []).length} entries are listed (--include narrows them)\n`);
    process.stdout.write(
      `dry run: would restore ${r.files} files (${formatBytes(r.bytes)}) from snapshot ${r.snapshot.slice(0, 8)} to ${r.target}; nothing was written\n`,
    );
  } else {
    process.stdout.write(`restored ${r.files} files (${formatBytes(r.bytes)}) from snapshot ${r.snapshot.slice(0, 8)} to ${r.target}\n`);
    if (r.verified !== undefined) process.stdout.write(`verified ${r.verified} files: read back and compared with the snapshot\n`);
  }
  if (r.errors.length > 0) {
    throw new CairnError(
      'E_RESTORE_INCOMPLETE',
      `restore incomplete: ${r.errors.length} item${r.errors.length === 1 ? '' : 's'} could not be restored; first: ${r.errors[0]}`,
    );
  }
}
