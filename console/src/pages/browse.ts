// The file browser, a view of its own: one folder of one snapshot, a page at a time, at its own URL
// (browse-path.ts), so the back button, a reload and a shared link open the same folder. Folders
// are links; a file downloads as it is and a folder as a tar (GET /api/v1/dump, streamed by the
// agent); Restore… opens the restore dialog the Snapshots page hands in. The view is keyed by its
// URL (snapshots.ts), so another snapshot or folder starts with no dialog and no rows of the last.
import { useEffect, useRef, useState } from 'preact/hooks';
import { API_PREFIX, BROWSE_PAGE_DEFAULT_ENTRIES, type LsEntry } from '../../../protocol/api.js';
import { needsPathHex, pathHex } from '../../../protocol/path-hex.js';
import type { SnapshotListing } from '../../../protocol/snapshot.js';
import { op } from '../api.js';
import { browseHref, type BrowseRoute } from '../browse-path.js';
import { bytes, when } from '../format.js';
import { html } from '../html.js';
import { useLoad } from '../use-load.js';

/** The restore dialog for `path` of `snapshot` (snapshots.ts RestoreWizard). */
export type RestoreDialog = (snapshot: SnapshotListing, path: string, onClose: () => void) => unknown;

function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * The download of a file (its bytes) or a folder (a tar), as the agent's dump route streams it; a
 * path holding a name that is not UTF-8 goes as its exact bytes (pathHex, protocol/path-hex.ts).
 */
export function downloadHref(snapshot: string, path: string): string {
  const where: Record<string, string> = needsPathHex(path) ? { pathHex: pathHex(path) } : { path };
  return `${API_PREFIX}/dump?${new URLSearchParams({ snapshot, ...where }).toString()}`;
}

function Pager({ at, total, count }: { at: BrowseRoute; total: number; count: number }) {
  if (total <= count && at.from === 0) return null;
  const prev = Math.max(0, at.from - BROWSE_PAGE_DEFAULT_ENTRIES);
  const next = at.from + count;
  return html`<p class="pager row">
    ${at.from > 0 ? html`<a class="prev-page" href=${browseHref(at.snapshot, at.path, prev)}>← Previous</a>` : ''}
    <span class="page-range">${count === 0 ? `none of ${total}` : `${at.from + 1}–${at.from + count} of ${total}`}</span>
    ${next < total ? html`<a class="next-page" href=${browseHref(at.snapshot, at.path, next)}>Next →</a>` : ''}
  </p>`;
}

function Row({ at, snapshot, entry, onRestore }: { at: BrowseRoute; snapshot: SnapshotListing; entry: LsEntry; onRestore: (path: string) => void }) {
  const name = nameOf(entry.path);
  const canDownload = entry.type === 'file' || entry.type === 'dir';
  return html`<tr data-path=${entry.path}>
    <td>
      ${entry.type === 'dir' ? html`<a class="dir" href=${browseHref(at.snapshot, entry.path)}>${name}/</a>` : name}${entry.type === 'symlink' ? html` <span class="muted">→ ${entry.target}</span>` : ''}
    </td>
    <td>${entry.type === 'file' ? bytes(entry.size) : entry.type}</td>
    <td>${when(entry.mtime)}</td>
    <td class="actions">
      ${canDownload && html`<a class="download" href=${downloadHref(snapshot.id, entry.path)} download>${entry.type === 'dir' ? 'Download .tar' : 'Download'}</a>`}
      <button class="restore" onClick=${() => onRestore(entry.path)}>Restore…</button>
    </td>
  </tr>`;
}

/** The same folder in another snapshot of the same source (ad-hoc ones: of the same paths), newest first. */
function SnapshotSwitch({ snapshot, path }: { snapshot: SnapshotListing; path: string }) {
  const filter = snapshot.source !== undefined ? { source: snapshot.source } : { paths: snapshot.paths };
  const { data } = useLoad(() => op('snapshots', { filter }), [snapshot.id]);
  if (!data || data.length < 2) return null;
  const go = (e: Event) => {
    location.hash = browseHref((e.target as HTMLSelectElement).value, path);
  };
  return html`<label class="switch-snapshot"
    >This folder in
    <select name="snapshot" onChange=${go}>
      ${[...data].reverse().map((o) => html`<option value=${o.id} selected=${o.id === snapshot.id}>${o.shortId} · ${when(o.time)}</option>`)}
    </select></label
  >`;
}

export function Browse({ at, restoreDialog }: { at: BrowseRoute; restoreDialog: RestoreDialog }) {
  const { data, error } = useLoad(
    () => op('browse', { snapshot: at.snapshot, path: at.path, offset: at.from, limit: BROWSE_PAGE_DEFAULT_ENTRIES }),
    [at.snapshot, at.path, at.from],
  );
  const [restoring, setRestoring] = useState<string | null>(null);
  const dialog = useRef<HTMLDivElement>(null);
  useEffect(() => scrollTo(0, 0), []); // a new folder or page starts at its top
  useEffect(() => dialog.current?.scrollIntoView({ block: 'nearest' }), [restoring]); // the dialog opened from a row far down
  const back = html`<p><a class="all-snapshots" href="#/snapshots">← All snapshots</a></p>`;
  if (error)
    return html`<section class="browser">
      ${back}
      <p class="error" role="alert">${error}</p>
      ${at.path !== '/' && html`<p><a class="snapshot-root" href=${browseHref(at.snapshot, '/')}>Open the snapshot's top folder</a></p>`}
    </section>`;
  if (!data)
    return html`<section class="browser">
      ${back}
      <p class="muted">Reading the snapshot…</p>
    </section>`;
  const s = data.snapshot;
  const parts = data.path.split('/').filter(Boolean);
  return html`<section class="browser" data-snapshot=${s.id} data-path=${data.path}>
    ${back}
    <h2>Files of <code>${s.shortId}</code> <span class="muted">${when(s.time)} · ${s.source ?? s.paths.join(', ')}</span></h2>
    <p class="crumbs">
      <a href=${browseHref(s.id, '/')}>/</a>${parts.map((p, i) => html`<a href=${browseHref(s.id, `/${parts.slice(0, i + 1).join('/')}`)}>${p}/</a>`)}
      <a class="download-folder" href=${downloadHref(s.id, data.path)} download>Download ${data.path === '/' ? 'the whole snapshot' : 'this folder'} (.tar)</a>
    </p>
    <${SnapshotSwitch} snapshot=${s} path=${data.path} />
    <div ref=${dialog}>${restoring && restoreDialog(s, restoring, () => setRestoring(null))}</div>
    <${Pager} at=${{ ...at, snapshot: s.id }} total=${data.total} count=${data.entries.length} />
    ${
      data.total === 0
        ? html`<p class="muted empty-folder">This folder is empty.</p>`
        : html`<table class="files">
            <thead>
              <tr>
                <th>Name</th>
                <th>Size</th>
                <th>Modified</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              ${data.entries.map((e) => html`<${Row} at=${{ ...at, snapshot: s.id }} snapshot=${s} entry=${e} onRestore=${setRestoring} />`)}
            </tbody>
          </table>`
    }
    <${Pager} at=${{ ...at, snapshot: s.id }} total=${data.total} count=${data.entries.length} />
  </section>`;
}
