// The dashboard's view of the agent: every source with its last and next run and state, where its
// newest snapshot's packs have copies, friends online, space both ways, and alerts. /metrics and
// the staleness notifier read the same numbers.
import type { PeerListing } from '../../../protocol/api.js';
import type { Alert, SourceProtection, SourceState, SourceStatus, StatusResult } from '../../../protocol/console-api.js';
import type { Snapshot } from '../../../protocol/snapshot.js';
import { plural } from '../../../protocol/format.js';
import { portMappingMessage } from '../mesh/port-mapping.js';
import { loadTree } from '../repo/trees.js';
import { sourceKey } from './activity.js';
import { readHiddenSources } from './dashboard-hidden.js';
import { lastDrill } from './drill.js';
import { loadProofs, sourceProtection } from './protection.js';
import type { AgentViewDeps, ClockDeps, HomeDeps, LedgerDeps, MaybeMeshDeps, RepoDeps } from './services.js';
import { packUsage } from '../store/pack-store.js';

/** What the status needs: the repository and the home, the mesh when it runs, and what the running agent knows. */
export type StatusDeps = RepoDeps & LedgerDeps & ClockDeps & HomeDeps & MaybeMeshDeps & AgentViewDeps;

export const AGENT_VERSION = '0.1.0';

/** Defaults of the staleness thresholds (settings can change them). */
export const DEFAULT_STALE_AFTER_MS = 2 * 24 * 3600_000;
export const DEFAULT_FRIEND_OFFLINE_AFTER_MS = 3 * 24 * 3600_000;
/**
 * A source's newest snapshot younger than this whose packs friends do not all hold yet, that no
 * replication round begun after it has tried yet, with enough friends, is still being copied: its
 * 3-2-1 state is the previous snapshot's meanwhile (SPEC 13.11), so a backup does not flap the
 * state (and notify) each time.
 */
export const NEW_SNAPSHOT_GRACE_MS = 2 * 3600_000;

export interface StatusOptions {
  staleAfterMs: number;
  friendOfflineAfterMs: number;
}

/** snapshot ID -> the packs holding its trees and file contents (snapshots never change). */
const packsCache = new Map<string, Set<string>>();
const PACKS_CACHE_MAX = 256;

export async function snapshotPacks(svc: RepoDeps, id: string, snapshot: Snapshot): Promise<Set<string>> {
  const cached = packsCache.get(id);
  if (cached) return cached;
  const packs = new Set<string>();
  const trees = [snapshot.tree];
  while (trees.length > 0) {
    const treeId = trees.pop() as string;
    const te = svc.repo.index.get(treeId);
    if (te) packs.add(te.packId);
    for (const node of (await loadTree(svc.repo, treeId)).nodes) {
      if (node.subtree) trees.push(node.subtree);
      for (const c of node.content ?? []) {
        const e = svc.repo.index.get(c);
        if (e) packs.add(e.packId);
      }
    }
  }
  if (packsCache.size >= PACKS_CACHE_MAX) packsCache.clear();
  packsCache.set(id, packs);
  return packs;
}

