// Snapshots: the list; browsing one snapshot's files (browse.ts, a view of its own); restoring a
// file or a folder through a wizard that shows exactly what will happen and asks before anything
// is written, run as a job whose progress and result it shows; diff of two.
import { useEffect, useState } from 'preact/hooks';
import type { Job, RestoreResult, VolumeRestoreResult } from '../../../protocol/api.js';
import type { SnapshotListing } from '../../../protocol/snapshot.js';
import { op, startJob } from '../api.js';
import { browseHref, parseBrowseRoute } from '../browse-path.js';
import { cancelJob, progressWords, useJob } from '../job-watch.js';
import { bytes, when } from '../format.js';
import { html } from '../html.js';
import { useLoad } from '../use-load.js';
import { Browse } from './browse.js';

function RestoreWizard({ snapshot, path, onClose }: { snapshot: SnapshotListing; path: string; onClose: () => void }) {
  const [target, setTarget] = useState('');
  const [overwrite, setOverwrite] = useState(false);
  const [step, setStep] = useState<'choose' | 'confirm' | 'running' | 'done'>('choose');
  const [started, setStarted] = useState<Job | null>(null);
  const [error, setError] = useState('');
  // the restore runs in the agent as a job: its progress while it runs, its result when done
  const job = useJob(started);
  const result = job?.state === 'succeeded' ? (job.result as RestoreResult) : null;
  useEffect(() => {
    if (step !== 'running' || !job || job.state === 'running') return;
    setStep(job.state === 'succeeded' ? 'done' : 'confirm');
    if (job.state !== 'succeeded') setError(job.error ?? `the restore ${job.state}`);
  }, [job?.state]);
  const run = async () => {
    setStep('running');
    setError('');
    try {
      setStarted(await startJob('restore', { snapshot: snapshot.id, target, include: [path], overwrite }));
    } catch (err) {
      setError((err as Error).message);
      setStep('confirm');
    }
  };
  return html`<section class="dialog restore-wizard">
    <h2>Restore ${path}</h2>
    <p class="muted">From snapshot <code>${snapshot.shortId}</code> of ${when(snapshot.time)}.</p>
    ${
      step === 'choose' &&
      html`<div>
        <div class="row">
          <label
            >Restore into directory (on the agent's machine)
            <input name="target" placeholder="/srv/restored" value=${target} onInput=${(e: Event) => setTarget((e.target as HTMLInputElement).value)}
          /></label>
        </div>
        <div class="row">
          <label
            ><input type="checkbox" name="overwrite" checked=${overwrite} onChange=${(e: Event) => setOverwrite((e.target as HTMLInputElement).checked)} />
            replace existing files that differ</label
          >
        </div>
        <div class="row">
          <button class="primary" disabled=${!target.startsWith('/')} onClick=${() => setStep('confirm')}>Next</button
          ><button onClick=${onClose}>Cancel</button>
        </div>
      </div>`
    }
    ${
      (step === 'confirm' || step === 'running') &&
      html`<div>
        <p class="confirm-text">
          ${path} will be written below <code>${target}</code> (as <code>${target.replace(/\/$/, '')}${path}</code>).
          ${overwrite ? ' Existing files there that differ WILL BE REPLACED.' : ' Existing files that differ are left alone: the restore stops and names them.'}
        </p>
        <div class="row">
          <button class="primary" disabled=${step === 'running'} onClick=${run}>${step === 'running' ? 'Restoring…' : 'Restore now'}</button>${
            step === 'running' && job
              ? html`<button class="restore-cancel" onClick=${() => cancelJob(job.id).catch((err: unknown) => setError((err as Error).message))}>
                  Cancel
                </button>`
              : html`<button onClick=${() => setStep('choose')}>Back</button>`
          }
        </div>
        ${step === 'running' && job && html`<p class="restore-progress">Job <code>${job.id.slice(-6)}</code>: ${progressWords(job)}</p>`}
        ${error && html`<p class="error" role="alert">${error}</p>`}
      </div>`
    }
    ${
      step === 'done' &&
      result &&
      html`<div>
        <p class="restore-done">Restored ${result.files} files (${bytes(result.bytes)}) into <code>${result.target}</code>.</p>
        ${result.errors.map((e) => html`<p class="error">${e}</p>`)}
        <button onClick=${onClose}>Close</button>
      </div>`
    }
  </section>`;
}

/**
 * Restores a whole Docker volume from a snapshot: a dry run first, then an explicit confirmation;
 * the restore runs in the agent as a job whose progress, Cancel and result the dialog shows.
 */
function VolumeWizard({ snapshot, from, onClose }: { snapshot: SnapshotListing; from: string; onClose: () => void }) {
  const [target, setTarget] = useState(from);
  const [force, setForce] = useState(false);
  const [plan, setPlan] = useState<VolumeRestoreResult | null>(null);
  const [started, setStarted] = useState<Job | null>(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const job = useJob(started);
  const running = started !== null && (job === null || job.state === 'running');
  const done = job?.state === 'succeeded' ? (job.result as VolumeRestoreResult) : null;
  useEffect(() => {
    if (!job || job.state === 'running' || job.state === 'succeeded') return;
    setError(job.error ?? `the restore ${job.state}`);
    setStarted(null);
  }, [job?.state]);
  const dryRun = async () => {
    setBusy(true);
    setError('');
    try {
      setPlan(await op('volumeRestore', { snapshot: snapshot.id, volume: target, fromVolume: from, force, dryRun: true }));
    } catch (err) {
      setError((err as Error).message);
    }
    setBusy(false);
  };
  const restore = async () => {
    setBusy(true);
    setError('');
    try {
      setStarted(await startJob('volumeRestore', { snapshot: snapshot.id, volume: target, fromVolume: from, force, dryRun: false }));
    } catch (err) {
      setError((err as Error).message);
    }
    setBusy(false);
  };
  const c = plan?.changes;
  const locked = busy || running;
  return html`<section class="dialog volume-wizard">
    <h2>Restore volume ${from}</h2>
    <p class="muted">From snapshot <code>${snapshot.shortId}</code> of ${when(snapshot.time)}.</p>
    ${
      !done &&
      html`<div>
        <div class="row">
          <label
            >Into Docker volume
            <input name="volume" disabled=${locked} value=${target} onInput=${(e: Event) => (setTarget((e.target as HTMLInputElement).value), setPlan(null))}
          /></label>
        </div>
        <div class="row">
          <label
            ><input
              type="checkbox"
              name="force"
              disabled=${locked}
              checked=${force}
              onChange=${(e: Event) => (setForce((e.target as HTMLInputElement).checked), setPlan(null))}
            />
            replace it if it exists (its containers are stopped and started again)</label
          >
        </div>
        <div class="row">
          <button disabled=${locked || !target} onClick=${dryRun}>Dry run</button>${
            running && job
              ? html`<button class="restore-cancel" onClick=${() => cancelJob(job.id).catch((err: unknown) => setError((err as Error).message))}>
                  Cancel
                </button>`
              : html`<button onClick=${onClose}>Cancel</button>`
          }
        </div>
        ${
          plan &&
          c &&
          html`<div class="plan">
            <p>
              ${plan.createdVolume ? `Volume ${plan.volume} will be created.` : `Volume ${plan.volume} exists:`} ${c.created.length} paths created,
              ${c.replaced.length} replaced, ${c.deleted.length} deleted.
            </p>
            <button class="primary" disabled=${locked} onClick=${restore}>${running ? 'Restoring…' : 'Restore now'}</button>
          </div>`
        }
        ${running && job && html`<p class="restore-progress">Job <code>${job.id.slice(-6)}</code>: ${progressWords(job)}</p>`}
      </div>`
    }
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${
      done &&
      job &&
      html`<div>
        <p class="restore-done">
          Volume ${done.volume} restored from ${done.fromVolume}: ${progressWords(job)}${done.errors.length > 0 ? `, ${done.errors.length} errors` : ''}.
        </p>
        ${done.errors.map((e) => html`<p class="error">${e}</p>`)}
        <button onClick=${onClose}>Close</button>
      </div>`
    }
  </section>`;
}

function Diff({ from, to }: { from: string; to: string }) {
  const { data, error } = useLoad(() => op('diff', { from, to }), [from, to]);
  if (error) return html`<p class="error">${error}</p>`;
  if (!data) return html`<p class="muted">Comparing…</p>`;
  return html`<section>
    <h2>Changes from <code>${from.slice(0, 8)}</code> to <code>${to.slice(0, 8)}</code></h2>
    ${
      data.changes.length === 0
        ? html`<p class="muted">No changes.</p>`
        : html`<table>
            ${data.changes.map(
              (c) =>
                html`<tr>
                  <td><code>${c.kind}</code></td>
                  <td>${c.path}</td>
                </tr>`,
            )}
          </table>`
    }
  </section>`;
}

/** The Snapshots page at #/snapshots, or a folder of one snapshot at #/snapshots/<id>/browse/... (`route`: the hash after "snapshots/"). */
export function Snapshots({ route }: { route: string }) {
  if (route === '') return html`<${SnapshotList} />`;
  const at = parseBrowseRoute(route);
  if ('error' in at) return html`<p class="error" role="alert">${at.error}</p>`;
  // keyed by the place: another snapshot, folder or page starts afresh (no dialog, no rows of the last)
  return html`<${Browse}
    key=${`${at.snapshot}\n${at.path}\n${at.from}`}
    at=${at}
    restoreDialog=${(snapshot: SnapshotListing, path: string, onClose: () => void) => html`<${RestoreWizard} snapshot=${snapshot} path=${path} onClose=${onClose} />`}
  />`;
}

function SnapshotList() {
  const { data: list, error } = useLoad(() => op('snapshots'), [], 10_000);
  const [volume, setVolume] = useState<{ snapshot: SnapshotListing; from: string } | null>(null);
  const [picked, setPicked] = useState<string[]>([]);
  if (error) return html`<p class="error">${error}</p>`;
  if (!list) return html`<p class="muted">Loading…</p>`;
  const toggle = (id: string) => setPicked((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p.slice(-1), id]));
  return html`<div>
    <section>
      <h2>Snapshots</h2>
      ${
        list.length === 0
          ? html`<p class="muted">No snapshots yet.</p>`
          : html`<table class="snapshots">
              <thead>
                <tr>
                  <th></th>
                  <th>ID</th>
                  <th>Time</th>
                  <th>Source / paths</th>
                  <th>Size</th>
                  <th>Files</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>
                ${[...list].reverse().map(
                  (s) =>
                    html`<tr data-snapshot=${s.id}>
                      <td><input type="checkbox" title="compare" checked=${picked.includes(s.id)} onChange=${() => toggle(s.id)} /></td>
                      <td><code>${s.shortId}</code>${s.pinned ? ' 📌' : ''}</td>
                      <td>${when(s.time)}</td>
                      <td>${s.source ?? s.paths.join(', ')}</td>
                      <td>${bytes(s.sizeBytes)}</td>
                      <td>${s.files}</td>
                      <td>
                        <a class="browse" href=${browseHref(s.id, '/')}>Browse</a
                        >${s.tags.filter((t) => t.startsWith('volume:')).map((t) => html` <button class="restore-volume" onClick=${() => setVolume({ snapshot: s, from: t.slice('volume:'.length) })}>Restore ${t.slice('volume:'.length)}…</button>`)}
                      </td>
                    </tr>`,
                )}
              </tbody>
            </table>`
      }
      <p class="muted">Tick two snapshots to see what changed between them.</p>
    </section>
    ${volume && html`<${VolumeWizard} snapshot=${volume.snapshot} from=${volume.from} onClose=${() => setVolume(null)} />`}
    ${picked.length === 2 && html`<${Diff} from=${picked[0]} to=${picked[1]} />`}
  </div>`;
}
