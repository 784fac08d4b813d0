import { join, resolve } from 'node:path';
import { FetchTally } from '../mesh/mesh-reader.js';
import type { FetchAhead } from '../snapshot/restore-fetch.js';
import { Restorer } from '../snapshot/restorer.js';
import { findNode, normalizeIncludes, walkTree } from '../snapshot/tree-walk.js';
import { errorMessage, UsageError } from '../util/errors.js';
import { RESTORE_DRY_RUN_MAX_LISTED, type RestoreArgs, type RestoreResult } from '../../../protocol/api.js';
import type { Snapshot, TreeNode } from '../../../protocol/snapshot.js';
import { excludedBy } from '../snapshot/path-glob.js';
import { verifyRestored } from '../snapshot/restore-verify.js';
import { loadSnapshotMeta } from '../snapshot/snapshot-meta.js';
import type { ScanTotals } from '../snapshot/scanner.js';
import type { MaybeMeshDeps, RepoDeps } from './services.js';

/** Concurrent pack fetches per online friend during a restore. */
const PREFETCH_PER_FRIEND = 2;

/** What a restore will write, for its progress: known at once for a whole snapshot, else counted alongside (`done` once counted). */
export type RestoreTotals = ScanTotals;

/**
 * `onStart`: the restorer (its progress) and the totals, filled as they are known. `signal`:
 * cancels the restore (Restorer `signal`): it throws a CancelledError, leaving no half-written file.
 */
export async function restoreOp(
  svc: RepoDeps & MaybeMeshDeps,
  args: RestoreArgs,
  onStart?: (r: Restorer, totals: RestoreTotals) => void,
  signal?: AbortSignal,
): Promise<RestoreResult> {
  // this restore's own count of packs fetched from friends (another restore at once keeps its own)
  const tally = new FetchTally();
  return tally.run(() => restoreCounting(svc, args, tally, onStart, signal));
}

async function restoreCounting(
  svc: RepoDeps & MaybeMeshDeps,
  args: RestoreArgs,
  tally: FetchTally,
  onStart?: (r: Restorer, totals: RestoreTotals) => void,
  signal?: AbortSignal,
): Promise<RestoreResult> {
  const { id, snapshot } = await svc.repo.resolveSnapshot(args.snapshot, args.filter);
  const includes = normalizeIncludes(args.include);
  // an --include that names nothing in the snapshot is a mistake, not an empty restore
  const base = args.from !== undefined ? normalizeIncludes([args.from])[0] : '';
  for (const [i, inc] of includes.entries()) {
    if (inc !== '' && !(await findNode(svc.repo, snapshot.tree, base ? `${base}/${inc}` : inc)))
      throw new UsageError(
        `--include ${args.include[i]} matches nothing in snapshot ${id.slice(0, 8)} (its paths: ${snapshot.paths.join(', ')})`,
        'E_NOT_FOUND',
      );
  }
  const target = resolve(args.target);
  const from = args.from !== undefined ? (normalizeIncludes([args.from])[0] ?? '') : '';
  // --exclude: the rule of backup excludes, on the entry's path in the snapshot
  const patterns = args.exclude ?? [];
  const exclude =
    patterns.length > 0
      ? (rel: string, node: TreeNode) => excludedBy(patterns, `/${from ? `${from}/${rel}` : rel}`, node.name, node.type === 'dir')
      : undefined;
  let root = snapshot.tree;
  let dir: TreeNode | undefined;
  if (args.from !== undefined) {
    dir = await findNode(svc.repo, snapshot.tree, args.from);
    if (!dir) throw new UsageError(`${args.from} is not in snapshot ${args.snapshot}`, 'E_NOT_FOUND');
    if (dir.type === 'dir' && dir.subtree) root = dir.subtree;
  }
  if (args.dryRun) return dryRun(svc, id, root, includes, target, exclude);
  const warnings: string[] = [];
  // the exact mtimes the snapshot's metadata keeps, by path relative to the target
  const exactMtimes = async () => {
    try {
      const exact = await loadExactMtimes(svc, snapshot);
      return (rel: string) => exact.get(from && rel ? `${from}/${rel}` : from || rel);
    } catch (err) {
      warnings.push(`the snapshot's metadata cannot be read (${errorMessage(err)}): volume mtimes are restored to the second`);
      return () => undefined;
    }
  };
  // Packs missing locally come from friends, spread over every holder: the restorer fetches those
  // it will read ahead of itself (the metadata's first), a few per online friend.
  let fetchAhead: FetchAhead | undefined;
  if (svc.mesh) {
    const metaPack = snapshot.meta ? svc.repo.index.get(snapshot.meta)?.packId : undefined;
    const online = (await svc.mesh.directory.peers()).filter((p) => p.online).length;
    fetchAhead = { from: svc.mesh.packGet.reader, concurrency: Math.max(2, online * PREFETCH_PER_FRIEND), ...(metaPack ? { first: [metaPack] } : {}) };
  }
  const restorer = new Restorer(svc.repo, {
    target,
    includes,
    overwrite: args.overwrite,
    exactMtimes,
    ...(fetchAhead ? { fetchAhead } : {}),
    ...(exclude ? { exclude } : {}),
    ...(signal ? { signal } : {}),
  });
  // the whole snapshot: its summary has the totals; a part of it: counted by a walk alongside
  const whole = includes.length === 0 && args.from === undefined && !exclude;
  const totals: RestoreTotals = whole ? { files: snapshot.summary.files, bytes: snapshot.summary.sizeBytes, done: true } : { files: 0, bytes: 0, done: false };
  const counting = new AbortController();
  const counted = whole ? Promise.resolve() : countTotals(svc, root, includes, exclude, totals, counting.signal);
  onStart?.(restorer, totals);
  try {
    if (dir) await restorer.runInto(dir);
    else await restorer.run(snapshot.tree);
  } finally {
    counting.abort();
    await counted;
  }
  const fetched = Object.fromEntries(tally.fetched);
  let verified: number | undefined;
  if (args.verify) {
    const v = await verifyRestored(svc.repo, root, includes, target, exclude);
    verified = v.verified;
    restorer.errors.push(...v.mismatches);
  }
  return {
    ...(verified !== undefined ? { verified } : {}),
    snapshot: id,
    target,
    files: restorer.progress.filesDone,
    bytes: restorer.progress.bytesDone,
    errors: restorer.errors,
    warnings: [...restorer.fetchErrors, ...warnings, ...restorer.warnings],
    fetched,
  };
}

