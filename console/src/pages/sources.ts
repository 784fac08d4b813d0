// Sources and schedules: what the agent backs up on its own, as cairn.yaml lists it. Adding,
// changing or removing a source here edits cairn.yaml (comments and other settings stay) with the
// same checks as a hand edit; the agent reloads it at once. The Volumes page links here with a
// volume or a directory filled in (#/settings/source?volume=NAME or ?path=/dir).
import { useState } from 'preact/hooks';
import type { SourceConfig } from '../../../protocol/config.js';
import { ROUTES, type SourceFileForm, type SourcesResult } from '../../../protocol/console-api.js';
import { api, op } from '../api.js';
import { scheduleWords } from '../format.js';
import { html } from '../html.js';
import { useLoad } from '../use-load.js';

type Kind = 'paths' | 'volumes' | 'volume-selectors';
const KINDS: Array<[Kind, string, string]> = [
  ['paths', 'directories', '/srv/photos, /srv/docs'],
  ['volumes', 'Docker volumes', 'pgdata, nextcloud'],
  ['volume-selectors', 'volumes labelled', 'cairn.backup=true'],
];
const COUNTS: Array<[string, string]> = [
  ['keep-last', 'last'],
  ['keep-daily', 'daily'],
  ['keep-weekly', 'weekly'],
  ['keep-monthly', 'monthly'],
];
const SCHEDULES: Array<[string, string]> = [
  ['0 * * * *', 'every hour'],
  ['0 3 * * *', 'every night at 03:00'],
  ['0 3 * * 0', 'Sundays at 03:00'],
  ['', 'only when started by hand'],
];

interface Draft {
  name: string;
  kind: Kind;
  what: string;
  schedule: string;
  exclude: string;
  counts: Record<string, string>;
}

const list = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** A source as the form edits it (retention counts only; other rules stay as they are in cairn.yaml). */
function draftOf(s: SourceConfig): Draft {
  const kind: Kind = s.paths.length > 0 ? 'paths' : s.volumes.length > 0 ? 'volumes' : 'volume-selectors';
  const what = kind === 'paths' ? s.paths : kind === 'volumes' ? s.volumes : s.volumeSelectors;
  const r = s.retention;
  const n = (v: number | undefined) => (v === undefined ? '' : v === -1 ? 'unlimited' : String(v));
  return {
    name: s.name,
    kind,
    what: what.join(', '),
    schedule: s.schedule ?? '',
    exclude: s.exclude.join(', '),
    counts: { 'keep-last': n(r.keepLast), 'keep-daily': n(r.keepDaily), 'keep-weekly': n(r.keepWeekly), 'keep-monthly': n(r.keepMonthly) },
  };
}

function formOf(d: Draft, before: SourceConfig | undefined): SourceFileForm {
  const retention: Record<string, number | string | string[]> = {};
  // rules the form does not show are kept from the source as it was
  if (before?.retention.keepHourly !== undefined) retention['keep-hourly'] = before.retention.keepHourly;
  if (before?.retention.keepYearly !== undefined) retention['keep-yearly'] = before.retention.keepYearly;
  if (before?.retention.keepWithinMs !== undefined) retention['keep-within'] = `${Math.round(before.retention.keepWithinMs / 3_600_000)}h`;
  if (before?.retention.keepTags?.length) retention['keep-tag'] = before.retention.keepTags;
  for (const [k] of COUNTS) {
    const v = d.counts[k]?.trim();
    if (v) retention[k] = /^\d+$/.test(v) ? Number(v) : v;
  }
  // a hand-written source may name several kinds; the form shows one, the others stay
  const shown = before ? draftOf(before).kind : d.kind;
  const kept: Partial<Record<Kind, string[]>> = {};
  if (before) {
    const of: Record<Kind, string[]> = { paths: before.paths, volumes: before.volumes, 'volume-selectors': before.volumeSelectors };
    for (const [k] of KINDS) if (k !== shown && k !== d.kind && of[k].length > 0) kept[k] = of[k];
  }
  return {
    name: d.name.trim(),
    ...kept,
    [d.kind]: list(d.what),
    ...(d.schedule.trim() ? { schedule: d.schedule.trim() } : {}),
    exclude: list(d.exclude),
    retention,
    ...(before?.tags.length ? { tags: before.tags } : {}),
  };
}

/** A new source prefilled from the page's address (the Volumes page links here). */
function draftFromHash(): Draft {
  const q = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const volume = q.get('volume');
  const path = q.get('path');
  const base = volume ?? path?.split('/').filter(Boolean).pop() ?? '';
  const name = base
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 64);
  return {
    name,
    kind: volume ? 'volumes' : 'paths',
    what: volume ?? path ?? '',
    schedule: '0 3 * * *',
    exclude: '',
    counts: { 'keep-daily': '7', 'keep-weekly': '4', 'keep-monthly': '6' },
  };
}

function describe(s: SourceConfig): string {
  return [...s.volumes.map((v) => `volume ${v}`), ...s.volumeSelectors.map((l) => `volumes labelled ${l}`), ...s.paths].join(', ');
}

