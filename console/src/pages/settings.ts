// Settings: the effective configuration (sources, schedules, retention; edited in cairn.yaml,
// which the agent reloads), notification channels, and a check of the recovery phrase.
import { useState } from 'preact/hooks';
import type { CairnConfig } from '../../../protocol/config.js';
import type { ForgetResult } from '../../../protocol/api.js';
import {
  ROUTES,
  type NotificationSettings,
  type NotificationTestResult,
  type PassphraseChangeResult,
  type RecoveryPhraseCheckResult,
} from '../../../protocol/console-api.js';
import { api, op } from '../api.js';
import { when } from '../format.js';
import { html } from '../html.js';
import { useLoad } from '../use-load.js';
import { SourcesEditor } from './sources.js';

function retentionText(r: CairnConfig['sources'][number]['retention']): string {
  const parts = Object.entries(r).map(
    ([k, v]) =>
      `${k.replace(/^keep/, '').replace(/Ms$/, '').toLowerCase()} ${Array.isArray(v) ? v.join(',') : k === 'keepWithinMs' ? `${Math.round(Number(v) / 3_600_000)}h` : v === -1 ? 'unlimited' : v}`,
  );
  return parts.length ? parts.join(', ') : 'keep everything';
}

function PhraseCheck() {
  const [phrase, setPhrase] = useState('');
  const [result, setResult] = useState<RecoveryPhraseCheckResult | null>(null);
  const check = () =>
    api<RecoveryPhraseCheckResult>('POST', ROUTES.recoveryPhraseCheck.path, { phrase }).then(setResult, (err: unknown) =>
      setResult({ matches: false, problem: (err as Error).message }),
    );
  return html`<section>
    <h2>Check your recovery phrase</h2>
    <p class="muted">Type the 24 words you wrote down: the agent says whether they would recover this repository. Nothing is stored.</p>
    <div class="row">
      <input
        name="phrase"
        type="password"
        autocomplete="off"
        spellcheck="false"
        size="80"
        value=${phrase}
        onInput=${(e: Event) => setPhrase((e.target as HTMLInputElement).value)}
      /><button onClick=${check}>Check</button>
    </div>
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
      setResult(await op('forget', { policy, dryRun: true }));
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return html`<section class="retention-preview">
    <h2>Retention preview</h2>
    <p class="muted">Try a policy on the snapshots you have: nothing is removed here. Set the policy per source in cairn.yaml.</p>
    <div class="row">
      ${COUNT_KEYS.map(([k, label]) => html`<label>${label} <input name=${k} size="3" value=${counts[k] ?? ''} onInput=${(e: Event) => setCounts({ ...counts, [k]: (e.target as HTMLInputElement).value })} /></label>`)}<button
        onClick=${preview}
      >
        Preview
      </button>
    </div>
    ${error && html`<p class="error">${error}</p>`}
    ${
      result &&
      html`<div>
        <p>Would keep ${result.kept}, remove ${result.removed} (time zone ${result.timeZone}).</p>
        ${result.groups.map(
          (g) =>
            html`<table class="preview">
              <thead>
                <tr>
                  <th colspan="3">${g.source ?? (g.paths ?? []).join(', ')}: ${g.policy}</th>
                </tr>
              </thead>
              <tbody>
                ${g.snapshots.map(
                  (sn) =>
                    html`<tr class=${sn.keep ? 'keep' : 'remove'}>
                      <td><code>${sn.shortId}</code> ${when(sn.time)}</td>
                      <td>${sn.keep ? 'keep' : html`<span class="error">remove</span>`}</td>
                      <td class="muted">${sn.reasons.join(', ')}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`,
        )}
      </div>`
    }
  </section>`;
}

function Passphrase() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [msg, setMsg] = useState('');
  const change = () =>
    api<PassphraseChangeResult>('POST', ROUTES.passphraseChange.path, { current, next }).then(
      (r) =>
        setMsg(
          r.updatedFile ? `Changed; ${r.updatedFile} was updated.` : 'Changed. Update CAIRN_PASSPHRASE (or your passphrase file) before the agent restarts.',
        ),
      (err: unknown) => setMsg((err as Error).message),
    );
  return html`<section>
    <h2>Change the passphrase</h2>
    <p class="muted">It unlocks this agent's key file; the recovery phrase stays the same.</p>
    <div class="row">
      <input
        type="password"
        name="current-passphrase"
        placeholder="current"
        value=${current}
        onInput=${(e: Event) => setCurrent((e.target as HTMLInputElement).value)}
      /><input
        type="password"
        name="new-passphrase"
        placeholder="new"
        value=${next}
        onInput=${(e: Event) => setNext((e.target as HTMLInputElement).value)}
      /><button onClick=${change}>Change</button>
    </div>
    ${msg && html`<p>${msg}</p>`}
  </section>`;
}

type Email = NonNullable<NotificationSettings['email']>;
const NO_EMAIL: Email = { host: '', port: 587, secure: false, user: '', pass: '', from: '', to: [] };