/** Counts the files and bytes a partial restore writes (the walk a dry run makes), until `signal` fires; a tree that cannot be read leaves no totals. */
async function countTotals(
  svc: RepoDeps,
  root: string,
  includes: string[],
  exclude: ((rel: string, node: TreeNode) => boolean) | undefined,
  totals: RestoreTotals,
  signal: AbortSignal,
): Promise<void> {
  let files = 0;
  let bytes = 0;
  try {
    for await (const { node } of walkTree(svc.repo, root, includes, '', exclude)) {
      if (signal.aborted) return;
      if (node.type !== 'file') continue;
      files += 1;
      bytes += node.size;
    }
  } catch {
    return; // the restore itself reports an unreadable tree
  }
  Object.assign(totals, { files, bytes, done: true });
}

/** restore --dry-run: what would be restored, nothing written (the target is not even created). */
async function dryRun(
  svc: RepoDeps,
  id: string,
  root: string,
  includes: string[],
  target: string,
  exclude: ((rel: string, node: TreeNode) => boolean) | undefined,
): Promise<RestoreResult> {
  const entries: Array<{ path: string; type: string; size: number }> = [];
  let files = 0;
  let bytes = 0;
  let truncated = false;
  for await (const { rel, node } of walkTree(svc.repo, root, includes, '', exclude)) {
    if (node.type === 'file') {
      files += 1;
      bytes += node.size;
    }
    if (entries.length < RESTORE_DRY_RUN_MAX_LISTED) entries.push({ path: join(target, rel), type: node.type, size: node.type === 'file' ? node.size : 0 });
    else truncated = true;
  }
  return { snapshot: id, target, files, bytes, errors: [], warnings: [], fetched: {}, dryRun: true, entries, truncated };
}

/**
 * The exact mtimes the snapshot's metadata keeps for volumes read through their mountpoint, by
 * path in the snapshot (no leading slash); empty when it has none.
 */
async function loadExactMtimes(svc: RepoDeps, snapshot: Snapshot): Promise<Map<string, bigint>> {
  const out = new Map<string, bigint>();
  for (const v of (await loadSnapshotMeta(svc.repo, snapshot))?.volumes ?? []) {
    const root = normalizeIncludes([v.path])[0] ?? '';
    for (const [rel, ns] of Object.entries(v.mtimesNs ?? {})) out.set(rel ? `${root}/${rel}` : root, BigInt(ns));
  }
  return out;
}