export function SourcesEditor({ retentionText }: { retentionText: (r: SourceConfig['retention']) => string }) {
  const { data: config, error, reload } = useLoad(() => op('config'), []);
  const [draft, setDraft] = useState<Draft | null>(() => (location.hash.includes('?') ? draftFromHash() : null));
  const [editing, setEditing] = useState<string | null>(null);
  const [msg, setMsg] = useState('');
  const [failure, setFailure] = useState('');
  const sources = config?.sources ?? [];
  const set = (patch: Partial<Draft>) => setDraft((d) => (d ? { ...d, ...patch } : d));
  const save = async () => {
    if (!draft) return;
    setFailure('');
    try {
      const before = sources.find((s) => s.name === (editing ?? draft.name));
      const r = await api<SourcesResult>('POST', ROUTES.sourceSave.path, { source: formOf(draft, before) });
      setMsg(`Saved "${draft.name}" in ${r.file}; the agent uses it now.`);
      setDraft(null);
      setEditing(null);
      reload();
    } catch (err) {
      setFailure((err as Error).message);
    }
  };
  const remove = async (name: string) => {
    if (!confirm(`Remove the source "${name}" from cairn.yaml? Its snapshots stay until retention or "forget" removes them.`)) return;
    try {
      await api<SourcesResult>('POST', ROUTES.sourceRemove.path, { name });
      setMsg(`Removed "${name}" from cairn.yaml; its snapshots stay.`);
      reload();
    } catch (err) {
      setMsg((err as Error).message);
    }
  };
  return html`<section class="sources">
    <h2>Sources and schedules</h2>
    ${error && html`<p class="error">${error}</p>`}
    <table>
      <thead>
        <tr>
          <th>Source</th>
          <th>What</th>
          <th>Schedule</th>
          <th>Retention</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        ${sources.map(
          (s) =>
            html`<tr data-source=${s.name}>
              <td>${s.name}</td>
              <td>${describe(s)}${s.exclude.length ? html`<div class="muted">except ${s.exclude.join(', ')}</div>` : ''}</td>
              <td>${s.schedule ? html`${scheduleWords(s.schedule)} <code class="muted">${s.schedule}</code>` : 'by hand'}</td>
              <td>${retentionText(s.retention)}</td>
              <td>
                <button
                  class="edit-source"
                  onClick=${() => {
                    setEditing(s.name);
                    setDraft(draftOf(s));
                    setFailure('');
                  }}
                >
                  Edit
                </button>
                <button class="remove-source" onClick=${() => remove(s.name)}>Remove</button>
              </td>
            </tr>`,
        )}
        ${
          config &&
          sources.length === 0 &&
          html`<tr>
            <td colspan="5" class="muted">No sources yet: nothing is backed up on a schedule.</td>
          </tr>`
        }
      </tbody>
    </table>
    ${
      !draft &&
      html`<div class="row">
        <button
          class="primary add-source"
          onClick=${() => {
            setEditing(null);
            setDraft({ ...draftFromHash(), name: '', what: '' });
            setFailure('');
          }}
        >
          Add a source
        </button>
      </div>`
    }
    ${
      draft &&
      html`<div class="source-form">
        <h3>${editing ? `Change "${editing}"` : 'New source'}</h3>
        <div class="row">
          <label
            >Name
            <input
              name="source-name"
              size="20"
              disabled=${editing !== null}
              value=${draft.name}
              onInput=${(e: Event) => set({ name: (e.target as HTMLInputElement).value })}
          /></label>
          <label
            >Back up
            <select name="source-kind" value=${draft.kind} onChange=${(e: Event) => set({ kind: (e.target as HTMLSelectElement).value as Kind })}>
              ${KINDS.map(([k, label]) => html`<option value=${k}>${label}</option>`)}
            </select></label
          >
          <input
            name="source-what"
            size="40"
            placeholder=${KINDS.find(([k]) => k === draft.kind)?.[2]}
            value=${draft.what}
            onInput=${(e: Event) => set({ what: (e.target as HTMLInputElement).value })}
          />
        </div>
        <div class="row">
          <label
            >Schedule (cron)
            <input name="source-schedule" size="16" value=${draft.schedule} onInput=${(e: Event) => set({ schedule: (e.target as HTMLInputElement).value })}
          /></label>
          ${SCHEDULES.map(([cron, label]) => html`<button class="link" onClick=${() => set({ schedule: cron })}>${label}</button>`)}
        </div>
        <div class="row">
          Keep
          ${COUNTS.map(([k, label]) => html`<label>${label} <input name=${`source-${k}`} size="8" value=${draft.counts[k] ?? ''} onInput=${(e: Event) => set({ counts: { ...draft.counts, [k]: (e.target as HTMLInputElement).value } })} /></label>`)}
        </div>
        <div class="row">
          <label
            >Leave out
            <input
              name="source-exclude"
              size="50"
              placeholder="*.tmp, cache/"
              value=${draft.exclude}
              onInput=${(e: Event) => set({ exclude: (e.target as HTMLInputElement).value })}
          /></label>
        </div>
        <div class="row">
          <button class="primary save-source" onClick=${save}>Save to cairn.yaml</button
          ><button
            onClick=${() => {
              setDraft(null);
              setEditing(null);
              setFailure('');
            }}
          >
            Cancel
          </button>
        </div>
        ${failure && html`<pre class="error source-error">${failure}</pre>`}
      </div>`
    }
    ${msg && html`<p class="source-msg">${msg}</p>`}
    ${config && html`<p class="muted">Replicas: ${config.replicas}; console at ${config.console.address}. Everything else lives in cairn.yaml (see "cairn config check").</p>`}
  </section>`;
}