/** Webhook and e-mail (SMTP) channels and the staleness thresholds; the SMTP password comes back masked. */
function Notifications() {
  const { data } = useLoad(() => api<{ settings: NotificationSettings }>('GET', ROUTES.notificationsGet.path), []);
  const [edit, setEdit] = useState<{ hook: string; email: Email; to: string; staleH: string; offlineH: string } | null>(null);
  const [msg, setMsg] = useState('');
  if (!data)
    return html`<section>
      <h2>Notifications</h2>
      <p class="muted">Loading…</p>
    </section>`;
  const s = data.settings;
  const f = edit ?? {
    hook: s.webhook?.url ?? '',
    email: s.email ?? NO_EMAIL,
    to: (s.email?.to ?? []).join(', '),
    staleH: String(Math.round(s.staleAfterMs / 3_600_000)),
    offlineH: String(Math.round(s.friendOfflineAfterMs / 3_600_000)),
  };
  const set = (patch: Partial<typeof f>) => setEdit({ ...f, ...patch });
  const setMail = (patch: Partial<Email>) => set({ email: { ...f.email, ...patch } });
  const input = (name: string, value: string, on: (v: string) => void, attrs: Record<string, unknown> = {}) =>
    html`<input name=${name} value=${value} onInput=${(e: Event) => on((e.target as HTMLInputElement).value)} ...${attrs} />`;
  const save = () => {
    const to = f.to
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    const email = f.email.host.trim() ? { ...f.email, host: f.email.host.trim(), port: Number(f.email.port), to } : null;
    const body: NotificationSettings = {
      webhook: f.hook.trim() ? { url: f.hook.trim(), headers: s.webhook?.headers ?? {}, ...(s.webhook?.topic ? { topic: s.webhook.topic } : {}) } : null,
      email,
      staleAfterMs: Math.round(Number(f.staleH) * 3_600_000),
      friendOfflineAfterMs: Math.round(Number(f.offlineH) * 3_600_000),
    };
    api('POST', ROUTES.notificationsSet.path, body).then(
      () => {
        setEdit(null);
        setMsg('Saved.');
      },
      (err: unknown) => setMsg((err as Error).message),
    );
  };
  const testIt = () =>
    api<NotificationTestResult>('POST', ROUTES.notificationsTest.path).then(
      (r) =>
        setMsg(`sent: ${r.sent.join(', ') || 'nothing'}${r.failed.length ? `; failed: ${r.failed.map((x) => `${x.channel} (${x.error})`).join(', ')}` : ''}`),
      (err: unknown) => setMsg((err as Error).message),
    );
  return html`<section class="notifications">
    <h2>Notifications</h2>
    <p class="muted">Failed backups, and staleness: no successful backup or replication for a while, a friend offline, a failed audit.</p>
    <div class="row">
      <label
        >Webhook (JSON; ntfy and gotify understand it)
        ${input('webhook', f.hook, (v) => set({ hook: v }), { size: 50, placeholder: 'https://ntfy.example/cairn' })}</label
      >
    </div>
    <div class="row">
      <label
        >SMTP server ${input('smtp-host', f.email.host, (v) => setMail({ host: v }), { size: 24, placeholder: 'smtp.example.org (empty: no e-mail)' })}</label
      >
      <label>port ${input('smtp-port', String(f.email.port), (v) => setMail({ port: Number(v) || 0 }), { size: 5 })}</label>
      <label
        ><input
          type="checkbox"
          name="smtp-secure"
          checked=${f.email.secure}
          onChange=${(e: Event) => setMail({ secure: (e.target as HTMLInputElement).checked })}
        />
        TLS from the start (port 465)</label
      >
    </div>
    <div class="row">
      <label>user ${input('smtp-user', f.email.user, (v) => setMail({ user: v }), { size: 20 })}</label>
      <label>password ${input('smtp-pass', f.email.pass, (v) => setMail({ pass: v }), { size: 16, type: 'password' })}</label>
    </div>
    <div class="row">
      <label>from ${input('smtp-from', f.email.from, (v) => setMail({ from: v }), { size: 28, placeholder: 'cairn@example.org' })}</label>
      <label>to ${input('smtp-to', f.to, (v) => set({ to: v }), { size: 36, placeholder: 'me@example.org, partner@example.org' })}</label>
    </div>
    <div class="row">
      <label>Alert when no backup for ${input('stale-hours', f.staleH, (v) => set({ staleH: v }), { size: 4 })} hours</label>
      <label>or a friend is offline for ${input('offline-hours', f.offlineH, (v) => set({ offlineH: v }), { size: 4 })} hours</label>
    </div>
    <div class="row"><button class="primary save-notifications" onClick=${save}>Save</button><button onClick=${testIt}>Send a test</button></div>
    <p class="muted">The SMTP password is kept in the agent's home (mode 0600); CAIRN_SMTP_PASSWORD overrides it.</p>
    ${msg && html`<p class="notify-msg">${msg}</p>`}
  </section>`;
}

export function Settings() {
  return html`<div>
    <${SourcesEditor} retentionText=${retentionText} />
    <${RetentionPreview} />
    <${Notifications} />
    <${Passphrase} />
    <${PhraseCheck} />
  </div>`;
}
