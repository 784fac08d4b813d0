// Settings: the effective configuration (sources, schedules, retention; edited in cairn.yaml,
// which the agent reloads), notification channels, and a check of the recovery phrase.
import { useState } from 'preact/hooks';
import type { CairnConfig } from '../../../protocol/config.js';
import type { ForgetResult } from '../../../protocol/api.js';
import { ROUTES, type NotificationSettings, type NotificationTestResult, type PassphraseChangeResult, type RecoveryPhraseCheckResult } from '../../../protocol/console-api.js';
import { api, op } from '../api.js';
import { html } from '../html.js';
import { useLoad } from '../use-load.js';

function retentionText(r: CairnConfig['sources'][number]['retention']): string {
  const parts = Object.entries(r).map(([k, v]) => `${k.replace(/^keep/, '').replace(/Ms$/, '').toLowerCase()} ${Array.isArray(v) ? v.join(',') : k === 'keepWithinMs' ? `${Math.round(Number(v) / 3_600_000)}h` : v === -1 ? 'unlimited' : v}`);
  return parts.length ? parts.join(', ') : 'keep everything';
}

function PhraseCheck() {
  const [phrase, setPhrase] = useState('');
  const [result, setResult] = useState<RecoveryPhraseCheckResult | null>(null);
  const check = () => api<RecoveryPhraseCheckResult>('POST', ROUTES.recoveryPhraseCheck.path, { phrase }).then(setResult, (err: unknown) => setResult({ matches: false, problem: (err as Error).message }));
  return html`<section>
    <h2>Check your recovery phrase</h2>
    <p class="muted">Type the 24 words you wrote down: the agent says whether they would recover this repository. Nothing is stored.</p>
    <div class="row"><input name="phrase" size="80" value=${phrase} onInput=${(e: Event) => setPhrase((e.target as HTMLInputElement).value)} /><button onClick=${check}>Check</button></div>
    ${result && html`<p class=${result.matches ? '' : 'error'}>${result.matches ? 'Correct: this phrase recovers this repository.' : result.problem}</p>`}
  </section>`;
}

const COUNT_KEYS = [
  ['keepLast', 'last'],
  ['keepHourly', 'hourly'],
  ['keepDaily', 'daily'],
  ['keepWeekly', 'weekly'],
  ['keepMonthly', 'monthly'],
  ['keepYearly', 'yearly'],
] as const;

