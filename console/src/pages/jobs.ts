// Jobs: what runs now, with live progress (Server-Sent Events from the agent), and the history with
// each job's log; configured sources can be started from here.
import { useEffect, useState } from 'preact/hooks';
import type { Job } from '../../../protocol/api.js';
import { op } from '../api.js';
import { when } from '../format.js';
import { cancelJob, progressWords } from '../job-watch.js';
import { html } from '../html.js';
import { useLoad } from '../use-load.js';

function useLiveJobs(): Map<string, Job> {
  const [live, setLive] = useState(new Map<string, Job>());
  useEffect(() => {
    const es = new EventSource('/api/v1/jobs/events');
    const on = (e: MessageEvent<string>) => {
      const job = JSON.parse(e.data) as Job;
      setLive((m) => new Map(m).set(job.id, job));
    };
    for (const type of ['created', 'progress', 'log', 'finished']) es.addEventListener(type, on as EventListener);
    return () => es.close();
  }, []);
  return live;
}

function JobRow({ job, open, onOpen, onCancel }: { job: Job; open: boolean; onOpen: () => void; onCancel: () => void }) {
  return html`<tr data-job=${job.id} class=${`job ${job.state}`}>
      <td>
        <a onClick=${onOpen}><code>${job.id.slice(-6)}</code></a>
      </td>
      <td>${job.kind} ${job.source ?? job.label ?? ''}</td>
      <td>
        <span class=${`state ${job.state === 'succeeded' ? 'ok' : job.state}`}>${job.state}</span>${job.attempt > 1 ? ` (attempt ${job.attempt})` : ''}
        ${job.state === 'running' && html`<button class="job-cancel" onClick=${onCancel}>Cancel</button>`}
      </td>
      <td class="job-progress"><span class="job-bytes">${progressWords(job)}</span></td>
      <td>${when(job.startedAt)}</td>
      <td>${job.error ? html`<span class="error">${job.error}</span>` : job.snapshot ? html`snapshot <code>${job.snapshot.slice(0, 8)}</code>` : ''}</td>
    </tr>
    ${
      open &&
      html`<tr>
        <td colspan="6"><pre class="code job-log">${job.log.join('\n') || '(no log lines)'}</pre></td>
      </tr>`
    }`;
}

export function Jobs() {
  const { data: history, error, reload } = useLoad(() => op('jobs', { limit: 50 }), [], 5000);
  const { data: config } = useLoad(() => op('config'), []);
  const live = useLiveJobs();
  const [open, setOpen] = useState<string | null>(null);
  const [msg, setMsg] = useState('');
  const merged = new Map<string, Job>();
  for (const j of history ?? []) merged.set(j.id, j);
  for (const [id, j] of live) merged.set(id, j);
  const jobs = [...merged.values()].sort((a, b) => b.id.localeCompare(a.id));
  const cancel = (id: string) =>
    cancelJob(id).then(
      () => setMsg(`cancelling job ${id.slice(-6)}: it stops at its next safe point`),
      (err: unknown) => setMsg((err as Error).message),
    );
  const run = (source: string) =>
    op('run', { source }).then(
      (j) => {
        setMsg(`started job ${j.id.slice(-6)} for ${source}`);
        reload();
      },
      (err: unknown) => setMsg((err as Error).message),
    );
  return html`<div>
    <section>
      <h2>Run a source now</h2>
      <div class="row">
        ${(config?.sources ?? []).map((s) => html`<button class="run-source" data-source=${s.name} onClick=${() => run(s.name)}>${s.name}</button>`)}
      </div>
      ${config && config.sources.length === 0 && html`<p class="muted">No sources in cairn.yaml yet.</p>`} ${msg && html`<p class="run-msg">${msg}</p>`}
    </section>
    <section>
      <h2>Jobs</h2>
      ${error && html`<p class="error">${error}</p>`}
      <table class="jobs">
        <thead>
          <tr>
            <th>Job</th>
            <th>What</th>
            <th>State</th>
            <th>Progress</th>
            <th>Started</th>
            <th>Result</th>
          </tr>
        </thead>
        <tbody>
          ${jobs.map((j) => html`<${JobRow} job=${j} open=${open === j.id} onOpen=${() => setOpen(open === j.id ? null : j.id)} onCancel=${() => cancel(j.id)} />`)}
        </tbody>
      </table>
    </section>
  </div>`;
}
