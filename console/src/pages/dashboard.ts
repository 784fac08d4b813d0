// At a glance: every source with its state (a running one with its progress), last and next run, where copies are and its 3-2-1
// state in words (protected, at risk, not off-site) with the next step; friends online; space used
// and granted; alerts. Ad-hoc backups (paths that are no configured source) have a table of their
// own, and each can be removed from it (ops/dashboard-hidden.ts).
import { useState } from 'preact/hooks';
import { ROUTES, type SourceStatus, type StatusResult } from '../../../protocol/console-api.js';
import { api, op } from '../api.js';
import { bytes, percent, when } from '../format.js';
import { html } from '../html.js';
import { useLoad } from '../use-load.js';

function Bar({ used, of }: { used: number; of: number }) {
  // one expression per line of text: htm drops whitespace that holds a line break ("of10.0 GiB")
  const text = `${bytes(used)} of ${bytes(of)}`;
  return html`<span class="bar" title=${text}><span style=${{ width: percent(used, of) }}></span></span> ${text}`;
}

/** A running backup's progress in one line: files, bytes, of the total once the scan knows it. */
function RunningProgress({ src }: { src: SourceStatus }) {
  const p = src.running?.progress;
  if (!p) return null;
  const files = `${p.files}${p.totalFiles !== undefined ? ` of ${p.totalFiles}` : ''} files`;
  const size = `${bytes(p.bytes)}${p.totalBytes !== undefined ? ` of ${bytes(p.totalBytes)} (${percent(p.bytes, p.totalBytes)})` : ''}`;
  return html`<div class="source-progress">${`${files}, ${size}`}</div>`;
}

function RemoveButton({ name, onDone }: { name: string; onDone: () => void }) {
  const [error, setError] = useState('');
  const remove = () => {
    op('hideSource', { name }).then(onDone, (err: unknown) => setError((err as Error).message));
  };
  return html`<button class="remove-source" title="Hide this row; the snapshots stay" onClick=${remove}>Remove</button
    >${error && html`<div class="error">${error}</div>`}`;
}

function SourceTable({ sources, adhoc, onChange }: { sources: SourceStatus[]; adhoc: boolean; onChange: () => void }) {
  return html`<table class=${adhoc ? 'adhoc-sources' : 'sources'}>
    <thead>
      <tr>
        <th>${adhoc ? 'Paths' : 'Source'}</th>
        <th>State</th>
        <th>Last run</th>
        ${!adhoc && html`<th>Next run</th>`}
        <th>Snapshots</th>
        <th>Copies</th>
        <th>3-2-1</th>
        ${adhoc && html`<th></th>`}
      </tr>
    </thead>
    <tbody>
      ${sources.map(
        (src) =>
          html`<tr data-source=${src.name}>
            <td>${src.name}</td>
            <td>
              <span class=${`state ${src.state}`}>${src.state}</span>${src.state === 'running' && html`<${RunningProgress} src=${src} />`}${
                src.state !== 'running' && src.lastRun?.error && html`<div class="error">${src.lastRun.error}</div>`
              }
            </td>
            <td>${src.lastRun ? when(src.lastRun.time) : src.state === 'running' ? 'first run under way' : 'never'}</td>
            ${!adhoc && html`<td>${src.nextRun ? when(src.nextRun) : html`<span class="muted">not scheduled</span>`}</td>`}
            <td>${src.snapshots}</td>
            <td>
              ${src.snapshots === 0 ? '' : src.copies.local ? 'local' : html`<span class="error">not local</span>`}${src.copies.friends.map((f) => html`<div>${f.name}: ${f.packs}/${f.of} packs</div>`)}
            </td>
            <td class="protection">
              ${
                src.protection &&
                html`<span class=${`state ${src.protection.state.replace(/ /g, '-')}`} data-state=${src.protection.state}>${src.protection.state}</span>
                  <div class="muted">
                    ${`${src.protection.copies} of ${src.protection.wantedCopies} off-site copies; `}${src.protection.lastProvedAt ? html`last proved ${when(src.protection.lastProvedAt)}` : 'never proved'}
                  </div>
                  ${src.protection.nextStep && html`<div class="next-step">Next step: ${src.protection.nextStep}</div>`}`
              }
            </td>
            ${adhoc && html`<td>${src.state !== 'running' && html`<${RemoveButton} name=${src.name} onDone=${onChange} />`}</td>`}
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export function Dashboard() {
  const { data: s, error, reload } = useLoad(() => api<StatusResult>('GET', ROUTES.status.path), [], 3000);
  if (error) return html`<p class="error">${error}</p>`;
  if (!s) return html`<p class="muted">Loading…</p>`;
  const configured = s.sources.filter((src) => src.configured);
  const adhoc = s.sources.filter((src) => !src.configured);
  return html`<div>
    ${
      s.alerts.length > 0 &&
      html`<section>
        <h2>Alerts</h2>
        ${s.alerts.map((a) => html`<div class=${`alert ${a.level}`} data-kind=${a.kind}>${a.message}</div>`)}
      </section>`
    }
    <section>
      <h2>What is protected</h2>
      ${
        s.sources.length === 0
          ? html`<p class="muted">
              Nothing backed up yet. Add a folder or a volume as a source under <a href="#/settings">Settings</a> (or from the
              <a href="#/volumes">Volumes</a> page), or run <code>cairn backup PATH</code>.
            </p>`
          : html`<${SourceTable} sources=${configured} adhoc=${false} onChange=${reload} />`
      }
      ${
        adhoc.length > 0 &&
        html`<h3>Ad-hoc backups</h3>
          <p class="muted">Backups of paths that are not a configured source. Removing one here hides its row; its snapshots stay.</p>
          <${SourceTable} sources=${adhoc} adhoc=${true} onChange=${reload} />`
      }
    </section>
    <section>
      <h2>Friends and space</h2>
      <p>Friends online: <strong class="friends-online">${s.friends.online}</strong> of ${s.friends.total}</p>
      <p>This disk: ${bytes(s.space.localBytes)} of backups</p>
      <p>At friends: <${Bar} used=${s.space.atFriendsBytes} of=${s.space.grantedByFriendsBytes} /></p>
      <p>For friends: <${Bar} used=${s.space.forFriendsBytes} of=${s.space.grantedToFriendsBytes} /></p>
      <p class="muted">
        ${`Replication: ${s.replication.underReplicated} of ${s.replication.packs} packs below ${s.replication.wantedCopies} copies; last success `}${when(s.replication.lastSuccess)}
      </p>
    </section>
  </div>`;
}
