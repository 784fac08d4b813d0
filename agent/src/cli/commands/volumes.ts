// `cairn volumes`, `cairn backup volume:NAME...` and `cairn restore SNAP --to-volume NAME`.
import { resolve } from 'node:path';
import type { HookLogEntry, VolumeBackupArgs, VolumeRestoreArgs, VolumeRestoreResult } from '../../../../protocol/api.js';
import { runBackup } from '../../ops/run-backup.js';
import { splitVolumeArgs, volumeReadMode, volumeRestoreOp, volumesOp } from '../../ops/volumes.js';
import type { RunningBackup, RunningRestore } from '../../ops/progress.js';
import { CairnError, EXIT_INCOMPLETE } from '../../util/errors.js';
import { runJob, runOp, type Context } from '../context.js';
import { formatBytes, formatDuration, formatTime, printJson, table } from '../format.js';
import { ProgressLine } from '../progress.js';
import type { RestoreTotals } from '../../ops/restore.js';
import { AFTER_CANCEL } from '../ctrl-c.js';

export async function volumesCommand(ctx: Context): Promise<void> {
  const rows = await runOp(ctx, 'volumes', {}, (svc) => volumesOp(svc));
  if (ctx.json) return printJson(rows);
  if (rows.length === 0) return void process.stdout.write('no Docker volumes\n');
  const lines = [['Volume', 'Driver', 'Size', 'Last snapshot', 'Containers', 'Labels']];
  for (const v of rows) {
    const labels = [...new Set(v.containers.flatMap((c) => Object.entries(c.labels).map(([k, val]) => `${k}=${val}`)))];
    lines.push([
      v.name,
      v.driver,
      v.sizeBytes === null ? '?' : formatBytes(v.sizeBytes),
      v.lastSnapshot ? `${v.lastSnapshot.shortId} ${formatTime(v.lastSnapshot.time)}` : 'never',
      v.containers.map((c) => `${c.name} (${c.state}, ${c.image})`).join(', ') || '-',
      labels.join(' ') || '-',
    ]);
  }
  process.stdout.write(table(lines) + `\n${rows.length} volume${rows.length === 1 ? '' : 's'}\n`);
}

export function formatHookLog(e: HookLogEntry): string {
  const head = `[${formatTime(e.time)}] ${e.container}: ${e.action}: ${e.message}`;
  const out = e.output?.replace(/\n$/, '');
  return out
    ? `${head}\n${out
        .split('\n')
        .map((l) => `  | ${l}`)
        .join('\n')}`
    : head;
}

/** `cairn backup` with at least one `volume:NAME` argument. */
export async function volumeBackupCommand(ctx: Context, args: string[], opts: { tag?: string[]; volumeRead?: string }): Promise<number> {
  const { paths, volumes } = splitVolumeArgs(args);
  const opArgs: VolumeBackupArgs = {
    paths: paths.map((p) => resolve(p)),
    volumes,
    tags: opts.tag ?? [],
    ...(opts.volumeRead !== undefined ? { volumeRead: volumeReadMode(opts.volumeRead) } : {}),
  };
  let progress: ProgressLine | undefined;
  let logged = false;
  const onStart = (archiver: RunningBackup) => {
    progress = new ProgressLine('backup', () => ({ files: archiver.progress.filesDone, bytes: archiver.progress.bytesDone }), ctx.clock);
  };
  // The job log goes to stderr as it happens (locally), or from the result (through the agent).
  const onLog = (e: HookLogEntry) => {
    logged = true;
    process.stderr.write(formatHookLog(e) + '\n');
  };
  let r;
  try {
    r = await runJob(
      ctx,
      'volumeBackup',
      opArgs,
      'backup',
      (svc, signal) => runBackup(svc, { kind: 'volumes', args: opArgs, onStart, onLog }, signal ? { signal } : {}),
      {
        afterCancel: AFTER_CANCEL.backup,
      },
    );
  } finally {
    progress?.stop();
  }
  if (!logged) for (const e of r.log) process.stderr.write(formatHookLog(e) + '\n');
  if (ctx.json) printJson(r);
  else {
    for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(
      `snapshot ${r.shortId} saved (${r.volumes.map((v) => `volume ${v.name} via ${v.via === 'helper' ? 'a helper container' : 'its mountpoint'}`).join(', ')}): ${r.files} files (${r.filesRead} read, ${r.filesReused} unchanged), ${r.dirs} dirs, ` +
        `${formatBytes(r.sizeBytes)}, added ${formatBytes(r.addedBytes)} in ${formatDuration(r.durationMs)}\n`,
    );
  }
  return r.unreadable > 0 ? EXIT_INCOMPLETE : 0;
}

