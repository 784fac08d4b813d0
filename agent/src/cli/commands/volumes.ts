// `cairn volumes` and `cairn backup volume:NAME...`.
import { resolve } from 'node:path';
import type { HookLogEntry, VolumeBackupArgs } from '../../../../protocol/api.js';
import { splitVolumeArgs, volumeBackupOp, volumesOp } from '../../ops/volumes.js';
import type { Archiver } from '../../snapshot/archiver.js';
import { runOp, type Context } from '../context.js';
import { formatBytes, formatDuration, printJson, table } from '../format.js';
import { ProgressLine } from '../progress.js';
import { EXIT_INCOMPLETE } from './backup.js';

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
      v.lastSnapshot ? `${v.lastSnapshot.shortId} ${v.lastSnapshot.time.replace('T', ' ').slice(0, 19)}` : 'never',
      v.containers.map((c) => `${c.name} (${c.state}, ${c.image})`).join(', ') || '-',
      labels.join(' ') || '-',
    ]);
  }
  process.stdout.write(table(lines) + `\n${rows.length} volume${rows.length === 1 ? '' : 's'}\n`);
}

export function formatHookLog(e: HookLogEntry): string {
  const head = `[${e.time.replace('T', ' ').slice(0, 19)}] ${e.container}: ${e.action}: ${e.message}`;
  const out = e.output?.replace(/\n$/, '');
  return out ? `${head}\n${out.split('\n').map((l) => `  | ${l}`).join('\n')}` : head;
}

/** `cairn backup` with at least one `volume:NAME` argument. */
export async function volumeBackupCommand(ctx: Context, args: string[], opts: { tag?: string[] }): Promise<number> {
  const { paths, volumes } = splitVolumeArgs(args);
  const opArgs: VolumeBackupArgs = { paths: paths.map((p) => resolve(p)), volumes, tags: opts.tag ?? [] };
  let progress: ProgressLine | undefined;
  let logged = false;
  const onStart = (archiver: Archiver) => {
    progress = new ProgressLine('backup', () => ({ files: archiver.progress.filesDone, bytes: archiver.progress.bytesDone }), ctx.clock);
  };
  // The job log goes to stderr as it happens (locally), or from the result (through the agent).
  const onLog = (e: HookLogEntry) => {
    logged = true;
    process.stderr.write(formatHookLog(e) + '\n');
  };
  let r;
  try {
    r = await runOp(ctx, 'volumeBackup', opArgs, (svc) => volumeBackupOp(svc, opArgs, onStart, onLog));
  } finally {
    progress?.stop();
  }
  if (!logged) for (const e of r.log) process.stderr.write(formatHookLog(e) + '\n');
  if (ctx.json) printJson(r);
  else {
    for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(
      `snapshot ${r.shortId} saved (${r.volumes.map((v) => `volume ${v.name}`).join(', ')}): ${r.files} files (${r.filesRead} read, ${r.filesReused} unchanged), ${r.dirs} dirs, ` +
        `${formatBytes(r.sizeBytes)}, added ${formatBytes(r.addedBytes)} in ${formatDuration(r.durationMs)}\n`,
    );
  }
  return r.unreadable > 0 ? EXIT_INCOMPLETE : 0;
}
