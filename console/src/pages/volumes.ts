// Volumes and sources: the Docker volumes the engine has, the containers that use them and their
// cairn.* labels, each volume's last snapshot; back up a volume or a directory now, or go to the
// source editor (Settings) with it filled in.
import { useState } from 'preact/hooks';
import { op } from '../api.js';
import { bytes, when } from '../format.js';
import { html } from '../html.js';
import { useLoad } from '../use-load.js';

export function Volumes() {
  const { data: volumes, error, reload } = useLoad(() => op('volumes'), []);
  const [dir, setDir] = useState('');
  const [msg, setMsg] = useState('');
  const [busy, setBusy] = useState(false);
  const backup = async (what: { volumes?: string[]; paths?: string[] }) => {
    setBusy(true);
    setMsg('');
    try {
      const r = what.volumes
        ? await op('volumeBackup', { paths: [], volumes: what.volumes, tags: [] })
        : await op('backup', { paths: what.paths ?? [], tags: [] });
      setMsg(`snapshot ${r.shortId}: ${r.files} files, ${bytes(r.sizeBytes)} (${bytes(r.addedBytes)} new)`);
      reload();
    } catch (err) {
      setMsg((err as Error).message);
    }
    setBusy(false);
  };
  return html`<div>
    <section>
      <h2>Docker volumes</h2>
      ${error && html`<p class="error volumes-error">${error}</p>`}
      ${volumes && volumes.length === 0 && html`<p class="muted">The Docker engine has no volumes.</p>`}
      ${
        volumes &&
        volumes.length > 0 &&
        html`<table class="volumes">
          <thead>
            <tr>
              <th>Volume</th>
              <th>Size</th>
              <th>Used by</th>
              <th>Last snapshot</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            ${volumes.map(
              (v) =>
                html`<tr data-volume=${v.name}>
                  <td>${v.name} <span class="muted">(${v.driver})</span></td>
                  <td>${v.sizeBytes === null ? '?' : bytes(v.sizeBytes)}</td>
                  <td>
                    ${v.containers.length === 0 ? html`<span class="muted">no container</span>` : v.containers.map((c) => html`<div>${c.name} <span class="muted">${c.state}, ${c.image}</span>${Object.entries(c.labels).map(([k, val]) => html` <code>${k}=${val}</code>`)}</div>`)}
                  </td>
                  <td>
                    ${v.lastSnapshot ? html`<code>${v.lastSnapshot.shortId}</code> ${when(v.lastSnapshot.time)}` : html`<span class="muted">never</span>`}
                  </td>
                  <td>
                    <button disabled=${busy} onClick=${() => backup({ volumes: [v.name] })}>Back up now</button>
                    <a class="protect" href=${`#/settings/source?volume=${encodeURIComponent(v.name)}`}>Back up on a schedule…</a>
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>`
      }
    </section>
    <section>
      <h2>Back up a directory</h2>
      <p class="muted">A one-off snapshot of a directory on the agent's machine, or add it as a source that runs on a schedule.</p>
      <div class="row">
        <input name="dir" size="50" placeholder="/srv/data" value=${dir} onInput=${(e: Event) => setDir((e.target as HTMLInputElement).value)} /><button
          class="primary backup-dir"
          disabled=${busy || !dir.startsWith('/')}
          onClick=${() => backup({ paths: [dir] })}
        >
          Back up now
        </button>
        ${dir.startsWith('/') && html`<a class="protect-dir" href=${`#/settings/source?path=${encodeURIComponent(dir)}`}>Back up on a schedule…</a>`}
      </div>
    </section>
    ${msg && html`<p class="backup-msg">${msg}</p>`}
  </div>`;
}
