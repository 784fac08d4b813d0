// `cairn run SOURCE [--wait]`, `cairn jobs [--source S]`, `cairn jobs show ID`: the agent's scheduler.
import { humanSeconds, jobEtaSeconds, type Job } from '../../../../protocol/api.js';
import { jobShowOp, jobsOp, runSourceOp } from '../../ops/jobs.js';
import { CairnError } from '../../util/errors.js';
import { runOp, type Context } from '../context.js';
import { formatBytes, printJson, table } from '../format.js';

const AGENT_ONLY = { agentOnly: 'jobs' };
/** How often `run --wait` asks the agent how its job is doing. */
const POLL_MS = 500;

function line(j: Job): string[] {
  return [
    j.id,
    j.kind,
    j.source ?? '',
    j.trigger + (j.attempt > 1 ? ` #${j.attempt}` : ''),
    j.state,
    j.createdAt,
    j.snapshot?.slice(0, 8) ?? '',
    j.error ?? '',
  ];
}

export async function runCommand(ctx: Context, source: string, opts: { wait?: boolean }): Promise<number> {
  let job = await runOp(ctx, 'run', { source }, (svc) => runSourceOp(svc, { source }), { agentOnly: 'cairn run' });
  if (!opts.wait) {
    if (ctx.json) printJson(job);
    else process.stdout.write(`job ${job.id} started (follow it with "cairn jobs show ${job.id}")\n`);
    return 0;
  }
  let shown = 0;
  while (job.state === 'running') {
    await new Promise((r) => setTimeout(r, POLL_MS));
    job = await runOp(ctx, 'jobShow', { id: job.id }, (svc) => jobShowOp(svc, { id: job.id }), AGENT_ONLY);
    if (!ctx.json) {
      for (const l of job.log.slice(shown)) process.stderr.write(`${l}\n`);
      shown = job.log.length;
      if (job.state === 'running' && process.stderr.isTTY) {
        const p = job.progress;
        const eta = jobEtaSeconds(p);
        const of = p.totalBytes !== undefined ? ` of ${formatBytes(p.totalBytes)}` : '';
        process.stderr.write(
          `\r${p.files} files, ${formatBytes(p.bytes)}${of}, ${formatBytes(p.bytesPerSec)}/s${eta === null ? '' : `, about ${humanSeconds(eta)} left`}   `,
        );
      }
    }
  }
  if (ctx.json) printJson(job);
  else process.stdout.write(`job ${job.id} ${job.state}${job.snapshot ? `: snapshot ${job.snapshot.slice(0, 8)}` : ''}\n`);
  if (job.state !== 'succeeded') throw new CairnError('E_JOB_FAILED', `job ${job.id} ${job.state}: ${job.error ?? 'no reason given'}`);
  return 0;
}

export async function jobsCommand(ctx: Context, opts: { source?: string }): Promise<void> {
  const args = opts.source !== undefined ? { source: opts.source } : {};
  const list = await runOp(ctx, 'jobs', args, (svc) => jobsOp(svc, args), AGENT_ONLY);
  if (ctx.json) return printJson(list);
  if (list.length === 0) {
    process.stdout.write('no jobs yet\n');
    return;
  }
  process.stdout.write(table([['ID', 'KIND', 'SOURCE', 'TRIGGER', 'STATE', 'CREATED', 'SNAPSHOT', 'ERROR'], ...list.map(line)]) + '\n');
}

export async function jobShowCommand(ctx: Context, id: string): Promise<void> {
  const j = await runOp(ctx, 'jobShow', { id }, (svc) => jobShowOp(svc, { id }), AGENT_ONLY);
  if (ctx.json) return printJson(j);
  process.stdout.write(`${line(j).filter(Boolean).join('  ')}\n${j.log.join('\n')}\n`);
}
