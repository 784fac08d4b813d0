// The 3-2-1 status of a source (SPEC 13.11): its local copy, its off-site copies against `replicas`
// (which friends hold how many of its newest snapshot's packs), when they were last proved (a
// passed storage challenge or restore drill), one state in words, and the next step in plain words.
// The dashboard, `cairn status`, `cairn peers`, the notifications and /metrics all read it from here.
import type { PeerListing } from '../../../protocol/api.js';
import type { ProtectionState, SourceProtection } from '../../../protocol/console-api.js';
import { formatBytes, plural } from '../../../protocol/format.js';
import { packChargeBytes } from '../../../protocol/mesh.js';
import type { LedgerDeps, MaybeMeshDeps } from './services.js';

/** friend PeerId -> pack ID -> when our copy there was last proved (ms): challenge passes and drills that verified it. */
export type Proofs = Map<string, Map<string, number>>;

export async function loadProofs(svc: LedgerDeps & MaybeMeshDeps, peerIds: string[]): Promise<Proofs> {
  const out: Proofs = new Map();
  if (!svc.mesh) return out;
  const drilled = await svc.ledgers.drills.copies();
  for (const p of peerIds) {
    const m = await svc.mesh.ledgers.challenges.lastPassed(p);
    for (const [packId, c] of drilled.get(p) ?? []) if (c.ok && c.atMs > (m.get(packId) ?? 0)) m.set(packId, c.atMs);
    out.set(p, m);
  }
  return out;
}

export interface ProtectionInput {
  /** The packs of the source's newest snapshot. */
  packs: ReadonlySet<string>;
  local: boolean;
  /** pack ID -> friends whose copy counts. */
  byPack: ReadonlyMap<string, ReadonlySet<string>>;
  peers: readonly PeerListing[];
  proofs: Proofs;
  /** `replicas`: off-site copies wanted of every pack. */
  wanted: number;
  auditPeriodMs: number;
  /** Sizes of the snapshot's packs that lack copies (bytes, from the local store): whether they still fit a friend's grant. */
  packBytes?: ReadonlyMap<string, number>;
  /** When the source's first snapshot was taken (ms): copies never proved are given the audit period from then. */
  firstSnapshotMs: number;
  now: number;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * The rules (SPEC 13.11): "not off-site" when no friend holds any pack of the newest snapshot; "at
 * risk" when a pack has fewer counted copies than `wanted`, or no copy was proved within the audit
 * period (a source younger than the period has until then); else "protected".
 */
export function sourceProtection(i: ProtectionInput): SourceProtection {
  const friends = i.peers.map((p) => {
    let packs = 0;
    let proved: number | null = null;
    const proofs = i.proofs.get(p.peerId);
    for (const id of i.packs) {
      if (!i.byPack.get(id)?.has(p.peerId)) continue;
      packs += 1;
      const t = proofs?.get(id);
      if (t !== undefined && (proved === null || t > proved)) proved = t;
    }
    return { name: p.name, peerId: p.peerId, packs, of: i.packs.size, lastProvedAt: iso(proved), proved };
  });
  let copies = i.packs.size === 0 ? 0 : Infinity;
  let short = 0;
  for (const id of i.packs) {
    const n = i.byPack.get(id)?.size ?? 0;
    copies = Math.min(copies, n);
    if (n < i.wanted) short += 1;
  }
  if (copies === Infinity) copies = 0;
  const provedMs = friends.reduce<number | null>((m, f) => (f.proved !== null && (m === null || f.proved > m) ? f.proved : m), null);
  const offsite = friends.some((f) => f.packs > 0);
  const stale = i.now - Math.max(provedMs ?? 0, i.firstSnapshotMs) > i.auditPeriodMs;
  let state: ProtectionState;
  let reason: string;
  let nextStep: string | null = null;
  if (!offsite && i.packs.size > 0) {
    state = 'not off-site';
    reason = 'no friend holds a copy of its newest snapshot';
  } else if (short > 0) {
    state = 'at risk';
    reason = `${short} of its ${plural(i.packs.size, 'pack')} ${short === 1 ? 'has' : 'have'} fewer than ${plural(i.wanted, 'off-site copy', 'off-site copies')} (the fewest: ${copies})`;
  } else if (stale) {
    state = 'at risk';
    reason = provedMs === null ? 'no copy of it was ever proved by a storage challenge or restore drill' : `no copy of it was proved since ${day(provedMs)}`;
  } else {
    state = 'protected';
    reason = `every pack of its newest snapshot has ${plural(i.wanted, 'off-site copy', 'off-site copies')}${provedMs === null ? '' : `, last proved ${day(provedMs)}`}`;
  }
  if (state !== 'protected') nextStep = nextStepFor(i, friends, short > 0 || !offsite);
  return {
    state,
    local: i.local,
    wantedCopies: i.wanted,
    copies,
    friends: friends.map(({ proved: _, ...f }) => f),
    lastProvedAt: iso(provedMs),
    reason,
    nextStep,
  };
}

/** What the user can do, in plain words: the first cause that applies. */
function nextStepFor(i: ProtectionInput, friends: Array<{ peerId: string; packs: number; of: number }>, missingCopies: boolean): string {
  if (!missingCopies) return 'run "cairn audit" (or "cairn drill") to prove the copies at friends';
  if (i.peers.length === 0) return 'no friend holds a copy: pair with a friend ("cairn invite" here, "cairn pair CODE" there)';
  const lacking = i.peers.filter((p) => (friends.find((f) => f.peerId === p.peerId)?.packs ?? 0) < i.packs.size);
  // full: it said so (over quota), or the smallest pack it lacks no longer fits what is left of its grant
  const fits = (p: PeerListing) => {
    let smallest = Infinity;
    for (const id of i.packs) if (!i.byPack.get(id)?.has(p.peerId)) smallest = Math.min(smallest, packChargeBytes(i.packBytes?.get(id) ?? 0));
    return smallest === Infinity || p.storedAtPeerBytes + smallest <= p.grantFromPeer;
  };
  const full = lacking.find((p) => (p.shortfall !== null && /grant|quota/i.test(p.shortfall)) || !fits(p));
  if (full)
    return `${full.name}'s grant is full (${formatBytes(full.storedAtPeerBytes)} of ${formatBytes(full.grantFromPeer)} used): ask ${full.name} for more space or add a friend`;
  const refusing = lacking.find((p) => p.shortfall !== null);
  if (refusing) return `${refusing.name} refuses our packs (${refusing.shortfall ?? ''}): ask ${refusing.name} to make room or add a friend`;
  if (i.peers.length < i.wanted)
    return `${plural(i.wanted, 'copy', 'copies')} need ${plural(i.wanted, 'friend')} and there ${i.peers.length === 1 ? 'is' : 'are'} ${i.peers.length}: add a friend (or lower replicas)`;
  const offline = lacking.find((p) => !p.online);
  if (offline)
    return `${offline.name} is offline${offline.lastSeen ? ` since ${offline.lastSeen.slice(0, 16).replace('T', ' ')}` : ''}: the copies catch up when it is back; if it stays away, add a friend`;
  return 'replication has not copied every pack yet: "cairn replicate --wait" runs it now';
}
