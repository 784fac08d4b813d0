// Prometheus /metrics (prom-client, a registry of our own): read from the real state at each
// scrape: snapshots per source, the agent's recent outcomes (Activity), the friend book.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Services } from '../ops/services.js';
import { statusOp, type StatusOptions } from '../ops/status.js';
import { sourceKey } from '../ops/activity.js';
import { packUsage } from '../store/pack-store.js';

/** Gauges collected within this long of each other share one status (a scrape). */
const SCRAPE_SHARE_MS = 1000;

export function buildMetrics(svc: Services, statusOpts: () => StatusOptions): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'cairn_process_' });
  const seconds = (iso: string) => Date.parse(iso) / 1000;

  new Gauge({
    name: 'cairn_source_last_success_timestamp_seconds',
    help: 'End of the newest successful backup of each source (Unix time)',
    labelNames: ['source'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [key, s] of await newestBySource(svc)) this.set({ source: key }, seconds(s.time) + s.summary.durationMs / 1000);
    },
  });
  new Gauge({
    name: 'cairn_source_last_backup_size_bytes',
    help: 'Logical bytes of all files in the newest snapshot of each source',
    labelNames: ['source'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [key, s] of await newestBySource(svc)) this.set({ source: key }, s.summary.sizeBytes);
    },
  });
  new Gauge({
    name: 'cairn_source_last_backup_added_bytes',
    help: 'Bytes the newest snapshot of each source added to the repository',
    labelNames: ['source'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [key, s] of await newestBySource(svc)) this.set({ source: key }, s.summary.addedBytes);
    },
  });
  new Gauge({
    name: 'cairn_source_last_backup_duration_seconds',
    help: 'How long the newest successful backup of each source took',
    labelNames: ['source'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [key, s] of await newestBySource(svc)) this.set({ source: key }, s.summary.durationMs / 1000);
    },
  });
  new Gauge({
    name: 'cairn_source_snapshots',
    help: 'Snapshots in the repository per source',
    labelNames: ['source'],
    registers: [registry],
    async collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const { snapshot } of await svc.repo.listSnapshots()) counts.set(sourceKey(snapshot), (counts.get(sourceKey(snapshot)) ?? 0) + 1);
      for (const [source, n] of counts) this.set({ source }, n);
    },
  });
  new Counter({
    name: 'cairn_source_backup_failures_total',
    help: 'Failed backups per source since the agent started',
    labelNames: ['source'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [source, n] of svc.activity?.failures ?? []) this.inc({ source }, n);
    },
  });
  new Counter({
    name: 'cairn_source_backup_successes_total',
    help: 'Successful backups per source since the agent started',
    labelNames: ['source'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [source, n] of svc.activity?.successes ?? []) this.inc({ source }, n);
    },
  });

  const peerGauge = (name: string, help: string, value: (p: import('../../../protocol/api.js').PeerListing) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['friend', 'peer_id'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const p of svc.mesh ? await svc.mesh.directory.peers() : []) this.set({ friend: p.name, peer_id: p.peerId }, value(p));
      },
    });
  peerGauge('cairn_friend_stored_bytes', 'Bytes of our packs each friend confirmed holding', (p) => p.storedAtPeerBytes);
  peerGauge('cairn_friend_granted_bytes', 'Bytes each friend lets us store there', (p) => p.grantFromPeer);
  peerGauge('cairn_friend_hosted_bytes', 'Bytes we hold for each friend', (p) => p.storedForPeerBytes);
  peerGauge('cairn_friend_hosted_granted_bytes', 'Bytes we let each friend store here', (p) => p.grantToPeer);
  peerGauge('cairn_friend_packs', 'Our packs each friend holds', (p) => p.packsAtPeer);
  peerGauge('cairn_friend_online', '1 when the friend is connected now', (p) => (p.online ? 1 : 0));
  peerGauge('cairn_friend_last_seen_timestamp_seconds', 'When the friend was last connected (Unix time; 0 never)', (p) =>
    p.lastSeen ? seconds(p.lastSeen) : 0,
  );
  peerGauge('cairn_friend_audit_ok', '1 when no problem (damaged pack, rollback, failed audit) was recorded for the friend', (p) =>
    p.problems.length === 0 ? 1 : 0,
  );
  peerGauge('cairn_friend_relayed_today_bytes', 'Bytes our relay carried for each friend today (UTC), both directions', (p) => p.relayedForPeer.todayBytes);
  new Counter({
    name: 'cairn_friend_relayed_bytes_total',
    help: 'Bytes our relay carried for each friend since the agent started, both directions',
    labelNames: ['friend', 'peer_id'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const p of svc.mesh ? await svc.mesh.directory.peers() : []) this.inc({ friend: p.name, peer_id: p.peerId }, p.relayedForPeer.totalBytes);
    },
  });
  peerGauge('cairn_friend_problems', 'Recent problems recorded for the friend (failed audits, damaged packs, refusals)', (p) => p.problems.length);

  // the 3-2-1 status per source (SPEC 13.11): one status per scrape, shared by these gauges
  let scrape: { at: number; status: ReturnType<typeof statusOp> } | undefined;
  const protection = async () => {
    const now = svc.clock.now();
    if (!scrape || now - scrape.at > SCRAPE_SHARE_MS) scrape = { at: now, status: statusOp(svc, statusOpts()) };
    return (await scrape.status).sources.flatMap((src) => (src.protection ? [{ source: src.name, p: src.protection }] : []));
  };
  new Gauge({
    name: 'cairn_source_offsite_copies',
    help: 'Off-site copies of each source: the fewest friends holding any pack of its newest snapshot',
    labelNames: ['source'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const { source, p } of await protection()) this.set({ source }, p.copies);
    },
  });
  new Gauge({
    name: 'cairn_source_offsite_copies_wanted',
    help: 'Off-site copies wanted of every pack (replicas)',
    labelNames: ['source'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const { source, p } of await protection()) this.set({ source }, p.wantedCopies);
    },
  });
  new Gauge({
    name: 'cairn_source_seconds_since_proof',
    help: 'Seconds since a copy of the source at a friend was last proved (storage challenge or restore drill); -1 never',
    labelNames: ['source'],
    registers: [registry],
    async collect() {
      this.reset();
      const now = svc.clock.now();
      for (const { source, p } of await protection())
        this.set({ source }, p.lastProvedAt ? Math.max(0, Math.round((now - Date.parse(p.lastProvedAt)) / 1000)) : -1);
    },
  });
  new Gauge({
    name: 'cairn_source_protection',
    help: 'The 3-2-1 state of each source: 1 for its state (protected, at risk, not off-site), 0 for the others',
    labelNames: ['source', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const { source, p } of await protection())
        for (const state of ['protected', 'at risk', 'not off-site'] as const) this.set({ source, state }, p.state === state ? 1 : 0);
    },
  });
  new Gauge({
    name: 'cairn_replication_packs',
    help: 'Packs in the repository, and those with fewer copies at friends than wanted',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      this.reset();
      const s = await statusOp(svc, statusOpts());
      this.set({ state: 'total' }, s.replication.packs);
      this.set({ state: 'under_replicated' }, s.replication.underReplicated);
    },
  });
  new Gauge({
    name: 'cairn_replication_last_success_timestamp_seconds',
    help: 'End of the last replication round that reached every friend it tried (Unix time; 0 none since start)',
    registers: [registry],
    collect() {
      const t = svc.activity?.lastReplicationSuccess?.time;
      this.set(t ? seconds(t) : 0);
    },
  });
  new Counter({
    name: 'cairn_replication_failures_total',
    help: 'Replication rounds that failed or left problems since the agent started',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(svc.activity?.replicationFailures ?? 0);
    },
  });
  new Gauge({
    name: 'cairn_repository_bytes',
    help: 'Bytes of packs in the local repository',
    registers: [registry],
    async collect() {
      this.set((await packUsage(svc.repo.store)).bytes);
    },
  });
  return registry;
}

async function newestBySource(svc: Services) {
  const out = new Map<string, import('../../../protocol/snapshot.js').Snapshot>();
  for (const { snapshot } of await svc.repo.listSnapshots()) out.set(sourceKey(snapshot), snapshot);
  return out;
}
