// At a glance: every source with its state, last and next run, where copies are and its 3-2-1
// state in words (protected, at risk, not off-site) with the next step; friends online; space used
// and granted; alerts.
import { ROUTES, type StatusResult } from '../../../protocol/console-api.js';
import { api } from '../api.js';
import { bytes, percent, when } from '../format.js';
import { html } from '../html.js';
import { useLoad } from '../use-load.js';

function Bar({ used, of }: { used: number; of: number }) {
  return html`<span class="bar" title=${`${bytes(used)} of ${bytes(of)}`}><span style=${{ width: percent(used, of) }}></span></span> ${bytes(used)} of
    ${bytes(of)}`;
}

export function Dashboard() {
  const { data: s, error } = useLoad(() => api<StatusResult>('GET', ROUTES.status.path), [], 3000);
  if (error) return html`<p class="error">${error}</p>`;
  if (!s) return html`<p class="muted">Loading…</p>`;
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
          ? html`<p class="muted">Nothing backed up yet. Run <code>cairn backup PATH</code> or add sources to cairn.yaml.</p>`
          : html`<table>
              <thead>
                <tr>
                  <th>Source</th>
                  <th>State</th>
                  <th>Last run</th>
                  <th>Next run</th>
                  <th>Snapshots</th>
                  <th>Copies</th>
                  <th>3-2-1</th>
                </tr>
              </thead>
              <tbody>
                ${s.sources.map(
                  (src) =>
                    html`<tr data-source=${src.name}>
                      <td>${src.name}</td>
                      <td>
                        <span class=${`state ${src.state}`}>${src.state}</span>${src.lastRun?.error && html`<div class="error">${src.lastRun.error}</div>`}
                      </td>
                      <td>${when(src.lastRun?.time ?? null)}</td>
                      <td>${src.nextRun ? when(src.nextRun) : html`<span class="muted">not scheduled</span>`}</td>
                      <td>${src.snapshots}</td>
                      <td>
                        ${src.copies.local ? 'local' : html`<span class="error">not local</span>`}${src.copies.friends.map((f) => html`<div>${f.name}: ${f.packs}/${f.of} packs</div>`)}
                      </td>
                      <td class="protection">
                        ${
                          src.protection &&
                          html`<span class=${`state ${src.protection.state.replace(/ /g, '-')}`} data-state=${src.protection.state}
                              >${src.protection.state}</span
                            >
                            <div class="muted">
                              ${src.protection.copies} of ${src.protection.wantedCopies} off-site copies;
                              ${src.protection.lastProvedAt ? html`last proved ${when(src.protection.lastProvedAt)}` : 'never proved'}
                            </div>
                            ${src.protection.nextStep && html`<div class="next-step">Next step: ${src.protection.nextStep}</div>`}`
                        }
                      </td>
                    </tr>`,
                )}
              </tbody>
            </table>`
      }
    </section>
    <section>
      <h2>Friends and space</h2>
      <p>Friends online: <strong class="friends-online">${s.friends.online}</strong> of ${s.friends.total}</p>
      <p>This disk: ${bytes(s.space.localBytes)} of backups</p>
      <p>At friends: <${Bar} used=${s.space.atFriendsBytes} of=${s.space.grantedByFriendsBytes} /></p>
      <p>For friends: <${Bar} used=${s.space.forFriendsBytes} of=${s.space.grantedToFriendsBytes} /></p>
      <p class="muted">
        Replication: ${s.replication.underReplicated} of ${s.replication.packs} packs below ${s.replication.wantedCopies} copies; last success
        ${when(s.replication.lastSuccess)}
      </p>
    </section>
  </div>`;
}
