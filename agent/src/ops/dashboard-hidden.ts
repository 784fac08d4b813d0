// Ad-hoc backups the user removed from the dashboard: `$CAIRN_HOME/dashboard.json` (SPEC 8),
// `{"version":1,"hidden":{"<name>":"<ISO time>"}}`. Only the dashboard row goes: the snapshots
// stay, and a newer backup of the same paths brings the row back. Configured sources are removed
// from cairn.yaml instead.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HideSourceArgs, HideSourceResult } from '../../../protocol/api.js';
import { CairnError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import { sourceKey } from './activity.js';
import type { AgentViewDeps, ClockDeps, HomeDeps, RepoDeps } from './services.js';

export const DASHBOARD_FILE = 'dashboard.json';
/** Hidden rows remembered; past it the ones hidden longest ago are forgotten (their rows show again). */
export const MAX_HIDDEN_SOURCES = 1000;

/** Names hidden and when (ms); `damaged` when the file is there but unreadable (every row then shows). */
export interface HiddenSources {
  hidden: Map<string, number>;
  damaged: string | null;
}

export async function readHiddenSources(home: string): Promise<HiddenSources> {
  let text: string;
  try {
    text = await readFile(join(home, DASHBOARD_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { hidden: new Map(), damaged: null };
    return { hidden: new Map(), damaged: `${DASHBOARD_FILE} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  try {
    const parsed = JSON.parse(text) as { version?: unknown; hidden?: unknown };
    if (parsed.version !== 1 || typeof parsed.hidden !== 'object' || parsed.hidden === null || Array.isArray(parsed.hidden)) throw new Error('bad shape');
    const hidden = new Map<string, number>();
    for (const [name, at] of Object.entries(parsed.hidden as Record<string, unknown>)) {
      const ms = typeof at === 'string' ? Date.parse(at) : NaN;
      if (!Number.isNaN(ms)) hidden.set(name, ms);
    }
    return { hidden, damaged: null };
  } catch {
    return { hidden: new Map(), damaged: `${DASHBOARD_FILE} is damaged: every ad-hoc backup shows on the dashboard again; delete the file to clear this` };
  }
}

/** Removes an ad-hoc backup's row from the dashboard (the console's Remove button). */
export async function hideSourceOp(
  svc: HomeDeps & RepoDeps & ClockDeps & Pick<AgentViewDeps, 'activity' | 'sources'>,
  args: HideSourceArgs,
): Promise<HideSourceResult> {
  if ((svc.sources?.() ?? []).some((s) => s.name === args.name))
    throw new CairnError('E_USAGE', `${args.name} is a configured source: remove it from cairn.yaml to take it off the dashboard`);
  const known = (await svc.repo.listSnapshots()).some((s) => sourceKey(s.snapshot) === args.name);
  if (!known && !svc.activity?.lastRun.has(args.name)) throw new CairnError('E_NOT_FOUND', `no ad-hoc backup of ${args.name} on the dashboard`);
  const { hidden } = await readHiddenSources(svc.home);
  const at = svc.clock.now();
  hidden.delete(args.name);
  hidden.set(args.name, at);
  const kept = [...hidden].sort((a, b) => a[1] - b[1]).slice(-MAX_HIDDEN_SOURCES);
  const file = { version: 1, hidden: Object.fromEntries(kept.map(([n, ms]) => [n, new Date(ms).toISOString()])) };
  await writeFileAtomic(join(svc.home, DASHBOARD_FILE), Buffer.from(`${JSON.stringify(file, null, 2)}\n`), 0o600);
  return { name: args.name, hiddenAt: new Date(at).toISOString() };
}
