// Following an operation the agent runs as a job (backup, restore, prune, check, replicate through
// the agent): its progress on a TTY line (or as JSON lines with --json-progress), and Ctrl-C cancels
// the job: the agent stops it at a safe point, and the command exits 130 saying so. A second
// Ctrl-C stops waiting at once (the job is cancelled all the same).
import type { Job, JobStreamEvent } from '../../../protocol/api.js';
import type { AgentInfo } from '../repo/home.js';
import type { Clock } from '../util/clock.js';
import { CairnError, errorMessage, EXIT_INTERRUPTED, InterruptedError } from '../util/errors.js';
import { callOp, streamOp } from './agent-client.js';
import { jsonLinesMode, printJsonLine } from './format.js';
import { ProgressLine, type ProgressSample } from './progress.js';

/** `afterCancel`: what a cancelled one leaves (ctrl-c.ts AFTER_CANCEL), said in the line a Ctrl-C ends with. */
export async function followJob<R>(agent: AgentInfo, name: string, args: unknown, label: string, clock: Clock, afterCancel?: string): Promise<R> {
  const json = jsonLinesMode();
  let latest: ProgressSample = { files: 0, bytes: 0 };
  let job: Job | undefined;
  let line: ProgressLine | undefined;
  let interrupted = false;
  let cancelAsked = false;
  const cancel = () => {
    if (!job || cancelAsked) return;
    cancelAsked = true;
    process.stderr.write(`${line ? '\n' : ''}cancelling job ${job.id.slice(-6)} (Ctrl-C again to stop waiting)\n`);
    callOp(agent, 'jobCancel', { id: job.id, via: 'ctrl-c' }).catch((err: unknown) =>
      process.stderr.write(`cairn: cancelling job ${job?.id} failed: ${errorMessage(err)}\n`),
    );
  };
  const onSigint = () => {
    if (interrupted) {
      process.stderr.write(`cairn: cancelled: stopped waiting for job ${job?.id ?? '(not started)'}\n`);
      process.exit(EXIT_INTERRUPTED);
    }
    interrupted = true;
    cancel(); // before the job is known: as soon as it is
  };
  process.on('SIGINT', onSigint);
  try {
    return await streamOp<R>(agent, name, args, (e: JobStreamEvent) => {
      if (json) printJsonLine(e);
      if (e.type === 'job') {
        job = e.job;
        if (interrupted) cancel();
        if (!json && process.stderr.isTTY) {
          process.stderr.write(`${label} runs in the agent as job ${job.id.slice(-6)} (Ctrl-C cancels it)\n`);
          line = new ProgressLine(label, () => latest, clock);
        }
      } else if (e.type === 'progress') {
        const p = e.progress;
        latest = {
          files: p.files,
          bytes: p.bytes,
          bytesPerSec: p.bytesPerSec,
          ...(p.totalFiles !== undefined ? { totalFiles: p.totalFiles } : {}),
          ...(p.totalBytes !== undefined ? { totalBytes: p.totalBytes } : {}),
        };
      }
    });
  } catch (err) {
    line?.stop();
    line = undefined;
    if (interrupted && err instanceof CairnError && err.code === 'E_CANCELLED')
      throw new InterruptedError(
        `${label} cancelled: job ${job?.id.slice(-6) ?? ''} stopped at a safe point (${err.message}); ${afterCancel ?? 'nothing half-done was kept'}`,
      );
    throw err;
  } finally {
    line?.stop();
    process.off('SIGINT', onSigint);
  }
}