/** What a retention policy would keep, as forget --dry-run says it (nothing is removed here). */
function RetentionPreview() {
  const [counts, setCounts] = useState<Record<string, string>>({ keepDaily: '7', keepWeekly: '4' });
  const [result, setResult] = useState<ForgetResult | null>(null);
  const [error, setError] = useState('');
  const preview = async () => {
    setError('');
    const policy: Record<string, number> = {};
    for (const [k] of COUNT_KEYS) if (counts[k]) policy[k] = Number(counts[k]);
    try {
      setResult(await op<ForgetResult>('forget', { policy, dryRun: true }));
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return html`<section class="retention-preview">
    <h2>Retention preview</h2>
    <p class="muted">Try a policy on the snapshots you have: nothing is removed here. Set the policy per source in cairn.yaml.</p>
    <div class="row">${COUNT_KEYS.map(([k, label]) => html`<label>${label} <input name=${k} size="3" value=${counts[k] ?? ''} onInput=${(e: Event) => setCounts({ ...counts, [k]: (e.target as HTMLInputElement).value })} /></label>`)}<button onClick=${preview}>Preview</button></div>
    ${error && html`<p class="error">${error}</p>`}
    ${result &&
    html`<div><p>Would keep ${result.kept}, remove ${result.removed} (time zone ${result.timeZone}).</p>
      ${result.groups.map(
        (g) => html`<table class="preview"><thead><tr><th colspan="3">${g.source ?? (g.paths ?? []).join(', ')}: ${g.policy}</th></tr></thead><tbody>
          ${g.snapshots.map((sn) => html`<tr class=${sn.keep ? 'keep' : 'remove'}><td><code>${sn.shortId}</code> ${new Date(sn.time).toLocaleString()}</td><td>${sn.keep ? 'keep' : html`<span class="error">remove</span>`}</td><td class="muted">${sn.reasons.join(', ')}</td></tr>`)}
        </tbody></table>`,
      )}</div>`}
  </section>`;
}

function Passphrase() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [msg, setMsg] = useState('');
  const change = () =>
    api<PassphraseChangeResult>('POST', ROUTES.passphraseChange.path, { current, next }).then(
      (r) => setMsg(r.updatedFile ? `Changed; ${r.updatedFile} was updated.` : 'Changed. Update CAIRN_PASSPHRASE (or your passphrase file) before the agent restarts.'),
      (err: unknown) => setMsg((err as Error).message),
    );
  return html`<section>
    <h2>Change the passphrase</h2>
    <p class="muted">It unlocks this agent's key file; the recovery phrase stays the same.</p>
    <div class="row"><input type="password" name="current-passphrase" placeholder="current" value=${current} onInput=${(e: Event) => setCurrent((e.target as HTMLInputElement).value)} /><input type="password" name="new-passphrase" placeholder="new" value=${next} onInput=${(e: Event) => setNext((e.target as HTMLInputElement).value)} /><button onClick=${change}>Change</button></div>
    ${msg && html`<p>${msg}</p>`}
  </section>`;
}

function Notifications() {
  const { data } = useLoad(() => api<{ settings: NotificationSettings }>('GET', ROUTES.notificationsGet.path), []);
  const [url, setUrl] = useState<string | null>(null);
  const [msg, setMsg] = useState('');
  if (!data) return html`<section><h2>Notifications</h2><p class="muted">Loading…</p></section>`;
  const s = data.settings;
  const hook = url ?? s.webhook?.url ?? '';
  const save = () =>
    api('POST', ROUTES.notificationsSet.path, { ...s, webhook: hook ? { url: hook, headers: s.webhook?.headers ?? {}, ...(s.webhook?.topic ? { topic: s.webhook.topic } : {}) } : null }).then(
      () => setMsg('Saved.'),
      (err: unknown) => setMsg((err as Error).message),
    );
  const testIt = () => api<NotificationTestResult>('POST', ROUTES.notificationsTest.path).then((r) => setMsg(`sent: ${r.sent.join(', ') || 'nothing'}${r.failed.length ? `; failed: ${r.failed.map((f) => `${f.channel} (${f.error})`).join(', ')}` : ''}`), (err: unknown) => setMsg((err as Error).message));
  return html`<section>
    <h2>Notifications</h2>
    <p class="muted">Failed backups and staleness (no backup for ${Math.round(s.staleAfterMs / 3_600_000)} h, a friend offline for ${Math.round(s.friendOfflineAfterMs / 3_600_000)} h) go to a webhook (JSON; ntfy and gotify understand it)${s.email ? ` and by e-mail to ${s.email.to.join(', ')}` : ''}.</p>
    <div class="row"><input name="webhook" size="60" placeholder="https://ntfy.example/cairn" value=${hook} onInput=${(e: Event) => setUrl((e.target as HTMLInputElement).value)} /><button onClick=${save}>Save</button><button onClick=${testIt}>Send a test</button></div>
    ${msg && html`<p class="notify-msg">${msg}</p>`}
  </section>`;
}

export function Settings() {
  const { data: config, error } = useLoad(() => op<CairnConfig>('config'), []);
  return html`<div>
    <section>
      <h2>Sources and schedules</h2>
      ${error && html`<p class="error">${error}</p>`}
      ${config &&
      html`<table>
        <thead><tr><th>Source</th><th>What</th><th>Schedule</th><th>Retention</th></tr></thead>
        <tbody>${config.sources.map((s) => html`<tr><td>${s.name}</td><td>${[...s.volumes.map((v) => `volume ${v}`), ...s.volumeSelectors.map((l) => `volumes labelled ${l}`), ...s.paths].join(', ')}</td><td><code>${s.schedule ?? 'manual'}</code></td><td>${retentionText(s.retention)}</td></tr>`)}</tbody>
      </table>
      <p class="muted">Edit cairn.yaml in the agent's home; the agent reloads it (see "cairn config check"). Replicas: ${config.replicas}; console at ${config.console.address}.</p>`}
    </section>
    <${RetentionPreview} />
    <${Notifications} />
    <${Passphrase} />
    <${PhraseCheck} />
  </div>`;
}
