// Following one job from the console (a restore started in its dialog): the job as the agent has
// it, asked again every JOB_POLL_MS while it runs; its progress in words; and cancelling it.
import { useEffect, useState } from 'preact/hooks';
import { humanSeconds, jobEtaSeconds, type Job } from '../../protocol/api.js';
import { op } from './api.js';
import { bytes, percent } from './format.js';

const JOB_POLL_MS = 500;

/** The job `id` (null: none yet), refreshed while it runs; polling stops once it has ended or the view closes. */
export function useJob(initial: Job | null): Job | null {
  const [job, setJob] = useState<Job | null>(initial);
  useEffect(() => {
    setJob(initial);
    if (!initial) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = () => {
      op('jobShow', { id: initial.id }).then(
        (j) => {
          if (stopped) return;
          setJob(j);
          if (j.state === 'running') timer = setTimeout(poll, JOB_POLL_MS);
        },
        () => {
          if (!stopped) timer = setTimeout(poll, JOB_POLL_MS * 4);
        },
      );
    };
    timer = setTimeout(poll, JOB_POLL_MS);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [initial?.id]);
  return job;
}

/** "12 of 40 files, 1.2 GiB of 3.4 GiB (35%), 41 MiB/s, about 53 s left". */
export function progressWords(job: Job): string {
  const p = job.progress;
  const eta = jobEtaSeconds(p);
  return (
    `${p.files}${p.totalFiles !== undefined ? ` of ${p.totalFiles}` : ''} files, ${bytes(p.bytes)}` +
    `${p.totalBytes !== undefined ? ` of ${bytes(p.totalBytes)} (${percent(p.bytes, p.totalBytes)})` : ''}` +
    `${job.state === 'running' ? `, ${bytes(p.bytesPerSec)}/s` : ''}${job.state === 'running' && eta !== null ? `, about ${humanSeconds(eta)} left` : ''}`
  );
}

/** Asks the agent to cancel a running job (it ends "cancelled" at its next safe point). */
export function cancelJob(id: string): Promise<Job> {
  return op('jobCancel', { id, via: 'console' });
}
