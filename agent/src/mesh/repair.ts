// Repair (SPEC 13.9), inside the replication round (replicator.ts): which copies count, and which
// go. A friend unreachable for longer than `repair-after` (its last sighting: `lastSeen`, written
// when it connects, when it disconnects and by every round it is connected in) is marked away
// (`awaySince`, written before anything else happens); while marked, none of its copies count, so
// the round copies its packs to other friends. Once reached again, every copy counted there is
// challenged (challenger.ts) and the mark is cleared only when each was judged: copies that pass
// count again, failed ones stay dropped. Copies beyond what a friend grants us now (a grant that
// shrank) and copies a delete request is queued for do not count either, so their packs are copied
// elsewhere; after the pushes, a pack counted at more friends than wanted, and a copy beyond a
// grant whose pack has its copies elsewhere, is released: a signed delete request (pack-delete.ts),
// which the friend honours after its deletion grace.
import { peerIdFromString } from '@libp2p/peer-id';
import type { AuditFriend } from '../../../protocol/api.js';
import { packChargeBytes } from '../../../protocol/mesh.js';
import { errorMessage } from '../util/errors.js';
import { mapLimit } from '../util/semaphore.js';
import type { Challenger } from './challenger.js';
import type { MeshContext } from './context.js';
import type { CopyMap } from './copies-ledger.js';
import { bounded, DIAL_TIMEOUT_MS } from './deadline.js';
import type { Friendship } from './friend-ledger.js';

/** Friends dialled (or proved) at once. */
const FRIEND_CONCURRENCY = 8;

/** When a friend was last known to be there: its last sighting, else when we paired. */
function lastSeenMs(f: Friendship): number {
  const t = Date.parse(f.lastSeen ?? f.createdAt);
  return Number.isFinite(t) ? t : 0;
}

/**
 * Marks friends away that were not seen for longer than `repairAfterMs` and cannot be reached now
 * (one dial each, within DIAL_TIMEOUT_MS); friends connected now get a new sighting. Friends already
 * marked are dialled too, so one that came back is found. Returns the friends as they now stand.
 */
export async function markAway(ctx: MeshContext, friends: readonly Friendship[], repairAfterMs: number, problems: string[]): Promise<Friendship[]> {
  const now = ctx.clock.now();
  await mapLimit([...friends], FRIEND_CONCURRENCY, async (f) => {
    const peer = peerIdFromString(f.peerId);
    let connected = ctx.node.getConnections(peer).length > 0;
    const overdue = f.awaySince !== undefined || now - lastSeenMs(f) > repairAfterMs;
    if (!connected && overdue) {
      try {
        await bounded((signal) => ctx.node.dial(peer, { signal }), { timeoutMs: DIAL_TIMEOUT_MS, what: `dialling ${f.name}` });
        connected = true;
      } catch {
        // not there
      }
    }
    if (connected) {
      await ctx.friends.update(f.peerId, (x) => (x.lastSeen = new Date(now).toISOString()));
    } else if (overdue && f.awaySince === undefined) {
      const msg = `unreachable since ${f.lastSeen ?? f.createdAt}, longer than repair-after: its copies no longer count and are copied to other friends`;
      await ctx.friends.update(f.peerId, (x) => (x.awaySince = new Date(now).toISOString()));
      await ctx.friends.addProblem(f.peerId, msg);
      problems.push(`${f.name} is ${msg}`);
    }
  });
  const byId = new Map((await ctx.friends.list()).map((f) => [f.peerId, f]));
  return friends.flatMap((f) => byId.get(f.peerId) ?? []);
}

/**
 * Friends marked away that we are connected to again: every copy counted there is challenged; the
 * mark goes once each was judged (passed or failed), so a round killed half-way, or a friend gone
 * again, leaves it for the next round. Each friend back gets a line in `back`. Returns each
 * friend's challenge report (the rotation skips them; `cairn audit` shows the reports).
 */
