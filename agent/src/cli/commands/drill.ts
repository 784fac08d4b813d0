// `cairn drill [--source S] [--wait]`: a restore drill as a job of the running agent (SPEC 13.11).
import { formatBytes, plural } from '../../../../protocol/format.js';
import { CairnError } from '../../util/errors.js';
import { agentOp, type Context } from '../context.js';
import { printJson, table } from '../format.js';

/** Starts a drill; with --wait, prints what each source and friend proved and exits 1 when the drill failed. */
export async function drillCommand(ctx: Context, opts: { source?: string; wait?: boolean }): Promise<void> {
  const args = { wait: opts.wait === true, ...(opts.source !== undefined ? { source: opts.source } : {}) };
  const r = await agentOp(ctx, 'drill', args, 'a restore drill');
  if (ctx.json) printJson(r);
  else if (!args.wait) process.stdout.write(`restore drill started as job ${r.job.id} (follow it with "cairn jobs show ${r.job.id}")\n`);
  else if (r.result) {
    const res = r.result;
    if (res.sources.length === 0) process.stdout.write('no snapshot to drill yet\n');
    else {
      const rows = [['Source', 'Snapshot', 'Restored', 'Of', 'Whole files', 'Parts', 'Result']];
      for (const s of res.sources)
        rows.push([
          s.source,
          s.snapshot.slice(0, 8),
          formatBytes(s.sampledBytes),
          formatBytes(s.totalBytes),
          String(s.wholeFiles),
          String(s.fileParts),
          s.ok ? 'ok' : 'FAILED',
        ]);
      process.stdout.write(table(rows) + '\n');
    }
    for (const f of res.friends)
      process.stdout.write(
        `${f.name}: ${plural(f.packsProved, 'pack')} proved, ${formatBytes(f.bytesRead)} read${f.failed.length ? `, ${f.failed.length} FAILED` : ''}\n`,
      );
    for (const p of res.problems) process.stdout.write(`failed: ${p}\n`);
  }
  if (args.wait && r.job.state !== 'succeeded')
    throw new CairnError(
      'E_DRILL_FAILED',
      r.result && r.result.problems.length > 0
        ? `restore drill failed: ${r.result.problems.join('; ')}`
        : `restore drill ${r.job.state}: ${r.job.error ?? 'no reason given'}`,
    );
}
