import { resolve } from 'node:path';
import { Archiver } from '../../snapshot/archiver.js';
import { scan, type ScanTotals } from '../../snapshot/scanner.js';
import type { Context } from '../context.js';
import { withRepo } from '../context.js';
import { formatBytes, formatDuration, printJson } from '../format.js';
import { ProgressLine } from '../progress.js';

/** Exit code of a backup that made a snapshot but could not read some files. */
export const EXIT_INCOMPLETE = 3;

export async function backupCommand(ctx: Context, paths: string[], opts: { tag?: string[] }): Promise<number> {
  return withRepo(ctx, async (repo) => {
    const abs = [...new Set(paths.map((p) => resolve(p)))].sort();
    const previous = (await repo.listSnapshots()).filter((s) => JSON.stringify(s.snapshot.paths) === JSON.stringify(abs));
    const parent = previous.at(-1);
    const archiver = new Archiver(repo, { paths: abs, tags: opts.tag ?? [], clock: ctx.clock, skip: [ctx.home], ...(parent ? { parent } : {}) });
    const totals: ScanTotals = { files: 0, bytes: 0, done: false };
    const abort = new AbortController();
    if (process.stderr.isTTY) void scan(abs, totals, abort.signal);
    const progress = new ProgressLine(
      'backup',
      () => ({ files: archiver.progress.filesDone, bytes: archiver.progress.bytesDone, ...(totals.done ? { totalBytes: totals.bytes, totalFiles: totals.files } : {}) }),
      ctx.clock,
    );
    let result;
    try {
      result = await archiver.run();
    } finally {
      progress.stop();
      abort.abort();
    }
    const { id, snapshot } = result;
    const s = snapshot.summary;
    if (ctx.json) {
      printJson({ id, shortId: id.slice(0, 8), time: snapshot.time, paths: snapshot.paths, tags: snapshot.tags, parent: snapshot.parent ?? null, ...s });
    } else {
      for (const w of s.warnings) process.stderr.write(`warning: ${w}\n`);
      process.stdout.write(
        `snapshot ${id.slice(0, 8)} saved: ${s.files} files (${s.filesRead} read, ${s.filesReused} unchanged), ${s.dirs} dirs, ` +
          `${formatBytes(s.sizeBytes)}, added ${formatBytes(s.addedBytes)} in ${formatDuration(s.durationMs)}\n`,
      );
    }
    return archiver.unreadable > 0 ? EXIT_INCOMPLETE : 0;
  });
}