export async function statusOp(svc: StatusDeps, opts: StatusOptions): Promise<StatusResult> {
  const now = svc.clock.now();
  const snaps = await svc.repo.listSnapshots();
  const peers: PeerListing[] = svc.mesh ? await svc.mesh.directory.peers() : [];
  const replicaMap = svc.mesh ? await svc.mesh.ledgers.copies.map() : { byPack: new Map<string, Set<string>>(), bytesAt: new Map(), packsAt: new Map() };
  const configured = svc.sources?.() ?? [];
  const activity = svc.activity;

  const bySource = new Map<string, Array<{ id: string; snapshot: Snapshot }>>();
  for (const s of snaps) {
    const key = sourceKey(s.snapshot);
    let list = bySource.get(key);
    if (!list) bySource.set(key, (list = []));
    list.push(s);
  }
  const names = [...configured.map((c) => c.name), ...[...bySource.keys()].filter((k) => !configured.some((c) => c.name === k)).sort()];
  for (const k of activity?.lastRun.keys() ?? []) if (!names.includes(k)) names.push(k);
  const live = (svc.scheduler?.liveJobs() ?? []).filter((j) => j.kind === 'backup' && j.state === 'running');
  // ad-hoc rows the user removed from the dashboard stay away until a newer backup of the same paths
  const hiding = await readHiddenSources(svc.home);
  const newestActivity = (name: string): number => {
    const snap = bySource.get(name)?.at(-1);
    const run = activity?.lastRun.get(name);
    return Math.max(snap ? Date.parse(snap.snapshot.time) : 0, run ? Date.parse(run.time) : 0);
  };
  const shown = names.filter((n) => {
    const hiddenAt = hiding.hidden.get(n);
    return configured.some((c) => c.name === n) || hiddenAt === undefined || newestActivity(n) > hiddenAt || live.some((j) => j.source === n);
  });

  const alerts: Alert[] = [];
  const sources: SourceStatus[] = [];
  const proofs = await loadProofs(
    svc,
    peers.map((p) => p.peerId),
  );
  if (hiding.damaged) alerts.push({ level: 'warning', kind: 'dashboard-file', message: hiding.damaged, since: null });
  for (const name of shown) {
    const conf = configured.find((c) => c.name === name);
    const list = bySource.get(name) ?? [];
    const newest = list.at(-1);
    const run = activity?.lastRun.get(name) ?? null;
    const lastSuccess = newest ? new Date(Date.parse(newest.snapshot.time) + newest.snapshot.summary.durationMs).toISOString() : null;
    let state: SourceState = 'never';
    if (run && !run.ok && (!lastSuccess || Date.parse(run.time) >= Date.parse(lastSuccess))) state = 'failed';
    else if (lastSuccess) state = now - Date.parse(lastSuccess) > opts.staleAfterMs ? 'stale' : 'ok';
    const job = live.find((j) => j.source === name);
    if (job) state = 'running';
    const friendsCopies: SourceStatus['copies']['friends'] = [];
    let local = false;
    if (newest) {
      const packs = await snapshotPacks(svc, newest.id, newest.snapshot);
      local = true;
      for (const p of packs) {
        if (!(await svc.repo.store.stat(p))) {
          local = false;
          break;
        }
      }
      for (const peer of peers) {
        let held = 0;
        for (const p of packs) if (replicaMap.byPack.get(p)?.has(peer.peerId)) held += 1;
        friendsCopies.push({ name: peer.name, peerId: peer.peerId, packs: held, of: packs.size });
      }
    }
    // the 3-2-1 status of the newest snapshot (SPEC 13.11)
    let protection: SourceProtection | null = null;
    if (newest && svc.mesh) {
      const mesh = svc.mesh;
      const of = async (snap: { id: string; snapshot: Snapshot }, isLocal: boolean) => {
        const packs = await snapshotPacks(svc, snap.id, snap.snapshot);
        const packBytes = new Map<string, number>();
        for (const id of packs) {
          if ((replicaMap.byPack.get(id)?.size ?? 0) >= peers.length) continue;
          const size = (await svc.repo.store.stat(id))?.sizeBytes;
          if (size !== undefined) packBytes.set(id, size);
        }
        return sourceProtection({
          packs,
          packBytes,
          local: isLocal,
          byPack: replicaMap.byPack,
          peers,
          proofs,
          wanted: mesh.replication.replicas,
          auditPeriodMs: mesh.replication.challenger.settings.periodMs,
          firstSnapshotMs: Date.parse((list[0] ?? newest).snapshot.time),
          now,
        });
      };
      protection = await of(newest, local);
      // a snapshot no replication round has tried yet (young, and enough friends) is judged by the one before
      const previous = list.at(-2);
      const tried = mesh.replication.lastRoundStartedAt !== null && lastSuccess !== null && mesh.replication.lastRoundStartedAt >= Date.parse(lastSuccess);
      const blocked = peers.length < mesh.replication.replicas;
      if (protection.state !== 'protected' && previous && lastSuccess && now - Date.parse(lastSuccess) < NEW_SNAPSHOT_GRACE_MS && !tried && !blocked) {
        const before = await of(previous, local);
        protection = { ...before, reason: `${before.reason} (the newest snapshot is still being copied to friends)` };
      }
    }
    if (protection && protection.state !== 'protected')
      alerts.push({
        level: 'error',
        kind: 'source-at-risk',
        message: `${name} is ${protection.state}: ${protection.reason}; ${protection.nextStep ?? ''}`,
        since: null,
      });
    if (state === 'failed' && run)
      alerts.push({ level: 'error', kind: 'job-failed', message: `the last backup of ${name} failed: ${run.error ?? 'unknown error'}`, since: run.time });
    if (state === 'stale' && lastSuccess)
      alerts.push({ level: 'warning', kind: 'stale-backup', message: `no successful backup of ${name} since ${lastSuccess}`, since: lastSuccess });
    if (state === 'never' && conf) alerts.push({ level: 'warning', kind: 'stale-backup', message: `${name} has never been backed up`, since: null });
    sources.push({
      name,
      configured: conf !== undefined,
      paths: conf?.paths ?? newest?.snapshot.paths ?? [],
      volumes: conf?.volumes ?? [],
      schedule: conf?.schedule ?? null,
      lastRun: run
        ? { time: run.time, ok: run.ok, snapshot: run.snapshot, error: run.error }
        : newest
          ? { time: newest.snapshot.time, ok: true, snapshot: newest.id, error: null }
          : null,
      lastSuccess,
      nextRun: svc.nextRun?.(name) ?? null,
      state,
      snapshots: list.length,
      copies: { local, friends: friendsCopies },
      protection,
      running: job ? { jobId: job.id, startedAt: job.startedAt, progress: job.progress } : null,
    });
  }

  for (const p of peers) {
    const seen = p.lastSeen ? Date.parse(p.lastSeen) : null;
    if (!p.online && (seen === null || now - seen > opts.friendOfflineAfterMs)) {
      alerts.push({
        level: 'warning',
        kind: 'friend-offline',
        message: `friend ${p.name} has been offline since ${p.lastSeen ?? 'pairing'}`,
        since: p.lastSeen,
      });
    }
    if (p.problems.length > 0) alerts.push({ level: 'warning', kind: 'friend-problem', message: `friend ${p.name}: ${p.problems.at(-1) ?? ''}`, since: null });
    if (p.shortfall) alerts.push({ level: 'warning', kind: 'friend-shortfall', message: `friend ${p.name} refused our packs: ${p.shortfall}`, since: null });
  }

  const packIds = new Set<string>();
  for (const [, e] of svc.repo.index.all()) packIds.add(e.packId);
  // a friend that offers us no space (a relay) holds no copies (mesh/friend-ledger.ts offersSpace)
  const wanted = Math.min(svc.mesh ? (svc.mesh.replication.replicas ?? 0) : 0, peers.filter((p) => p.grantFromPeer > 0).length);
  let under = 0;
  if (wanted > 0) for (const p of packIds) if ((replicaMap.byPack.get(p)?.size ?? 0) < wanted) under += 1;
  // copies that failed a storage challenge and are not copied again yet: those sources are at risk
  const failedCopies = svc.mesh ? (await svc.mesh.ledgers.challenges.failures()).filter((f) => packIds.has(f.packId)) : [];
  if (failedCopies.length > 0) {
    const names = [...new Set(failedCopies.map((f) => peers.find((p) => p.peerId === f.peerId)?.name ?? f.peerId))].join(', ');
    alerts.push({
      level: 'error',
      kind: 'challenge-failed',
      message: `${plural(failedCopies.length, 'copy', 'copies')} at ${names} failed a storage challenge and ${failedCopies.length === 1 ? 'is' : 'are'} not copied again yet: at risk until replication copies ${failedCopies.length === 1 ? 'it' : 'them'}`,
      since: new Date(Math.min(...failedCopies.map((f) => f.atMs))).toISOString(),
    });
  }
  // the last restore drill failed: a friend served damaged bytes (or none) of a pack, by name
  const drill = svc.mesh ? await lastDrill(svc) : undefined;
  if (drill && !drill.ok)
    alerts.push({
      level: 'error',
      kind: 'drill-failed',
      message: `the restore drill of ${drill.time} failed: ${drill.problems.slice(0, 3).join('; ')}${drill.problems.length > 3 ? ` (and ${drill.problems.length - 3} more)` : ''}`,
      since: drill.time,
    });
  const repl = activity?.lastReplication ?? null;
  const replSuccess = activity?.lastReplicationSuccess ?? null;
  if (wanted > 0 && under > 0)
    alerts.push({
      level: 'warning',
      kind: 'under-replicated',
      message: `${under} of ${plural(packIds.size, 'pack')} ${under === 1 ? 'has' : 'have'} fewer than ${plural(wanted, 'copy', 'copies')} at friends`,
      since: null,
    });
  if (peers.length > 0 && activity) {
    const since = replSuccess ? Date.parse(replSuccess.time) : activity.started;
    if (now - since > opts.staleAfterMs)
      alerts.push({
        level: 'warning',
        kind: 'stale-replication',
        message: `no successful replication since ${replSuccess?.time ?? 'the agent started'}`,
        since: replSuccess?.time ?? null,
      });
  }

  const localBytes = (await packUsage(svc.repo.store)).bytes;
  return {
    agent: { name: svc.agentName ?? '', peerId: svc.mesh?.peerId ?? '', version: AGENT_VERSION, addresses: svc.mesh?.addresses() ?? [], home: svc.home },
    reachability: svc.mesh ? await svc.mesh.reachability.view() : null,
    portMapping: svc.mesh?.portMapping.status() ?? { state: 'off', via: null, address: null, message: portMappingMessage('off', {}) },
    sources,
    friends: {
      total: peers.length,
      online: peers.filter((p) => p.online).length,
      reach: peers.map((p) => ({ name: p.name, reach: p.reach, via: p.via, reachWhy: p.reachWhy })),
    },
    space: {
      localBytes,
      atFriendsBytes: peers.reduce((a, p) => a + p.storedAtPeerBytes, 0),
      grantedByFriendsBytes: peers.reduce((a, p) => a + p.grantFromPeer, 0),
      forFriendsBytes: peers.reduce((a, p) => a + p.storedForPeerBytes, 0),
      grantedToFriendsBytes: peers.reduce((a, p) => a + p.grantToPeer, 0),
    },
    replication: { packs: packIds.size, underReplicated: under, wantedCopies: wanted, lastRun: repl?.time ?? null, lastSuccess: replSuccess?.time ?? null },
    alerts,
  };
}
