// `cairn run SOURCE [--wait]`, `cairn jobs [--source S]`, `cairn jobs show ID`, `cairn jobs cancel
// ID`: the agent's jobs (scheduled runs, and the operations asked for through it).
import { humanSeconds, jobEtaSeconds, type Job } from '../../../../protocol/api.js';
import { CairnError, EXIT_INTERRUPTED, InterruptedError } from '../../util/errors.js';
import { agentOp, type Context } from '../context.js';
import { formatBytes, printJson, table } from '../format.js';

/** What the job commands are called in the error when no agent runs. */
const AGENT_ONLY = 'jobs';
/** How often `run --wait` asks the agent how its job is doing. */
const POLL_MS = 500;
/** `jobs cancel --wait` waits at most this long for the job to reach its safe point. */
const CANCEL_WAIT_MAX_MS = 10 * 60_000;

function line(j: Job): string[] {
  return [
    j.id,
    j.kind,
    j.source ?? j.label ?? '',
    j.trigger + (j.attempt > 1 ? ` #${j.attempt}` : ''),
    j.state,
    j.createdAt,
    j.snapshot?.slice(0, 8) ?? '',
    j.error ?? '',
  ];
}

export async function runCommand(ctx: Context, source: string, opts: { wait?: boolean }): Promise<number> {
  let job = await agentOp(ctx, 'run', { source }, 'cairn run');
  if (!opts.wait) {
    if (ctx.json) printJson(job);
    else process.stdout.write(`job ${job.id} started (follow it with "cairn jobs show ${job.id}")\n`);
    return 0;
  }
  const shown = 0;
  // Ctrl-C cancels the job (as for a backup started through the agent); a second one stops waiting
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(EXIT_INTERRUPTED);
    interrupted = true;
    process.stderr.write(`\ncancelling job ${job.id.slice(-6)} (Ctrl-C again to stop waiting)\n`);
    void agentOp(ctx, 'jobCancel', { id: job.id, via: 'ctrl-c' }, AGENT_ONLY).catch((err: unknown) =>
      process.stderr.write(`cairn: cancelling job ${job.id} failed: ${(err as Error).message}\n`),
    );
  };
  process.on('SIGINT', onSigint);
  try {
    job = await followRun(ctx, job, shown);
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (interrupted && job.state === 'cancelled') throw new InterruptedError(`cancelled: job ${job.id} stopped at a safe point (${job.error ?? 'cancelled'})`);
  if (ctx.json) printJson(job);
  else process.stdout.write(`job ${job.id} ${job.state}${job.snapshot ? `: snapshot ${job.snapshot.slice(0, 8)}` : ''}\n`);
  if (job.state !== 'succeeded') throw new CairnError('E_JOB_FAILED', `job ${job.id} ${job.state}: ${job.error ?? 'no reason given'}`);
  return 0;
}

/** Polls a running job until it ends, printing its new log lines and (on a TTY) its progress. */
async function followRun(ctx: Context, job: Job, shown: number): Promise<Job> {
  while (job.state === 'running') {
    await new Promise((r) => setTimeout(r, POLL_MS));
    job = await agentOp(ctx, 'jobShow', { id: job.id }, AGENT_ONLY);
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
  return job;
}

export async function jobsCommand(ctx: Context, opts: { source?: string }): Promise<void> {
  const args = opts.source !== undefined ? { source: opts.source } : {};
  const list = await agentOp(ctx, 'jobs', args, AGENT_ONLY);
  if (ctx.json) return printJson(list);
  if (list.length === 0) {
    process.stdout.write('no jobs yet\n');
    return;
  }
  process.stdout.write(table([['ID', 'KIND', 'SOURCE', 'TRIGGER', 'STATE', 'CREATED', 'SNAPSHOT', 'ERROR'], ...list.map(line)]) + '\n');
}

/** "12/40 files, 1.2 GiB of 3.4 GiB (35%), 41 MiB/s, about 53 s left": a running job's progress. */
function progressWords(j: Job): string {
  const p = j.progress;
  const eta = jobEtaSeconds(p);
  const of =
    p.totalBytes !== undefined
      ? ` of ${formatBytes(p.totalBytes)}${p.totalBytes > 0 ? ` (${Math.min(100, Math.floor((100 * p.bytes) / p.totalBytes))}%)` : ''}`
      : '';
  return `${p.files}${p.totalFiles !== undefined ? `/${p.totalFiles}` : ''} files, ${formatBytes(p.bytes)}${of}, ${formatBytes(p.bytesPerSec)}/s${eta === null ? '' : `, about ${humanSeconds(eta)} left`}`;
}

export async function jobShowCommand(ctx: Context, id: string): Promise<void> {
  const j = await agentOp(ctx, 'jobShow', { id }, AGENT_ONLY);
  if (ctx.json) return printJson(j);
  const running = j.state === 'running' ? `progress: ${progressWords(j)}\n` : '';
  process.stdout.write(`${line(j).filter(Boolean).join('  ')}\n${j.label ? `${j.label}\n` : ''}${running}${j.log.join('\n')}\n`);
}

/** Cancels a running job; with --wait, follows it until it has stopped. */
export async function jobCancelCommand(ctx: Context, id: string, opts: { wait?: boolean }): Promise<void> {
  let job = await agentOp(ctx, 'jobCancel', { id, via: 'cli' }, AGENT_ONLY);
  if (job.state !== 'running') {
    if (ctx.json) return printJson(job);
    process.stdout.write(`job ${job.id} already ${job.state}: nothing to cancel\n`);
    return;
  }
  const until = ctx.clock.now() + CANCEL_WAIT_MAX_MS;
  if (opts.wait)
    while (job.state === 'running' && ctx.clock.now() < until) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      job = await agentOp(ctx, 'jobShow', { id: job.id }, AGENT_ONLY);
    }
  if (ctx.json) return printJson(job);
  process.stdout.write(
    job.state === 'running'
      ? `job ${job.id}: cancel asked; it stops at its next safe point ("cairn jobs show ${job.id.slice(-6)}" follows it)\n`
      : `job ${job.id} ${job.state}${job.error ? `: ${job.error}` : ''}\n`,
  );
}