/** `cairn restore SNAP --to-volume NAME [--from-volume NAME] [--force] [--dry-run]`. */
export async function volumeRestoreCommand(
  ctx: Context,
  snapshot: string,
  opts: { volume: string; fromVolume: string | undefined; force: boolean; dryRun: boolean },
): Promise<void> {
  const args: VolumeRestoreArgs = {
    snapshot,
    volume: opts.volume,
    force: opts.force,
    dryRun: opts.dryRun,
    ...(opts.fromVolume !== undefined ? { fromVolume: opts.fromVolume } : {}),
  };
  let progress: ProgressLine | undefined;
  let logged = false;
  const onStart = (r: RunningRestore, t: RestoreTotals) => {
    progress = new ProgressLine(
      'restore',
      () => ({ files: r.progress.filesDone, bytes: r.progress.bytesDone, ...(t.done ? { totalBytes: t.bytes, totalFiles: t.files } : {}) }),
      ctx.clock,
    );
  };
  const onLog = (e: HookLogEntry) => {
    logged = true;
    process.stderr.write(formatHookLog(e) + '\n');
  };
  let r: VolumeRestoreResult;
  try {
    r = await runJob(ctx, 'volumeRestore', args, 'restore', (svc, signal) => volumeRestoreOp(svc, args, onStart, onLog, signal), {
      mesh: true,
      afterCancel: AFTER_CANCEL.volumeRestore,
    });
  } finally {
    progress?.stop();
  }
  if (!logged) for (const e of r.log) process.stderr.write(formatHookLog(e) + '\n');
  for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
  for (const e of r.errors) process.stderr.write(`error: ${e}\n`);
  if (ctx.json) printJson(r);
  else {
    const out: string[] = [];
    const snap = r.snapshot.slice(0, 8);
    const { created, replaced, deleted } = r.changes;
    if (r.dryRun) {
      out.push(`dry run: nothing changed`);
      out.push(
        `snapshot ${snap}, volume ${r.fromVolume} (${r.from}) -> volume ${r.volume}: ${r.createdVolume ? 'does not exist, would be created' : `exists at ${r.mountpoint}, ${'would be replaced (needs --force)'}`}`,
      );
      if (r.stopped.length > 0) out.push(`would stop and start again: ${r.stopped.join(', ')}`);
      if (r.usage) {
        out.push(`when backed up, volume ${r.usage.volume} was mounted by:${r.usage.containers.length === 0 ? ' no container' : ''}`);
        for (const c of r.usage.containers) out.push(`  ${c.name} (image ${c.image}, ${c.state}) at ${c.destination}${c.rw ? '' : ' (read-only)'}`);
      } else out.push('how the volume was used is not known (no docker inspect kept for this snapshot here)');
      out.push(
        `would create ${created.length}, replace ${replaced.length}, delete ${deleted.length} path${created.length + replaced.length + deleted.length === 1 ? '' : 's'}`,
      );
      const lines = [...created.map((p) => `  + ${p}`), ...replaced.map((p) => `  ~ ${p}`), ...deleted.map((p) => `  - ${p}`)];
      const LIMIT = 1000;
      out.push(...lines.slice(0, LIMIT));
      if (lines.length > LIMIT) out.push(`  ... and ${lines.length - LIMIT} more (--json lists all)`);
    } else {
      out.push(
        `restored ${r.files} files (${formatBytes(r.bytes)}) of volume ${r.fromVolume} from snapshot ${snap} into ${r.createdVolume ? 'new ' : ''}volume ${r.volume}` +
          (r.createdVolume ? '' : `: ${created.length} created, ${replaced.length} replaced, ${deleted.length} deleted`),
      );
    }
    process.stdout.write(out.join('\n') + '\n');
  }
  if (r.errors.length > 0) {
    throw new CairnError(
      'E_RESTORE_INCOMPLETE',
      `restore incomplete: ${r.errors.length} item${r.errors.length === 1 ? '' : 's'} could not be restored; first: ${r.errors[0]}`,
    );
  }
}