export async function proveReturned(
  ctx: MeshContext,
  challenger: Challenger,
  friends: readonly Friendship[],
  counted: CopyMap,
  problems: string[],
  back: string[],
): Promise<AuditFriend[]> {
  const returned = friends.filter((f) => f.awaySince !== undefined && ctx.node.getConnections(peerIdFromString(f.peerId)).length > 0);
  if (returned.length === 0) return [];
  let reports: AuditFriend[];
  try {
    ({ reports } = await challenger.run(returned, counted, { kind: 'all' }, problems));
  } catch (err) {
    problems.push(`could not challenge the copies of friends back after an absence: ${errorMessage(err)}`);
    return [];
  }
  for (const report of reports) {
    // not every copy judged (unreachable again, or no way to judge one): still away, tried next round
    if (report.unreachable !== null || report.inconclusive > 0) continue;
    await ctx.friends.update(report.peerId, (x) => delete x.awaySince);
    const failed = report.failed.length;
    back.push(`${report.name}: ${report.passed} copies passed a challenge and count again${failed > 0 ? `, ${failed} failed and are copied again` : ''}`);
  }
  return reports;
}

/** Which copies count in a round's pushes, and which are on their way out. */
export interface CountingPlan {
  /** pack ID -> friends whose copy counts (the pushes add to it). */
  byPack: Map<string, Set<string>>;
  /** "<pack ID>!<friend>": copies beyond a friend's grant now, to release once the pack has its copies elsewhere. */
  overGrant: Set<string>;
}

/**
 * The copies that count: not at a friend marked away, not queued for deletion (a release or a
 * prune under way), and not beyond what the friend grants us now (the largest packs there are
 * moved first, until the rest fits).
 */
export async function countingCopies(ctx: Pick<MeshContext, 'deletes'>, friends: readonly Friendship[], counted: CopyMap): Promise<CountingPlan> {
  const away = new Set(friends.filter((f) => f.awaySince !== undefined).map((f) => f.peerId));
  const leaving = new Set<string>();
  for (const [peerId, packs] of await ctx.deletes.outbox()) for (const packId of packs.keys()) leaving.add(`${packId}!${peerId}`);
  const overGrant = new Set<string>();
  for (const f of friends) {
    let excess = (counted.bytesAt.get(f.peerId) ?? 0) - f.grantFromPeer;
    if (excess <= 0 || away.has(f.peerId)) continue;
    const there: Array<[string, number]> = [];
    for (const [packId, holders] of counted.byPack)
      if (holders.has(f.peerId) && !leaving.has(`${packId}!${f.peerId}`)) there.push([packId, counted.sizes.get(packId) ?? 0]);
    there.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    for (const [packId, size] of there) {
      if (excess <= 0) break;
      overGrant.add(`${packId}!${f.peerId}`);
      excess -= packChargeBytes(size);
    }
  }
  const byPack = new Map<string, Set<string>>();
  for (const [packId, holders] of counted.byPack) {
    byPack.set(packId, new Set([...holders].filter((h) => !away.has(h) && !leaving.has(`${packId}!${h}`) && !overGrant.has(`${packId}!${h}`))));
  }
  return { byPack, overGrant };
}

/**
 * After the pushes: copies beyond a grant whose pack has its `wanted` copies elsewhere, and copies
 * of a pack counted at more than `wanted` friends (those at the friends with the least room left
 * go first, room measured once, after the pushes: copies are not shifted back and forth), get a
 * delete request queued; the round sends it. Returns how many were queued.
 */
export async function releaseExtras(
  ctx: Pick<MeshContext, 'deletes' | 'clock'>,
  friends: readonly Friendship[],
  plan: CountingPlan,
  indexed: ReadonlySet<string>,
  counted: CopyMap,
  wanted: number,
): Promise<number> {
  const release = new Map<string, Map<string, number>>();
  const add = (peerId: string, packId: string) => {
    let m = release.get(peerId);
    if (!m) release.set(peerId, (m = new Map()));
    m.set(packId, counted.sizes.get(packId) ?? 0);
  };
  for (const key of plan.overGrant) {
    const [packId, peerId] = key.split('!') as [string, string];
    if ((plan.byPack.get(packId)?.size ?? 0) >= wanted) add(peerId, packId);
  }
  const room = new Map(friends.map((f) => [f.peerId, f.grantFromPeer - (counted.bytesAt.get(f.peerId) ?? 0)]));
  for (const [packId, holders] of plan.byPack) {
    if (!indexed.has(packId) || holders.size <= wanted || wanted === 0) continue;
    const extra = [...holders].sort((a, b) => (room.get(a) ?? 0) - (room.get(b) ?? 0) || a.localeCompare(b)).slice(0, holders.size - wanted);
    for (const peerId of extra) {
      add(peerId, packId);
      holders.delete(peerId);
    }
  }
  let n = 0;
  for (const [peerId, packs] of release) {
    await ctx.deletes.queueDeletesAt(peerId, packs, ctx.clock.now());
    n += packs.size;
  }
  return n;
}
