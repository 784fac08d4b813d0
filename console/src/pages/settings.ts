// Settings: the effective configuration (sources, schedules, retention; edited in cairn.yaml,
// which the agent reloads), notification channels, and a check of the recovery phrase.
import { useState } from 'preact/hooks';
import type { CairnConfig } from '../../../protocol/config.js';
import { ROUTES, type RecoveryPhraseCheckResult } from '../../../protocol/console-api.js';
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
    <${PhraseCheck} />
  </div>`;
}
