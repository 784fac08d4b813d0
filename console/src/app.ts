// The console shell: login, navigation by URL hash, and the pages.
import { useEffect, useState } from 'preact/hooks';
import type { SessionInfo } from '../../protocol/console-api.js';
import { currentSession, login, logout } from './api.js';
import { html } from './html.js';
import { Dashboard } from './pages/dashboard.js';
import { Friends } from './pages/friends.js';
import { Jobs } from './pages/jobs.js';
import { Settings } from './pages/settings.js';
import { Snapshots } from './pages/snapshots.js';
import { Volumes } from './pages/volumes.js';

/** [id, label, the page given the rest of the hash after "<id>/"]. */
const PAGES: Array<[string, string, (rest: string) => unknown]> = [
  ['', 'Dashboard', () => html`<${Dashboard} />`],
  ['volumes', 'Volumes', () => html`<${Volumes} />`],
  ['snapshots', 'Snapshots', (rest) => html`<${Snapshots} route=${rest} />`],
  ['friends', 'Friends', () => html`<${Friends} />`],
  ['jobs', 'Jobs', () => html`<${Jobs} />`],
  ['settings', 'Settings', () => html`<${Settings} />`],
];

function useHash(): string {
  const [hash, setHash] = useState(location.hash.replace(/^#\/?/, ''));
  useEffect(() => {
    const on = () => setHash(location.hash.replace(/^#\/?/, ''));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function Login({ onIn }: { onIn: (s: SessionInfo) => void }) {
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    setError('');
    try {
      onIn(await login(password));
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return html`<section class="login">
    <h2>Cairn console</h2>
    <p class="muted">The admin password was printed once in the agent's log when it first started.</p>
    <form onSubmit=${submit}>
      <div class="row">
        <input
          type="password"
          name="password"
          placeholder="admin password"
          autocomplete="current-password"
          value=${password}
          onInput=${(e: Event) => setPassword((e.target as HTMLInputElement).value)}
        />
      </div>
      <div class="row"><button class="primary" type="submit">Log in</button></div>
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </form>
  </section>`;
}

export function App() {
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined);
  const hash = useHash();
  const page = /^[^/?]*/.exec(hash)?.[0] ?? '';
  useEffect(() => {
    currentSession().then(setSession, () => setSession(null));
  }, []);
  if (session === undefined) return html`<main class="muted">Connecting to the agent…</main>`;
  if (session === null) return html`<${Login} onIn=${setSession} />`;
  const current = PAGES.find(([id]) => id === page) ?? PAGES[0];
  return html`<div>
    <header>
      <strong>Cairn</strong>
      ${PAGES.map(([id, label]) => html`<a href=${`#/${id}`} class=${id === current?.[0] ? 'active' : ''}>${label}</a>`)}
      <span class="who">${session.agent.name} · <button onClick=${() => logout().then(() => setSession(null))}>Log out</button></span>
    </header>
    <main>${current?.[2](current[0] === page ? hash.slice(page.length + 1) : '')}</main>
  </div>`;
}
